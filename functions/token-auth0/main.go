// Command token-auth0 exchanges an Auth0 access token for your API for an InsForge token
// (POST/GET /token/auth0). Wiring only: the provider is configured by AUTH0_*
// (shared/identity), the bridge by INSFORGE_JWT_SECRET, TOKEN_TTL and
// ALLOWED_ORIGINS (shared/bridge); a bad value fails the cold start naming it.
package main

import (
	"github.com/insforge/edge-functions-go/shared/bridge"
	"github.com/insforge/edge-functions-go/shared/identity"
	"github.com/insforge/edge-functions-go/shared/launch"
)

func main() {
	launch.HTTP("token-auth0", bridge.Build(identity.NewAuth0))
}
