package x402gateway

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/insforge/edge-functions-go/shared/config"
)

const testReceiptKey = "0123456789abcdef0123456789abcdef-receipt"

func validEnv(t *testing.T) {
	t.Helper()
	for k, v := range map[string]string{
		"PAYMENT_RECIPIENT":         "0x209693Bc6afc0C5328bA36FaF03C514EF312287C",
		"INSFORGE_BASE_URL":         "http://127.0.0.1:1",
		"INSFORGE_SERVICE_KEY":      "ik_test",
		"ENVIRONMENT":               "development",
		"MOCK_OKX_FACILITATOR":      "true",
		VarUpstreamURL:              "https://api.example.com/v1/",
		VarRoutes:                   `[{"method":"GET","path":"/search","price":"1000","description":"Search"}]`,
		VarReceiptKey:               testReceiptKey,
		VarUpstreamAuth:             "Bearer upstream-secret-value",
		VarUpstreamAuthHeader:       "",
		VarUpstreamTimeout:          "",
		VarMaxResponseBytes:         "",
		VarSettleReserve:            "",
		"X402_GATEWAY_UNUSED_PROBE": "",
	} {
		t.Setenv(k, v)
	}
}

func TestConfigLoadsDefaultsAndNormalisesRoutes(t *testing.T) {
	validEnv(t)
	var c Config
	if err := config.Load(c.Specs()...); err != nil {
		t.Fatal(err)
	}
	if c.UpstreamAuthHeader != "Authorization" || c.UpstreamTimeout.String() != "10s" || c.MaxResponseBytes != 1<<20 {
		t.Fatalf("defaults %+v", c)
	}
	routes, err := ParseRoutes(c.Routes)
	if err != nil {
		t.Fatal(err)
	}
	r := routes[0]
	if r.MimeType != "application/json" || r.MaxRequestBytes != DefaultMaxRequestBytes || r.Key() != "GET /pay/search" || r.ForwardAuthorization ||
		r.ForwardHeaders != nil || r.ResponseHeaders != nil {
		t.Fatalf("route %+v", r)
	}
	// Header lists are canonicalised; names already forwarded by default and
	// repeats are dropped.
	routes, err = ParseRoutes(`[{"method":"POST","path":"/a","price":"1","description":"d",
		"forwardHeaders":["idempotency-key"," X-Client-Version ","Accept","IDEMPOTENCY-KEY"],
		"responseHeaders":["x-total-count","ETag"]}]`)
	if err != nil {
		t.Fatal(err)
	}
	if r := routes[0]; !slices.Equal(r.ForwardHeaders, []string{"Idempotency-Key", "X-Client-Version"}) ||
		!slices.Equal(r.ResponseHeaders, []string{"X-Total-Count"}) {
		t.Fatalf("header lists %q %q", r.ForwardHeaders, r.ResponseHeaders)
	}
	base, err := upstreamBase(c.UpstreamURL)
	if err != nil || base.String() != "https://api.example.com/v1" {
		t.Fatalf("base %v %v", base, err)
	}
}

// Every bad value fails the cold start naming its variable and never quoting a
// secret.
func TestConfigRefusesBadValuesNamingTheVariable(t *testing.T) {
	cases := []struct {
		name, want string
		env        map[string]string
	}{
		{"plain http upstream", VarUpstreamURL, map[string]string{VarUpstreamURL: "http://api.example.com"}},
		{"upstream with credentials", VarUpstreamURL, map[string]string{VarUpstreamURL: "https://u:p@api.example.com"}},
		{"upstream with query", VarUpstreamURL, map[string]string{VarUpstreamURL: "https://api.example.com/?k=v"}},
		{"missing upstream", VarUpstreamURL, map[string]string{VarUpstreamURL: ""}},
		{"missing routes", VarRoutes, map[string]string{VarRoutes: ""}},
		{"routes not json", VarRoutes, map[string]string{VarRoutes: "GET /search 1000"}},
		{"routes object", VarRoutes, map[string]string{VarRoutes: `{"method":"GET"}`}},
		{"empty table", VarRoutes, map[string]string{VarRoutes: `[]`}},
		{"unknown field", VarRoutes, map[string]string{VarRoutes: `[{"method":"GET","path":"/a","price":"1","description":"d","forwardAuthorisation":true}]`}},
		{"bad method", VarRoutes, map[string]string{VarRoutes: `[{"method":"TRACE","path":"/a","price":"1","description":"d"}]`}},
		{"zero price", VarRoutes, map[string]string{VarRoutes: `[{"method":"GET","path":"/a","price":"0","description":"d"}]`}},
		{"decimal price", VarRoutes, map[string]string{VarRoutes: `[{"method":"GET","path":"/a","price":"0.01","description":"d"}]`}},
		{"price as number", VarRoutes, map[string]string{VarRoutes: `[{"method":"GET","path":"/a","price":1,"description":"d"}]`}},
		{"no description", VarRoutes, map[string]string{VarRoutes: `[{"method":"GET","path":"/a","price":"1"}]`}},
		{"relative path", VarRoutes, map[string]string{VarRoutes: `[{"method":"GET","path":"a","price":"1","description":"d"}]`}},
		{"dot segment", VarRoutes, map[string]string{VarRoutes: `[{"method":"GET","path":"/a/../b","price":"1","description":"d"}]`}},
		{"path parameter", VarRoutes, map[string]string{VarRoutes: `[{"method":"GET","path":"/a;b","price":"1","description":"d"}]`}},
		{"backslash", VarRoutes, map[string]string{VarRoutes: `[{"method":"GET","path":"/a\\b","price":"1","description":"d"}]`}},
		{"trailing slash", VarRoutes, map[string]string{VarRoutes: `[{"method":"GET","path":"/a/","price":"1","description":"d"}]`}},
		{"exact-match marker", VarRoutes, map[string]string{VarRoutes: `[{"method":"GET","path":"/a/{$}","price":"1","description":"d"}]`}},
		{"bad wildcard", VarRoutes, map[string]string{VarRoutes: `[{"method":"GET","path":"/a/{x...}/b","price":"1","description":"d"}]`}},
		{"bad mime", VarRoutes, map[string]string{VarRoutes: `[{"method":"GET","path":"/a","price":"1","description":"d","mimeType":"json"}]`}},
		{"body cap too big", VarRoutes, map[string]string{VarRoutes: `[{"method":"POST","path":"/a","price":"1","description":"d","maxRequestBytes":99999999}]`}},
		{"duplicate route", VarRoutes, map[string]string{VarRoutes: `[{"method":"GET","path":"/a/{id}","price":"1","description":"d"},{"method":"GET","path":"/a/{name}","price":"2","description":"e"}]`}},
		{"ambiguous routes", VarRoutes, map[string]string{VarRoutes: `[{"method":"GET","path":"/a/{x}","price":"1","description":"d"},{"method":"GET","path":"/{y}/b","price":"2","description":"e"}]`}},
		{"forwarded authorization collides with the credential", VarRoutes, map[string]string{VarRoutes: `[{"method":"GET","path":"/a","price":"1","description":"d","forwardAuthorization":true}]`}},
		{"forwarded header rewrites the method", VarRoutes, map[string]string{VarRoutes: `[{"method":"POST","path":"/a","price":"1","description":"d","forwardHeaders":["X-HTTP-Method-Override"]}]`}},
		{"forwarded header rewrites the URL", VarRoutes, map[string]string{VarRoutes: `[{"method":"GET","path":"/a","price":"1","description":"d","forwardHeaders":["x-original-url"]}]`}},
		{"forwarded header is forwarding information", VarRoutes, map[string]string{VarRoutes: `[{"method":"GET","path":"/a","price":"1","description":"d","forwardHeaders":["X-Forwarded-Prefix"]}]`}},
		{"forwarded header is a client address", VarRoutes, map[string]string{VarRoutes: `[{"method":"GET","path":"/a","price":"1","description":"d","forwardHeaders":["True-Client-IP"]}]`}},
		{"forwarded header is the cookie", VarRoutes, map[string]string{VarRoutes: `[{"method":"GET","path":"/a","price":"1","description":"d","forwardHeaders":["Cookie"]}]`}},
		{"forwarded header is authorization", VarRoutes, map[string]string{VarRoutes: `[{"method":"GET","path":"/a","price":"1","description":"d","forwardHeaders":["Authorization"]}]`}},
		{"forwarded header is a payment", VarRoutes, map[string]string{VarRoutes: `[{"method":"GET","path":"/a","price":"1","description":"d","forwardHeaders":["Payment-Signature"]}]`}},
		{"forwarded header is not a name", VarRoutes, map[string]string{VarRoutes: `[{"method":"GET","path":"/a","price":"1","description":"d","forwardHeaders":["X Bad"]}]`}},
		{"forwarded header is the credential header", VarRoutes, map[string]string{VarUpstreamAuthHeader: "X-Api-Key",
			VarRoutes: `[{"method":"GET","path":"/a","price":"1","description":"d","forwardHeaders":["x-api-key"]}]`}},
		{"too many forwarded headers", VarRoutes, map[string]string{VarRoutes: `[{"method":"GET","path":"/a","price":"1","description":"d","forwardHeaders":["A1","A2","A3","A4","A5","A6","A7","A8","A9","A10","A11","A12","A13","A14","A15","A16","A17","A18","A19","A20","A21"]}]`}},
		{"relayed header sets a cookie", VarRoutes, map[string]string{VarRoutes: `[{"method":"GET","path":"/a","price":"1","description":"d","responseHeaders":["Set-Cookie"]}]`}},
		{"relayed header is CORS", VarRoutes, map[string]string{VarRoutes: `[{"method":"GET","path":"/a","price":"1","description":"d","responseHeaders":["Access-Control-Allow-Origin"]}]`}},
		{"relayed header is the credential header", VarRoutes, map[string]string{VarUpstreamAuthHeader: "X-Api-Key",
			VarRoutes: `[{"method":"GET","path":"/a","price":"1","description":"d","responseHeaders":["X-Api-Key"]}]`}},
		{"credential header forwarded from callers", VarUpstreamAuthHeader, map[string]string{VarUpstreamAuthHeader: "Accept"}},
		{"credential header managed by the gateway", VarUpstreamAuthHeader, map[string]string{VarUpstreamAuthHeader: "X-Payment-Receipt"}},
		{"credential header not a token", VarUpstreamAuthHeader, map[string]string{VarUpstreamAuthHeader: "X Api Key"}},
		{"credential with a newline", VarUpstreamAuth, map[string]string{VarUpstreamAuth: "Bearer a\r\nX-Evil: 1"}},
		{"short receipt key", VarReceiptKey, map[string]string{VarReceiptKey: "short-secret-value"}},
		{"missing receipt key", VarReceiptKey, map[string]string{VarReceiptKey: ""}},
		{"timeout too long", VarUpstreamTimeout, map[string]string{VarUpstreamTimeout: "1m"}},
		{"reserve too short", VarSettleReserve, map[string]string{VarSettleReserve: "10ms"}},
		{"response cap too big", VarMaxResponseBytes, map[string]string{VarMaxResponseBytes: "99999999"}},
		{"paywall setting", "PAYMENT_RECIPIENT", map[string]string{"PAYMENT_RECIPIENT": "0x1234"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			validEnv(t)
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			var c Config
			err := config.Load(c.Specs()...)
			if err == nil || !names(err, tc.want) {
				t.Fatalf("err = %v, want one naming %s", err, tc.want)
			}
			for _, secret := range []string{"upstream-secret-value", testReceiptKey, "short-secret-value"} {
				if strings.Contains(err.Error(), secret) {
					t.Fatalf("error quotes a secret: %v", err)
				}
			}
		})
	}
}

// names reports whether err holds a *config.VarError for v; variables the gateway
// does not own (the paywall's, the ledger's) are named in their message.
func names(err error, v string) bool {
	var ce *config.VarError
	if errors.As(err, &ce) && ce.Var == v {
		return true
	}
	switch u := err.(type) {
	case interface{ Unwrap() []error }:
		for _, e := range u.Unwrap() {
			if names(e, v) {
				return true
			}
		}
		return false
	case interface{ Unwrap() error }:
		if inner := u.Unwrap(); inner != nil {
			return names(inner, v)
		}
	}
	return !strings.HasPrefix(v, "X402_GATEWAY_") && strings.Contains(err.Error(), v)
}

func TestSpecificRoutesWinAndConflictsAreRefused(t *testing.T) {
	routes, err := ParseRoutes(`[
		{"method":"GET","path":"/items/{id}","price":"2","description":"one item"},
		{"method":"GET","path":"/items/featured","price":"5","description":"featured"},
		{"method":"GET","path":"/files/{rest...}","price":"7","description":"files"},
		{"method":"POST","path":"/items/{id}","price":"3","description":"update"}
	]`)
	if err != nil || len(routes) != 4 {
		t.Fatalf("routes %v err %v", routes, err)
	}
	if routes[3].Key() != "POST /pay/items/{id}" {
		t.Fatalf("key %q", routes[3].Key())
	}
}

// A route for the upstream's root is that path only, never ServeMux's catch-all.
func TestRootRouteMatchesOnlyTheRoot(t *testing.T) {
	routes, err := ParseRoutes(`[{"method":"GET","path":"/","price":"1","description":"root"}]`)
	if err != nil {
		t.Fatal(err)
	}
	d := &dispatcher{mux: http.NewServeMux()}
	if err := register(d.mux, routes[0], &routeHandler{route: routes[0], h: http.NotFoundHandler()}); err != nil {
		t.Fatal(err)
	}
	for target, want := range map[string]bool{"/pay/": true, "/pay/other": false, "/pay/a/b": false, "/pay": false} {
		rh, err := d.find(httptest.NewRequest(http.MethodGet, target, nil))
		if got := rh != nil; got != want || err != nil {
			t.Errorf("%s: matched %v, want %v", target, got, want)
		}
	}
}
