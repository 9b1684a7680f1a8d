// Command token-oidc exchanges a token from any OpenID Connect provider (Firebase
// Auth, Cognito, Okta, Keycloak, Entra ID, Zitadel, Google, …) for an InsForge
// token (POST/GET /token/oidc). Wiring only: the provider is configured by OIDC_*
// (shared/identity; the JWKS URL and algorithms come from the issuer's discovery
// document unless set), the bridge by INSFORGE_JWT_SECRET, TOKEN_TTL and
// ALLOWED_ORIGINS (shared/bridge); a bad value fails the cold start naming it.
package main

import (
	"github.com/insforge/edge-functions-go/shared/bridge"
	"github.com/insforge/edge-functions-go/shared/identity"
	"github.com/insforge/edge-functions-go/shared/launch"
)

func main() {
	launch.HTTP("token-oidc", bridge.Build(identity.NewOIDC))
}
