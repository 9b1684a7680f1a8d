package identity_test

import (
	"testing"

	"github.com/insforge/edge-functions-go/shared/identity"
)

// Auth0 access tokens: https://auth0.com/docs/secure/tokens/access-tokens/access-token-profiles,
// https://auth0.com/docs/get-started/authentication-and-authorization-flow/client-credentials-flow
var auth0Rules = []rule{
	{name: "opaque access token says an audience is needed", kind: identity.KindInvalid, message: "request the token with audience",
		cred: func(*env) identity.Credential { return bearer("h7Tkd9s0_mOpaQUEtokenWITHOUTdots") }},
	{name: "client-credentials token (gty)", kind: identity.KindNotUserSession, cred: token(set("gty", "client-credentials"))},
	{name: "client-credentials token (sub @clients)", kind: identity.KindNotUserSession, cred: token(set("sub", "hJ7sDk2lAbC0x9@clients"))},
	{name: "M2M token as issued (gty and sub @clients, no azp user)", kind: identity.KindNotUserSession,
		cred: token(func(c claims) {
			c["sub"], c["gty"], c["azp"], c["aud"] = "hJ7sDk2lAbC0x9@clients", "client-credentials", "hJ7sDk2lAbC0x9", "https://api.example.com"
		})},
	{name: "gty array with client-credentials", kind: identity.KindNotUserSession, cred: token(set("gty", []string{"client-credentials"}))},
	{name: "gty that is not a string", kind: identity.KindNotUserSession,
		cred: token(set("gty", map[string]any{"grant": "client-credentials"}))},
	{name: "gty password (resource owner, a user) is accepted", cred: token(set("gty", "password"))},
	{name: "aud as a plain string", cred: token(set("aud", "https://api.example.com"))},
}

func TestAuth0Rules(t *testing.T) { runRules(t, onlyFor("auth0", auth0Rules)) }
