package identity_test

import (
	"testing"

	"github.com/insforge/edge-functions-go/shared/identity"
	"github.com/insforge/edge-functions-go/shared/identity/identitytest"
)

// Better Auth's admin plugin marks a session it started as another user with
// impersonatedBy (shared/localidentity serves it as the plugin does).
var betterAuthRules = []rule{
	{name: "impersonated session (admin plugin) is refused", kind: identity.KindImpersonation,
		cred: session(func(u *identitytest.User) { u.ImpersonatedBy = "admin_user_1" })},
	{name: "impersonated session accepted with BETTER_AUTH_ALLOW_IMPERSONATION, actor returned", noEmail: true, actor: "admin_user_1",
		cold: func(e *env) { e.T.Setenv("BETTER_AUTH_ALLOW_IMPERSONATION", "true") },
		cred: session(func(u *identitytest.User) { u.ImpersonatedBy = "admin_user_1" })},
}

func TestBetterAuthRules(t *testing.T) { runRules(t, onlyFor("better-auth", betterAuthRules)) }
