package secretstore_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/insforge/edge-functions-go/shared/secretstore"
	"github.com/insforge/edge-functions-go/shared/secretstore/mototest"
)

// BenchmarkFieldsColdConnection is one cold-start read: a new connection, a
// signed GetSecretValue, the JSON decoded. Against moto it includes moto's own
// (Python) handling; against a canned loopback answer it is the client's cost
// alone (signing, HTTP, JSON).
//
//	go test -run '^$' -bench FieldsColdConnection ./shared/secretstore/
func BenchmarkFieldsColdConnection(b *testing.B) {
	const doc = `{"INSFORGE_JWT_SECRET":"0123456789abcdef0123456789abcdef"}`
	moto := mototest.Start(b)
	arn := moto.CreateSecret(b, "bench/fields", doc)
	canned := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		_, _ = io.WriteString(w, `{"ARN":"`+arn+`","Name":"bench/fields","SecretString":"{\"INSFORGE_JWT_SECRET\":\"0123456789abcdef0123456789abcdef\"}","VersionId":"v1"}`)
	}))
	b.Cleanup(canned.Close)
	for _, tc := range []struct{ name, url string }{{"moto", moto.URL}, {"client-only", canned.URL}} {
		b.Run(tc.name, func(b *testing.B) {
			for k, v := range moto.Env(mototest.AccessKey, mototest.SecretKey) {
				b.Setenv(k, v)
			}
			b.Setenv("AWS_ENDPOINT_URL_SECRETS_MANAGER", tc.url)
			for i := 0; i < b.N; i++ {
				c, err := secretstore.FromEnv() // a new client: a new connection, as at cold start
				if err != nil {
					b.Fatal(err)
				}
				f, err := c.Fields(context.Background(), arn)
				if err != nil || len(f) != 1 {
					b.Fatalf("%v %v", f, err)
				}
				c.HTTP.CloseIdleConnections()
			}
		})
	}
}
