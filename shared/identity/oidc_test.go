package identity_test

import (
	"errors"
	"testing"
	"time"

	"github.com/insforge/edge-functions-go/shared/identity"
	"github.com/insforge/edge-functions-go/shared/identity/providertest"
)

const oidcClient = providertest.OIDCClient

// The generic OIDC bridge: discovery, audience or client_id, token use, machine
// tokens. Cognito: https://docs.aws.amazon.com/cognito/latest/developerguide/amazon-cognito-user-pools-using-the-access-token.html;
// Okta: https://developer.okta.com/docs/guides/validate-access-tokens/dotnet/overview/;
// Entra ID: https://learn.microsoft.com/en-us/entra/identity-platform/optional-claims-reference
var oidcRules = []rule{
	{name: "discovery names another issuer once it answers: misconfigured, never accepted", kind: identity.KindMisconfigured,
		cold: func(e *env) {
			e.Issuer.SetDown(true) // unreachable at cold start, so init cannot refuse it
			e.Issuer.SetDiscoveryIssuer(e.Issuer.URL() + "/")
		},
		cred: func(e *env) identity.Credential {
			if _, err := e.Verify(valid(e)); !errors.Is(err, &identity.Error{Kind: identity.KindUnavailable}) {
				e.T.Fatalf("while down: %v, want provider_unavailable", err)
			}
			e.Issuer.SetDown(false)
			// Discovery is retried in the background, not by the verification: poll
			// until it has answered (the verdict then stays misconfigured).
			for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(15 * time.Millisecond) {
				if _, err := e.Verify(valid(e)); !errors.Is(err, &identity.Error{Kind: identity.KindUnavailable}) {
					break
				}
			}
			return valid(e)
		}},
	{name: "Cognito access token (no aud, client_id ours) accepted",
		cred: token(func(c claims) {
			delete(c, "aud")
			delete(c, "azp")
			c["client_id"], c["token_use"], c["username"], c["scope"] = oidcClient, "access", "ada", "openid"
		})},
	{name: "Cognito access token of another app client", kind: identity.KindInvalid,
		cred: token(func(c claims) {
			delete(c, "aud")
			delete(c, "azp")
			c["client_id"], c["token_use"] = "another-client", "access"
		})},
	{name: "client_id ours but aud foreign", kind: identity.KindInvalid,
		cred: token(func(c claims) { c["aud"], c["client_id"] = "another-api", oidcClient })},
	{name: "Cognito ID token (token_use id) accepted", cred: token(set("token_use", "id"))},
	{name: "token_use other than access or id", kind: identity.KindNotUserSession, cred: token(set("token_use", "refresh"))},
	{name: "ID token refused when OIDC_TOKEN_USE=access", kind: identity.KindNotUserSession,
		cold: func(e *env) { e.T.Setenv("OIDC_TOKEN_USE", "access") }, cred: token(set("token_use", "id"))},
	{name: "at+jwt access token refused when OIDC_TOKEN_USE=id", kind: identity.KindNotUserSession,
		cold: func(e *env) { e.T.Setenv("OIDC_TOKEN_USE", "id") },
		cred: func(e *env) identity.Credential {
			return signedWith(current, map[string]any{"typ": "at+jwt"})(e)
		}},
	{name: "client-credentials token (sub is the client id)", kind: identity.KindNotUserSession,
		cred: token(func(c claims) {
			delete(c, "aud")
			c["sub"], c["client_id"], c["token_use"] = oidcClient, oidcClient, "access"
		})},
	{name: "Okta service token (sub equals cid)", kind: identity.KindNotUserSession,
		cred: token(func(c claims) { c["cid"] = "0oa1okta"; c["sub"] = "0oa1okta" })},
	{name: "gty client-credentials", kind: identity.KindNotUserSession, cred: token(set("gty", "client-credentials"))},
	{name: "Entra app-only token (idtyp app)", kind: identity.KindNotUserSession, cred: token(set("idtyp", "app"))},
	{name: "aud array holding ours among others", cred: token(set("aud", []string{"other", oidcClient}))},
	{name: "OIDC_AUDIENCE=* accepts a foreign audience",
		cold: func(e *env) { e.T.Setenv("OIDC_AUDIENCE", "*") }, cred: token(set("aud", "another-client"))},
	{name: "OIDC_JWKS_URL and OIDC_ALGORITHMS set: nothing is discovered",
		cold: func(e *env) {
			e.T.Setenv("OIDC_JWKS_URL", e.Issuer.JWKSURL())
			e.T.Setenv("OIDC_ALGORITHMS", "RS256")
			e.Issuer.SetDiscoveryIssuer("https://not-consulted.example.com")
		},
		cred: valid,
		checks: func(t *testing.T, e *env, _ identity.Identity) {
			if n := e.Issuer.DiscoveryFetches.Load(); n != 0 {
				t.Fatalf("%d discovery fetches, want 0", n)
			}
		}},
	{name: "OIDC_ALGORITHMS pins the algorithm over discovery", kind: identity.KindInvalid,
		cold: func(e *env) { e.T.Setenv("OIDC_ALGORITHMS", "ES256") }, cred: valid},
}

func TestOIDCRules(t *testing.T) { runRules(t, onlyFor("oidc", oidcRules)) }
