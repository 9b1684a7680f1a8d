package tokenedge_test

import (
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/insforge/edge-functions-go/shared/tokenedge"
)

// A refusal takes the status of the httpapi code it names; only a 401 carries the
// challenge and only a 503 a Retry-After, in whole seconds rounded up, never 0.
func TestRefusalAnswersWithTheNamedCodeAndItsHeaders(t *testing.T) {
	cause := errors.New("the cause, for the logs only")
	for _, c := range []struct {
		code   string
		retry  time.Duration
		status int
		www    string
		after  string
	}{
		{"invalid_token", 0, http.StatusUnauthorized, "challenge", ""},
		{"provider_unavailable", 0, http.StatusServiceUnavailable, "", "1"},
		{"provider_unavailable", time.Nanosecond, http.StatusServiceUnavailable, "", "1"},
		{"provider_unavailable", 1200 * time.Millisecond, http.StatusServiceUnavailable, "", "2"},
		{"session_lookup_throttled", 30 * time.Second, http.StatusServiceUnavailable, "", "30"},
		{"invalid_request", 5 * time.Second, http.StatusBadRequest, "", ""},
	} {
		e, ok := tokenedge.Refusal(c.code, "shown", cause, "challenge", c.retry)
		if !ok {
			t.Fatalf("%s: not a declared code", c.code)
		}
		if e.Status() != c.status || e.Code.Name() != c.code || e.Message != "shown" || e.Err != cause {
			t.Fatalf("%s: %+v, want status %d", c.code, e, c.status)
		}
		if got := e.Header.Get("Www-Authenticate"); got != c.www {
			t.Errorf("%s: WWW-Authenticate %q, want %q", c.code, got, c.www)
		}
		if got := e.Header.Get("Retry-After"); got != c.after {
			t.Errorf("%s %v: Retry-After %q, want %q", c.code, c.retry, got, c.after)
		}
	}
	if e, ok := tokenedge.Refusal("no_such_code", "shown", cause, "challenge", 0); ok || e != nil {
		t.Fatalf("an undeclared code was answered: %v", e)
	}
}
