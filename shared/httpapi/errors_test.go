package httpapi

import (
	"encoding/json"
	"errors"
	"net/http/httptest"
	"strings"
	"testing"
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
