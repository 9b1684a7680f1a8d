package bridge_test

import (
	"context"
	"testing"

	"github.com/insforge/edge-functions-go/shared/config"
	"github.com/insforge/edge-functions-go/shared/identity"
	"github.com/insforge/edge-functions-go/shared/identity/identitytest"
	"github.com/insforge/edge-functions-go/shared/identity/providertest"
)

// BenchmarkVerifyMintOIDC is the generic OIDC bridge (keys from OIDC_JWKS_URL)
// without HTTP, next to BenchmarkVerifyMintRS256: it adds only the audience and
// machine-token checks on the claims decoded once; a subject from another claim
// (Cognito's username) reads it from the same decoded claims.
//
//	go test -run '^$' -bench 'VerifyMint(OIDC|RS256)' ./shared/bridge/
func BenchmarkVerifyMintOIDC(b *testing.B) {
	for _, claim := range []string{"sub", "username"} {
		b.Run("subject="+claim, func(b *testing.B) {
			iss := identitytest.NewIssuer(b, "RS256")
			// A Cognito issuer (its preset allows username), keys from the local issuer.
			const cognito = "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_Bench"
			p, err := identity.NewOIDC(identity.OIDCConfig{Issuer: cognito, JWKSURL: iss.JWKSURL(), Algorithms: config.CSV{"RS256"},
				Audience: config.CSV{providertest.OIDCClient}, SubjectClaim: claim, TokenUse: identity.TokenUseBoth}, identity.Options{Logger: benchLogger()})
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(p.Close)
			claims := benchClaims()
			claims["iss"], claims["aud"], claims["username"] = cognito, providertest.OIDCClient, "ada"
			delete(claims, "azp")
			tok := iss.Sign(claims)
			if _, err := p.Verify(context.Background(), identity.Credential{Token: tok}); err != nil {
				b.Fatalf("warm-up: %v", err)
			}
			verifyMintLoop(b, p, tok)
		})
	}
}
