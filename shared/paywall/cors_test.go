package paywall_test

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/insforge/edge-functions-go/shared/paywall"
)

// The paid retry of @x402/fetch in a browser is preflighted with these request headers
// (it adds Access-Control-Expose-Headers to the request); every one must be allowed.
func TestCORSPreflightAllowsTheX402FetchRetry(t *testing.T) {
	h := paywall.PostCORS([]string{"https://app.example"}).Middleware()(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	r := httptest.NewRequest(http.MethodOptions, "/x402/report", nil)
	r.Header.Set("Origin", "https://app.example")
	r.Header.Set("Access-Control-Request-Method", "POST")
	r.Header.Set("Access-Control-Request-Headers", "access-control-expose-headers,payment-signature")
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	allowed := strings.ToLower(w.Header().Get("Access-Control-Allow-Headers"))
	for _, want := range []string{"access-control-expose-headers", "payment-signature"} {
		if !slices.Contains(strings.Split(strings.ReplaceAll(allowed, " ", ""), ","), want) {
			t.Fatalf("preflight allows %q, missing %q", allowed, want)
		}
	}
}

// The lists are exactly the ones the paid endpoints answered before they moved
// out of httpapi: a browser client's preflight and header reads are unchanged.
func TestCORSHeaderListsAreTheX402Ones(t *testing.T) {
	if got := strings.Join(paywall.CORSAllowHeaders, ", "); got != "Authorization, Content-Type, PAYMENT-SIGNATURE, X-PAYMENT, X-Request-Id, Access-Control-Expose-Headers" {
		t.Fatalf("allow = %q", got)
	}
	if got := strings.Join(paywall.CORSExposeHeaders, ", "); got != "PAYMENT-REQUIRED, PAYMENT-RESPONSE, X-PAYMENT-RESPONSE, X-Request-Id, Retry-After" {
		t.Fatalf("expose = %q", got)
	}
}

// Edge answers what never reaches the endpoint: a panic is a JSON 500 with the
// request id, another method a 405, a body over the cap a 413; a preflight
// from an allowed origin is answered with the payment headers.
func TestEdgeGuardsAPaidEndpoint(t *testing.T) {
	endpoint := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/panic" {
			panic("boom")
		}
		w.WriteHeader(http.StatusNoContent)
	})
	h := paywall.Edge(endpoint, slog.New(slog.DiscardHandler), paywall.PostCORS([]string{"https://app.example"}), 8, http.MethodPost)
	for _, tc := range []struct {
		name, method, path, body string
		header                   map[string]string
		status                   int
		check                    func(http.Header) bool
	}{
		{name: "served", method: http.MethodPost, path: "/x", status: http.StatusNoContent,
			check: func(h http.Header) bool { return h.Get("X-Request-Id") != "" }},
		{name: "panic", method: http.MethodPost, path: "/panic", status: http.StatusInternalServerError,
			check: func(h http.Header) bool { return h.Get("Content-Type") == "application/json" }},
		{name: "other method", method: http.MethodGet, path: "/x", status: http.StatusMethodNotAllowed,
			check: func(h http.Header) bool { return h.Get("Allow") == http.MethodPost }},
		{name: "body over the cap", method: http.MethodPost, path: "/x", body: "123456789", status: http.StatusRequestEntityTooLarge},
		{name: "preflight", method: http.MethodOptions, path: "/x", status: http.StatusNoContent,
			header: map[string]string{"Origin": "https://app.example", "Access-Control-Request-Method": "POST"},
			check: func(h http.Header) bool {
				return strings.Contains(h.Get("Access-Control-Allow-Headers"), "PAYMENT-SIGNATURE")
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(tc.method, tc.path, strings.NewReader(tc.body))
			for k, v := range tc.header {
				r.Header.Set(k, v)
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code != tc.status || (tc.check != nil && !tc.check(w.Header())) {
				t.Fatalf("status %d (want %d), headers %v, body %s", w.Code, tc.status, w.Header(), w.Body)
			}
		})
	}
}
