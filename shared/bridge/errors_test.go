package bridge

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/insforge/edge-functions-go/shared/httpapi"
	"github.com/insforge/edge-functions-go/shared/identity"
)

// writeMapped writes err the way the bridge's handler does and returns the response.
func writeMapped(t *testing.T, err error) *httptest.ResponseRecorder {
	t.Helper()
	r := httptest.NewRequest(http.MethodPost, "/", nil)
	r = r.WithContext(httpapi.WithLogger(r.Context(), slog.New(slog.DiscardHandler)))
	w := httptest.NewRecorder()
	httpapi.WriteError(w, r, httpError(err))
	return w
}

// Every kind maps to the exact status, code and headers clients have always seen;
// the message is the identity error's, the cause stays in the logs.
func TestEveryIdentityKindMapsToItsHTTPAnswer(t *testing.T) {
	cause := errors.New("the cause, for the logs only")
	want := map[identity.Kind]struct {
		status  int
		code    string
		www     string // WWW-Authenticate, "" = absent
		retry   string // Retry-After, "" = absent
		errored *identity.Error
	}{
		identity.KindInvalid: {401, "invalid_token", `Bearer error="invalid_token"`, "",
			identity.Invalid("the token is bad", cause)},
		identity.KindExpired: {401, "token_expired", `Bearer error="invalid_token", error_description="expired"`, "",
			identity.Expired("WorkOS", cause)},
		identity.KindNotUserSession: {401, "not_user_session", `Bearer error="invalid_token"`, "",
			identity.NotUserSession("a machine token", cause)},
		identity.KindImpersonation: {401, "impersonation_refused", `Bearer error="invalid_token"`, "",
			identity.ImpersonationRefused("Clerk", "CLERK_ALLOW_IMPERSONATION")},
		identity.KindUnavailable: {503, "provider_unavailable", "", "5",
			identity.Unavailable("Stytch", cause)},
		identity.KindThrottled: {503, "session_lookup_throttled", "", "1",
			identity.Throttled("Better Auth")},
		identity.KindMisconfigured: {500, "bridge_misconfigured", "", "",
			identity.Misconfigured("the OIDC bridge is misconfigured", cause)},
	}
	for _, k := range identity.Kinds {
		t.Run(k.Code(), func(t *testing.T) {
			c, ok := want[k]
			if !ok {
				t.Fatalf("kind %v has no expected HTTP answer in this table", k)
			}
			if c.errored.Kind != k || k.Code() != c.code {
				t.Fatalf("constructor gives kind %v (code %q), want %v (%q)", c.errored.Kind, k.Code(), k, c.code)
			}
			var he *httpapi.Error
			if !errors.As(httpError(c.errored), &he) {
				t.Fatalf("httpError(%v) is not an *httpapi.Error", c.errored)
			}
			if he.Status() != c.status || he.Code.Name() != c.code || he.Message != c.errored.Message || he.Err != c.errored.Err {
				t.Fatalf("mapped to %+v, want status %d code %q message %q cause %v", he, c.status, c.code, c.errored.Message, c.errored.Err)
			}
			if listed, ok := httpapi.Codes()[c.code]; !ok || listed != he.Code {
				t.Fatalf("httpapi.Codes()[%q] = %v, want the mapped code %v", c.code, listed, he.Code)
			}
			w := writeMapped(t, c.errored)
			if w.Code != c.status {
				t.Fatalf("status %d, want %d", w.Code, c.status)
			}
			if got := w.Header().Values("Www-Authenticate"); fmt.Sprint(got) != fmt.Sprint(nonEmpty(c.www)) {
				t.Fatalf("WWW-Authenticate %q, want %q", got, nonEmpty(c.www))
			}
			if got := w.Header().Values("Retry-After"); fmt.Sprint(got) != fmt.Sprint(nonEmpty(c.retry)) {
				t.Fatalf("Retry-After %q, want %q", got, nonEmpty(c.retry))
			}
			if cc := w.Header().Get("Cache-Control"); cc != "no-store" {
				t.Fatalf("Cache-Control %q, want no-store", cc)
			}
			wantBody := fmt.Sprintf(`{"error":%q,"message":%q}`, c.code, c.errored.Message)
			if w.Body.String() != wantBody {
				t.Fatalf("body %s, want %s", w.Body, wantBody)
			}
		})
	}
	if len(want) != len(identity.Kinds) {
		t.Fatalf("the table has %d kinds, identity.Kinds %d", len(want), len(identity.Kinds))
	}
}

func nonEmpty(s string) []string {
	if s == "" {
		return nil
	}
	return []string{s}
}

// Retry-After is whole seconds rounded up, never 0: the unknown-kid cooldown
// passes its own hint, and a sub-second one must not invite an immediate retry.
func TestRetryAfterRoundsUpToWholeSeconds(t *testing.T) {
	for _, c := range []struct {
		d    time.Duration
		want string
	}{{0, "1"}, {time.Nanosecond, "1"}, {time.Second, "1"}, {1200 * time.Millisecond, "2"},
		{5 * time.Second, "5"}, {30 * time.Second, "30"}} {
		e := identity.Unavailable("WorkOS (signing keys)", nil)
		e.RetryAfter = c.d
		if got := writeMapped(t, e).Header().Get("Retry-After"); got != c.want {
			t.Errorf("RetryAfter %v → Retry-After %q, want %q", c.d, got, c.want)
		}
	}
}

// Errors that are not identity errors keep their own answer: nil stays nil, the
// bridge's own *httpapi.Error is untouched, and a wrapped identity error is still
// found. An unknown kind is a programming error and answers 500 internal_error.
func TestNonIdentityErrorsPassThrough(t *testing.T) {
	if httpError(nil) != nil {
		t.Fatal("nil mapped to an error")
	}
	own := missing("send a credential")
	if got := httpError(own); got != own {
		t.Fatalf("the bridge's own error changed: %v", got)
	}
	wrapped := fmt.Errorf("exchange: %w", identity.Throttled("Stytch"))
	var he *httpapi.Error
	if !errors.As(httpError(wrapped), &he) || he.Status() != 503 || he.Code != httpapi.SessionLookupThrottled {
		t.Fatalf("wrapped identity error mapped to %v", httpError(wrapped))
	}
	w := writeMapped(t, &identity.Error{Kind: identity.Kind("no_such_kind"), Message: "secret detail"})
	if w.Code != 500 || w.Body.String() != `{"error":"internal_error","message":"the server could not complete the request"}` {
		t.Fatalf("unknown kind answered %d %s", w.Code, w.Body)
	}
}

// errors.Is matches identity errors on the kind alone, through wrapping.
func TestIdentityErrorIsMatchesOnKind(t *testing.T) {
	err := fmt.Errorf("verify: %w", identity.Invalid("bad", errors.New("cause")))
	if !errors.Is(err, &identity.Error{Kind: identity.KindInvalid}) {
		t.Fatal("errors.Is does not match the same kind")
	}
	if errors.Is(err, &identity.Error{Kind: identity.KindExpired}) {
		t.Fatal("errors.Is matches another kind")
	}
}
