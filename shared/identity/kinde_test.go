package identity_test

import (
	"testing"

	"github.com/insforge/edge-functions-go/shared/identity"
)

// Kinde access tokens: https://docs.kinde.com/build/tokens/about-access-tokens/ and M2M tokens:
// https://docs.kinde.com/machine-to-machine-applications/about-m2m/token-structure-and-claims-for-m2m-applications
var kindeRules = []rule{
	{name: "M2M token (gty [client_credentials])", kind: identity.KindNotUserSession, cred: token(set("gty", []string{"client_credentials"}))},
	{name: "gty client_credentials as a string", kind: identity.KindNotUserSession, cred: token(set("gty", "client_credentials"))},
	{name: "gty array mixing grants", kind: identity.KindNotUserSession,
		cred: token(set("gty", []string{"authorization_code", "client_credentials"}))},
	{name: "M2M token as documented (no sub)", kind: identity.KindInvalid,
		cred: token(func(c claims) { delete(c, "sub"); c["gty"] = []string{"client_credentials"}; c["v"] = "2" })},
	{name: "gty that is not a string", kind: identity.KindNotUserSession, cred: token(set("gty", 7))},
	{name: "user token with gty refresh_token is accepted", cred: token(set("gty", []string{"refresh_token"}))},
	{name: "aud array with several audiences", cred: token(set("aud", []string{"https://other.example.com", "https://api.example.com"}))},
}

func TestKindeRules(t *testing.T) { runRules(t, onlyFor("kinde", kindeRules)) }
