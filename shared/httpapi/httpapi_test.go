package httpapi

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"
)

func decodeError(t *testing.T, body []byte) ErrorBody {
	t.Helper()
	var e ErrorBody
	if err := json.Unmarshal(body, &e); err != nil {
		t.Fatalf("error body is not JSON: %q", body)
	}
	return e
}

func TestWriteErrorMapsTypedErrorsAndHidesInternals(t *testing.T) {
	cases := []struct {
		name       string
		err        error
		wantStatus int
		wantCode   string
		hidden     string
	}{
		{"typed", InvalidToken.New("bad token"), 401, "invalid_token", ""},
		{"wrapped typed", errors.Join(errors.New("ctx"), ProviderUnavailable.Wrap("try later", errors.New("dial tcp 10.0.0.1"))), 503, "provider_unavailable", "10.0.0.1"},
		{"plain error", errors.New("pq: secret connection string"), 500, "internal_error", "secret connection string"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			w := httptest.NewRecorder()
			WriteError(w, httptest.NewRequest("GET", "/", nil), c.err)
			if w.Code != c.wantStatus {
				t.Fatalf("status = %d, want %d", w.Code, c.wantStatus)
			}
			if e := decodeError(t, w.Body.Bytes()); e.Error != c.wantCode || e.Message == "" {
				t.Fatalf("body = %+v", e)
			}
			if c.hidden != "" && strings.Contains(w.Body.String(), c.hidden) {
				t.Fatalf("internal detail leaked: %s", w.Body.String())
			}
			if w.Header().Get("Content-Type") != "application/json" || w.Header().Get("Cache-Control") != "no-store" {
				t.Fatalf("headers = %v", w.Header())
			}
		})
	}
}

func TestErrorIsMatchesOnCode(t *testing.T) {
	err := TokenExpired.Wrap("expired", errors.New("x"))
	if !errors.Is(err, &Error{Code: TokenExpired}) || errors.Is(err, &Error{Code: InvalidToken}) {
		t.Fatal("errors.Is must match on code")
	}
}

func ok() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, err := ReadBody(r)
		if err != nil {
			WriteError(w, r, err)
			return
		}
		w.Write(b)
	})
}

func TestLimits(t *testing.T) {
	h := Chain(ok(), Limits(1024, 100))
	cases := []struct {
		name   string
		req    func() *http.Request
		status int
	}{
		{"small request passes", func() *http.Request { return httptest.NewRequest("POST", "/", strings.NewReader("hi")) }, 200},
		{"1 MB header", func() *http.Request {
			r := httptest.NewRequest("POST", "/", nil)
			r.Header.Set("Authorization", "Bearer "+strings.Repeat("a", 1<<20))
			return r
		}, 413},
		{"declared large body", func() *http.Request {
			return httptest.NewRequest("POST", "/", strings.NewReader(strings.Repeat("a", 101)))
		}, 413},
		{"undeclared large body", func() *http.Request {
			r := httptest.NewRequest("POST", "/", io.NopCloser(strings.NewReader(strings.Repeat("a", 500))))
			r.ContentLength = -1
			return r
		}, 413},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			w := httptest.NewRecorder()
			h.ServeHTTP(w, c.req())
			if w.Code != c.status {
				t.Fatalf("status = %d, want %d (%s)", w.Code, c.status, w.Body.String())
			}
			if c.status == 413 && decodeError(t, w.Body.Bytes()).Error != "request_too_large" {
				t.Fatalf("body = %s", w.Body.String())
			}
		})
	}
}

func TestMethodsAnswers405WithAllow(t *testing.T) {
	h := Chain(ok(), Methods("GET", "POST"))
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest("DELETE", "/", nil))
	if w.Code != 405 || w.Header().Get("Allow") != "GET, POST" || decodeError(t, w.Body.Bytes()).Error != "method_not_allowed" {
		t.Fatalf("got %d %v %s", w.Code, w.Header(), w.Body.String())
	}
}

func TestRecoverHidesPanics(t *testing.T) {
	h := Chain(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic("boom secret") }), Recover())
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest("GET", "/", nil))
	if w.Code != 500 || strings.Contains(w.Body.String(), "boom") || strings.Contains(w.Body.String(), "goroutine") {
		t.Fatalf("got %d %s", w.Code, w.Body.String())
	}
}

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

func TestLambdaAdapterRoundTrip(t *testing.T) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		c, err := r.Cookie("session")
		if err != nil {
			t.Errorf("cookie: %v", err)
			return
		}
		http.SetCookie(w, &http.Cookie{Name: "a", Value: "1"})
		http.SetCookie(w, &http.Cookie{Name: "b", Value: "2"})
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Header().Set("X-Echo", r.Method+" "+r.URL.Path+"?"+r.URL.RawQuery+" "+r.Header.Get("X-Custom")+" "+c.Value+" "+r.RemoteAddr)
		w.WriteHeader(201)
		w.Write(append(body, 0xff))
	})
	ev := events.APIGatewayV2HTTPRequest{
		RawPath:         "/x402/report",
		RawQueryString:  "a=1&b=two",
		Cookies:         []string{"session=abc", "other=z"},
		Headers:         map[string]string{"x-custom": "v", "host": "api.example"},
		Body:            base64.StdEncoding.EncodeToString([]byte{0, 1, 2}),
		IsBase64Encoded: true,
	}
	ev.RequestContext.HTTP.Method = "POST"
	ev.RequestContext.HTTP.SourceIP = "203.0.113.9"
	res := Serve(context.Background(), h, ev)
	if res.StatusCode != 201 {
		t.Fatalf("status %d", res.StatusCode)
	}
	if got := res.Headers["X-Echo"]; got != "POST /x402/report?a=1&b=two v abc 203.0.113.9" {
		t.Fatalf("echo = %q", got)
	}
	if len(res.Cookies) != 2 || res.Cookies[0] != "a=1" {
		t.Fatalf("cookies = %v", res.Cookies)
	}
	body, _ := base64.StdEncoding.DecodeString(res.Body)
	if !res.IsBase64Encoded || !bytes.Equal(body, []byte{0, 1, 2, 0xff}) {
		t.Fatalf("body = %q base64=%v", res.Body, res.IsBase64Encoded)
	}
}

func TestLambdaAdapterBadBase64Is400(t *testing.T) {
	ev := events.APIGatewayV2HTTPRequest{RawPath: "/", Body: "%%%", IsBase64Encoded: true}
	ev.RequestContext.HTTP.Method = "POST"
	res := Serve(context.Background(), ok(), ev)
	if res.StatusCode != 400 || res.IsBase64Encoded || !strings.Contains(res.Body, "invalid_request") {
		t.Fatalf("got %+v", res)
	}
}

func TestRequestIDIsLoggedAndEchoed(t *testing.T) {
	var buf bytes.Buffer
	base := slog.New(slog.NewJSONHandler(&buf, nil))
	h := Chain(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		Logger(r.Context()).Info("hello")
	}), RequestID(base))
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest("GET", "/", nil))
	id := w.Header().Get("X-Request-Id")
	var line map[string]any
	if err := json.Unmarshal(buf.Bytes(), &line); err != nil {
		t.Fatal(err)
	}
	if id == "" || line["request_id"] != id || line["level"] != "INFO" {
		t.Fatalf("id %q, log %v", id, line)
	}
}
