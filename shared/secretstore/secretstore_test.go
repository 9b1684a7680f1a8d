package secretstore_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/insforge/edge-functions-go/shared/secretstore"
	"github.com/insforge/edge-functions-go/shared/secretstore/mototest"
)

func client(t *testing.T, env map[string]string) *secretstore.Client {
	t.Helper()
	for k, v := range env {
		t.Setenv(k, v)
	}
	c, err := secretstore.FromEnv()
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestFieldsAgainstMoto(t *testing.T) {
	moto := mototest.Start(t)
	const value = "0123456789abcdef0123456789abcdef-sensitive"
	good := moto.CreateSecret(t, "fn/good", `{"INSFORGE_JWT_SECRET":"`+value+`","OKX_API_KEY":"k"}`)
	notJSON := moto.CreateSecret(t, "fn/not-json", value)
	notObject := moto.CreateSecret(t, "fn/array", `["`+value+`"]`)
	notString := moto.CreateSecret(t, "fn/number", `{"INSFORGE_JWT_SECRET":{"v":"`+value+`"}}`)
	c := client(t, moto.Env(mototest.AccessKey, mototest.SecretKey))

	got, err := c.Fields(context.Background(), good)
	if err != nil {
		t.Fatal(err)
	}
	if got["INSFORGE_JWT_SECRET"] != value || got["OKX_API_KEY"] != "k" || len(got) != 2 {
		t.Fatalf("fields = %d keys", len(got))
	}

	cases := []struct {
		name, id string
		reason   secretstore.Reason
	}{
		{"missing secret", "arn:aws:secretsmanager:us-east-1:123456789012:secret:fn/absent-AbCdEf", secretstore.NotFound},
		{"value is not JSON", notJSON, secretstore.Malformed},
		{"value is not an object", notObject, secretstore.Malformed},
		{"field is not a string", notString, secretstore.Malformed},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := c.Fields(context.Background(), tc.id)
			var se *secretstore.Error
			if !errors.As(err, &se) || se.Reason != tc.reason {
				t.Fatalf("err = %v, want reason %q", err, tc.reason)
			}
			if !strings.Contains(err.Error(), tc.id) {
				t.Errorf("error does not name the secret: %v", err)
			}
			if strings.Contains(err.Error(), value) {
				t.Errorf("error leaks the value: %v", err)
			}
		})
	}
}

// With moto's IAM enforcement on, a signature it verifies and a policy it evaluates
// decide: the allowed user reads, the user without the permission is denied.
func TestAccessDeniedAgainstMoto(t *testing.T) {
	moto := mototest.Start(t)
	arn := moto.CreateSecret(t, "fn/scoped", `{"STYTCH_SECRET":"secret-value-xyz"}`)
	allowedKey, allowedSecret := moto.User(t, "reader",
		`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"secretsmanager:GetSecretValue","Resource":"*"}]}`)
	deniedKey, deniedSecret := moto.User(t, "other",
		`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"secretsmanager:DescribeSecret","Resource":"*"}]}`)
	moto.EnforceAuth(t)

	if _, err := client(t, moto.Env(allowedKey, allowedSecret)).Fields(context.Background(), arn); err != nil {
		t.Fatalf("allowed user: %v", err)
	}
	_, err := client(t, moto.Env(deniedKey, deniedSecret)).Fields(context.Background(), arn)
	var se *secretstore.Error
	if !errors.As(err, &se) || se.Reason != secretstore.AccessDenied || !strings.Contains(err.Error(), arn) {
		t.Fatalf("denied user: err = %v", err)
	}
	_, err = client(t, moto.Env(allowedKey, "wrong-secret-key")).Fields(context.Background(), arn)
	if !errors.As(err, &se) || se.Reason != secretstore.AccessDenied {
		t.Fatalf("bad signature: err = %v", err)
	}
	if strings.Contains(err.Error(), "secret-value-xyz") {
		t.Fatalf("error leaks the value: %v", err)
	}
}

func TestFromEnvRefusesPlainHTTPOutsideLoopback(t *testing.T) {
	cases := []struct {
		endpoint string
		ok       bool
	}{
		{"", true},
		{"http://127.0.0.1:5000", true},
		{"https://secretsmanager.example.com", true},
		{"http://secretsmanager.example.com", false},
		{"not a url", false},
	}
	for _, c := range cases {
		t.Run(c.endpoint, func(t *testing.T) {
			t.Setenv("AWS_REGION", "eu-west-1")
			t.Setenv("AWS_ACCESS_KEY_ID", "AKIA")
			t.Setenv("AWS_SECRET_ACCESS_KEY", "s")
			t.Setenv("AWS_ENDPOINT_URL", "")
			t.Setenv("AWS_ENDPOINT_URL_SECRETS_MANAGER", c.endpoint)
			cl, err := secretstore.FromEnv()
			if (err == nil) != c.ok {
				t.Fatalf("err = %v, want ok=%v", err, c.ok)
			}
			if c.endpoint == "" && cl.Endpoint != "https://secretsmanager.eu-west-1.amazonaws.com" {
				t.Fatalf("default endpoint = %s", cl.Endpoint)
			}
		})
	}
}

func TestFromEnvNamesMissingCredentials(t *testing.T) {
	t.Setenv("AWS_REGION", "eu-west-1")
	t.Setenv("AWS_ACCESS_KEY_ID", "")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "")
	if _, err := secretstore.FromEnv(); err == nil || !strings.Contains(err.Error(), "AWS_ACCESS_KEY_ID") {
		t.Fatalf("err = %v", err)
	}
}

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
