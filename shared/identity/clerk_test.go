package identity_test

import (
	"testing"

	"github.com/insforge/edge-functions-go/shared/identity"
	"github.com/insforge/edge-functions-go/shared/identity/providertest"
)

// Clerk's session-token rules: https://clerk.com/docs/guides/sessions/session-tokens
var clerkRules = []rule{
	{name: "azp not in CLERK_AUTHORIZED_PARTIES", kind: identity.KindNotUserSession, cred: token(set("azp", "https://evil.example.com"))},
	// Clerk omits azp when the Frontend API request had no Origin (native apps).
	{name: "azp missing (no Origin at Clerk) is a user session", cred: token(del("azp"))},
	{name: "azp missing while CLERK_REQUIRE_AZP is set", kind: identity.KindNotUserSession,
		cold: func(e *env) { e.T.Setenv("CLERK_REQUIRE_AZP", "true") }, cred: token(del("azp"))},
	{name: "azp null while CLERK_REQUIRE_AZP is set", kind: identity.KindNotUserSession,
		cold: func(e *env) { e.T.Setenv("CLERK_REQUIRE_AZP", "true") }, cred: token(set("azp", nil))},
	{name: "azp empty string", kind: identity.KindNotUserSession, cred: token(set("azp", ""))},
	{name: "azp differing by a trailing slash", kind: identity.KindNotUserSession, cred: token(set("azp", providertest.AppOrigin+"/"))},
	{name: "sid missing (OAuth, machine or template token)", kind: identity.KindNotUserSession, cred: token(del("sid"))},
	{name: "sid empty", kind: identity.KindNotUserSession, cred: token(set("sid", ""))},
	{name: "OAuth access token shape (client azp, no sid)", kind: identity.KindNotUserSession,
		cred: token(func(c claims) { delete(c, "sid"); c["azp"] = "client_oauth_app"; c["scope"] = "profile" })},
	{name: "parties default to ALLOWED_ORIGINS when CLERK_AUTHORIZED_PARTIES is unset", kind: identity.KindNotUserSession,
		cold: partiesFromOrigins, cred: token(set("azp", "https://admin.example.com"))},
	{name: "a token from an ALLOWED_ORIGINS origin is accepted by default", cold: partiesFromOrigins, cred: valid},
	{name: "impersonation accepted with CLERK_ALLOW_IMPERSONATION, actor returned", actor: "user_admin_1",
		cold: func(e *env) { e.T.Setenv("CLERK_ALLOW_IMPERSONATION", "true") },
		cred: token(set("act", map[string]any{"sub": "user_admin_1", "iss": "https://dashboard.clerk.com"}))},
	{name: "pending session (sts)", kind: identity.KindInvalid, cred: token(set("sts", "pending"))},
	{name: "second authorized party accepted", cred: token(set("azp", "https://admin.example.com"))},
}

func partiesFromOrigins(e *env) {
	e.T.Setenv("CLERK_AUTHORIZED_PARTIES", "")
	e.T.Setenv("ALLOWED_ORIGINS", providertest.AppOrigin)
}

func TestClerkRules(t *testing.T) { runRules(t, onlyFor("clerk", clerkRules)) }

// onlyFor restricts rules to the provider named.
func onlyFor(name string, rules []rule) []rule {
	out := make([]rule, len(rules))
	for i, r := range rules {
		r.applies = only(name)
		out[i] = r
	}
	return out
}
