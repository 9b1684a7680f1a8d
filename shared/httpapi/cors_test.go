package httpapi

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestCORS(t *testing.T) {
	exact := CORS{AllowedOrigins: []string{"https://app.example"}, AllowMethods: []string{"GET", "POST"}}.Middleware()
	wild := CORS{AllowedOrigins: []string{"*"}, AllowMethods: []string{"POST"}}.Middleware()
	withNull := CORS{AllowedOrigins: []string{"https://app.example", "null"}, AllowMethods: []string{"POST"}}.Middleware()
	type want struct {
		status      int
		allowOrigin string
		credentials string
		handlerRan  bool
	}
	cases := []struct {
		name   string
		mw     Middleware
		method string
		origin string
		acrm   string
		want   want
	}{
		{"no origin passes untouched", exact, "POST", "", "", want{200, "", "", true}},
		{"allowed origin echoed with credentials", exact, "POST", "https://app.example", "", want{200, "https://app.example", "true", true}},
		{"disallowed origin refused before handler", exact, "POST", "https://evil.example", "", want{403, "", "", false}},
		{"origin differing in scheme refused", exact, "POST", "http://app.example", "", want{403, "", "", false}},
		{"preflight allowed", exact, "OPTIONS", "https://app.example", "POST", want{204, "https://app.example", "true", false}},
		{"preflight disallowed", exact, "OPTIONS", "https://evil.example", "POST", want{403, "", "", false}},
		{"wildcard never sends credentials", wild, "POST", "https://any.example", "", want{200, "*", "", true}},
		{"wildcard preflight", wild, "OPTIONS", "https://any.example", "POST", want{204, "*", "", false}},
		{"plain OPTIONS reaches the handler", exact, "OPTIONS", "", "", want{200, "", "", true}},
		{"origin null refused even when listed", withNull, "POST", "null", "", want{403, "", "", false}},
		{"origin null under the wildcard gets no credentials", wild, "POST", "null", "", want{200, "*", "", true}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ran := false
			h := Chain(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { ran = true }), c.mw)
			r := httptest.NewRequest(c.method, "/", nil)
			if c.origin != "" {
				r.Header.Set("Origin", c.origin)
			}
			if c.acrm != "" {
				r.Header.Set("Access-Control-Request-Method", c.acrm)
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			got := want{w.Code, w.Header().Get("Access-Control-Allow-Origin"), w.Header().Get("Access-Control-Allow-Credentials"), ran}
			if got != c.want {
				t.Fatalf("got %+v, want %+v", got, c.want)
			}
			if !strings.Contains(strings.Join(w.Header().Values("Vary"), ","), "Origin") {
				t.Fatalf("missing Vary: Origin: %v", w.Header())
			}
		})
	}
}

// Without lists of its own a CORS answer uses the generic defaults; with them,
// exactly what was passed (the x402 endpoints pass the payment headers).
func TestCORSHeaderListsDefaultOrAsGiven(t *testing.T) {
	answer := func(c CORS, method string) http.Header {
		c.AllowedOrigins, c.AllowMethods = []string{"https://app.example"}, []string{"POST"}
		h := Chain(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}), c.Middleware())
		r := httptest.NewRequest(method, "/", nil)
		r.Header.Set("Origin", "https://app.example")
		if method == http.MethodOptions {
			r.Header.Set("Access-Control-Request-Method", "POST")
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w.Header()
	}
	if got := answer(CORS{}, http.MethodOptions).Get("Access-Control-Allow-Headers"); got != "Authorization, Content-Type, X-Request-Id" {
		t.Fatalf("default allow = %q", got)
	}
	if got := answer(CORS{}, http.MethodPost).Get("Access-Control-Expose-Headers"); got != "X-Request-Id, Retry-After" {
		t.Fatalf("default expose = %q", got)
	}
	own := CORS{AllowHeaders: []string{"A", "B"}, ExposeHeaders: []string{"C"}}
	if got := answer(own, http.MethodOptions).Get("Access-Control-Allow-Headers"); got != "A, B" {
		t.Fatalf("allow = %q", got)
	}
	if got := answer(own, http.MethodPost).Get("Access-Control-Expose-Headers"); got != "C" {
		t.Fatalf("expose = %q", got)
	}
}
