package identity_test

import (
	"strings"
	"testing"
	"time"

	"github.com/insforge/edge-functions-go/shared/identity"
	"github.com/insforge/edge-functions-go/shared/identity/identitytest"
)

// Better Auth's admin plugin marks a session it started as another user with
// impersonatedBy (shared/localidentity serves it as the plugin does).
var betterAuthRules = []rule{
	{name: "impersonated session (admin plugin) is refused", kind: identity.KindImpersonation,
		cred: session(func(u *user) { u.ImpersonatedBy = "admin_user_1" })},
	{name: "impersonated session accepted with BETTER_AUTH_ALLOW_IMPERSONATION, actor returned", noEmail: true, actor: "admin_user_1",
		cold: func(e *env) { e.T.Setenv("BETTER_AUTH_ALLOW_IMPERSONATION", "true") },
		cred: session(func(u *user) { u.ImpersonatedBy = "admin_user_1" })},
}

// Better Auth's get-session: the bearer plugin sends the signed cookie value or
// the raw token (https://www.better-auth.com/docs/plugins/bearer); a signed-out
// session answers null; every outage is unavailable.
var betterAuthSessionRules = []rule{
	{name: "session: bearer plugin token (signed value) is accepted", noEmail: true, cred: session(nil), after: sessionCalls(1)},
	{name: "session: bearer plugin token (raw token) is accepted", noEmail: true,
		cred: func(e *env) identity.Credential {
			raw, _, _ := strings.Cut(e.Spec.SessionToken(1), ".")
			exp := time.Now().Add(time.Hour)
			e.Sessions.AddSession(raw, user{ID: e.Base["sub"].(string), ExpiresAt: exp})
			e.CredExp = exp.Unix()
			return bearer(raw)
		},
		after: sessionCalls(1)},
	{name: "session: signed out (null body) is refused", kind: identity.KindInvalid,
		cred: func(*env) identity.Credential { return bearer("unknown.c2lnbmF0dXJl") }},
	{name: "session: Better Auth down is unavailable", kind: identity.KindUnavailable, cred: sessionIn(identitytest.Down)},
	{name: "session: Better Auth too slow is unavailable", kind: identity.KindUnavailable,
		cold: func(e *env) { e.Opts.Timeout = 150 * time.Millisecond }, cred: sessionIn(identitytest.Slow)},
	{name: "session: Better Auth answers garbage is unavailable", kind: identity.KindUnavailable, cred: sessionIn(identitytest.Garbage)},
}

func TestBetterAuthRules(t *testing.T) {
	runRules(t, onlyFor("better-auth", append(betterAuthRules, betterAuthSessionRules...)))
}
