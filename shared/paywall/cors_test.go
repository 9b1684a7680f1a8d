package paywall_test

import (
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/insforge/edge-functions-go/shared/httpapi"
	"github.com/insforge/edge-functions-go/shared/paywall"
)

// The paid retry of @x402/fetch in a browser is preflighted with these request headers
// (it adds Access-Control-Expose-Headers to the request); every one must be allowed.
func TestCORSPreflightAllowsTheX402FetchRetry(t *testing.T) {
	h := httpapi.Chain(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}),
		httpapi.CORS{AllowedOrigins: []string{"https://app.example"}, AllowMethods: []string{"POST"},
			AllowHeaders: paywall.CORSAllowHeaders, ExposeHeaders: paywall.CORSExposeHeaders}.Middleware())
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
