package identity_test

import (
	"testing"
	"time"

	"github.com/insforge/edge-functions-go/shared/identity"
	"github.com/insforge/edge-functions-go/shared/identity/identitytest"
)

// Stytch session JWTs and M2M tokens: https://stytch.com/docs/api-reference/consumer/api/sessions/get-jwks,
// https://stytch.com/docs/api/get-m2m-token
var stytchRules = []rule{
	{name: "custom-domain issuer (the API base URL) accepted",
		cred: func(e *env) identity.Credential { return bearer(e.Token(set("iss", e.Vars["STYTCH_API_URL"]))) }},
	{name: "session claim missing (an M2M access token)", kind: identity.KindNotUserSession,
		cred: token(func(c claims) {
			delete(c, "https://stytch.com/session")
			c["sub"], c["scope"] = "m2m-client-test-d731954d-dab3-4a2b-bdee-07f3ad1be885", "read:users"
		})},
	{name: "session claim null", kind: identity.KindNotUserSession, cred: token(set("https://stytch.com/session", nil))},
	{name: "session claim empty object", kind: identity.KindNotUserSession, cred: token(set("https://stytch.com/session", map[string]any{}))},
	{name: "session claim under another name", kind: identity.KindNotUserSession,
		cred: token(func(c claims) {
			c["https://stytch.com/sessions"] = c["https://stytch.com/session"]
			delete(c, "https://stytch.com/session")
		})},
	{name: "aud of another project", kind: identity.KindInvalid, cred: token(set("aud", []string{"project-test-other"}))},
}

// The session API (sessions/authenticate) behind Stytch's opaque session_token:
// every outage is unavailable (retry), never a verdict on the credential; what is
// not shaped like a session token never reaches it.
var stytchSessionRules = []rule{
	{name: "session: active session token is accepted with the verified email, one API call", email: "ada@example.com",
		cred:  session(func(u *user) { u.Email, u.EmailVerified = "ada@example.com", true }),
		after: sessionCalls(1)},
	{name: "session: unknown or revoked session, one API call", kind: identity.KindInvalid,
		cred: func(e *env) identity.Credential { return bearer("revoked" + e.Session(1, nil)[7:]) }, after: sessionCalls(1)},
	{name: "session: Stytch down is unavailable", kind: identity.KindUnavailable, cred: sessionIn(identitytest.Down), after: sessionCalls(1)},
	{name: "session: Stytch too slow is unavailable", kind: identity.KindUnavailable,
		cold: func(e *env) { e.Opts.Timeout = 150 * time.Millisecond }, cred: sessionIn(identitytest.Slow), after: sessionCalls(1)},
	{name: "session: Stytch answers garbage is unavailable", kind: identity.KindUnavailable, cred: sessionIn(identitytest.Garbage),
		after: sessionCalls(1)},
	{name: "session: Stytch answers over 1 MiB is unavailable", kind: identity.KindUnavailable, cred: sessionIn(identitytest.Huge),
		after: sessionCalls(1)},
	{name: "session: wrong STYTCH_SECRET is unavailable (an operator problem), not invalid", kind: identity.KindUnavailable,
		cold: func(e *env) { e.T.Setenv("STYTCH_SECRET", "wrong") }, cred: session(nil), after: sessionCalls(1)},
	{name: "session: without STYTCH_SECRET only JWTs are accepted", kind: identity.KindInvalid,
		cold: func(e *env) { e.T.Setenv("STYTCH_SECRET", "") }, cred: session(nil), after: sessionCalls(0)},
	{name: "session: a token with odd characters never reaches Stytch", kind: identity.KindInvalid,
		cred: func(*env) identity.Credential { return bearer("abc\u00e9def") }, after: sessionCalls(0)},
}

// sessionIn is a registered session, asked while the session API misbehaves as m.
func sessionIn(m identitytest.Mode) func(e *env) identity.Credential {
	return func(e *env) identity.Credential {
		tok := e.Session(1, nil)
		e.Sessions.SetMode(m)
		return bearer(tok)
	}
}

// sessionCalls asserts that the session API was called n times.
func sessionCalls(n int64) func(t *testing.T, e *env) {
	return func(t *testing.T, e *env) {
		t.Helper()
		if got := e.Sessions.Calls(); got != n {
			t.Fatalf("session API calls = %d, want %d", got, n)
		}
	}
}

func TestStytchRules(t *testing.T) {
	runRules(t, onlyFor("stytch", append(stytchRules, stytchSessionRules...)))
}
