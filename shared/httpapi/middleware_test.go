package httpapi

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

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
