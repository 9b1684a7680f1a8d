package onchain_test

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/insforge/edge-functions-go/shared/x402/onchain"
	"github.com/insforge/edge-functions-go/shared/x402/onchain/onchaintest"
)

const providerKey = "k3y0fTheRpcPr0vider"

// The provider's key in the URL's path, query or user info reaches the provider
// and no error: a failed call's error text is logged.
func TestDialKeepsTheProviderKeyOutOfErrors(t *testing.T) {
	n := onchaintest.New(t) // a real node: USDG at its own address
	var path, query, user string
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		path, query = r.URL.Path, r.URL.RawQuery
		user, _, _ = r.BasicAuth()
		r2, _ := http.NewRequestWithContext(r.Context(), r.Method, n.URL, r.Body)
		r2.Header = r.Header.Clone()
		res, err := http.DefaultClient.Do(r2)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer res.Body.Close()
		w.Header().Set("Content-Type", res.Header.Get("Content-Type"))
		w.WriteHeader(res.StatusCode)
		_, _ = io.Copy(w, res.Body)
	}))
	defer front.Close()

	keyed := strings.Replace(front.URL, "http://", "http://user:"+providerKey+"@", 1) + "/v2/" + providerKey + "?apikey=" + providerKey
	c, err := onchain.Dial(keyed)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := (onchain.Reader{Caller: c}).BalanceOf(context.Background(), usdg, usdg); err != nil {
		t.Fatal(err)
	}
	if path != "/v2/"+providerKey || query != "apikey="+providerKey || user != "user" {
		t.Fatalf("the provider saw path %q query %q user %q, want the configured URL", path, query, user)
	}

	// Nothing listens there: the call fails in the transport.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := "http://user:" + providerKey + "@" + l.Addr().String() + "/v3/" + providerKey + "?apikey=" + providerKey
	_ = l.Close()
	d, err := onchain.Dial(dead)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err = (onchain.Reader{Caller: d}).BalanceOf(ctx, usdg, usdg)
	if err == nil {
		t.Fatal("a call to a closed port succeeded")
	}
	if strings.Contains(err.Error(), providerKey) {
		t.Fatalf("the error carries the provider key: %v", err)
	}
	if _, err := onchain.Dial("not a url/" + providerKey); err == nil || strings.Contains(err.Error(), providerKey) {
		t.Fatalf("a bad URL: err = %v, want a refusal without the value", err)
	}
}
