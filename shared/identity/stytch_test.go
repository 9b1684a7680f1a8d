package identity_test

import (
	"testing"

	"github.com/golang-jwt/jwt/v5"

	"github.com/insforge/edge-functions-go/shared/identity"
)

// Stytch session JWTs and M2M tokens: https://stytch.com/docs/api-reference/consumer/api/sessions/get-jwks,
// https://stytch.com/docs/api/get-m2m-token
var stytchRules = []rule{
	{name: "custom-domain issuer (the API base URL) accepted",
		cred: func(e *env) identity.Credential { return bearer(e.Token(set("iss", e.Vars["STYTCH_API_URL"]))) }},
	{name: "session claim missing (an M2M access token)", kind: identity.KindNotUserSession,
		cred: token(func(c jwt.MapClaims) {
			delete(c, "https://stytch.com/session")
			c["sub"], c["scope"] = "m2m-client-test-d731954d-dab3-4a2b-bdee-07f3ad1be885", "read:users"
		})},
	{name: "session claim null", kind: identity.KindNotUserSession, cred: token(set("https://stytch.com/session", nil))},
	{name: "session claim empty object", kind: identity.KindNotUserSession, cred: token(set("https://stytch.com/session", map[string]any{}))},
	{name: "session claim under another name", kind: identity.KindNotUserSession,
		cred: token(func(c jwt.MapClaims) {
			c["https://stytch.com/sessions"] = c["https://stytch.com/session"]
			delete(c, "https://stytch.com/session")
		})},
	{name: "aud of another project", kind: identity.KindInvalid, cred: token(set("aud", []string{"project-test-other"}))},
}

func TestStytchRules(t *testing.T) { runRules(t, onlyFor("stytch", stytchRules)) }
