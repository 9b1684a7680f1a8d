// Command token-stytch exchanges a Stytch session (session JWT or opaque session token) for an InsForge token
// (POST/GET /token/stytch). Wiring only: the provider is configured by STYTCH_*
// (shared/identity), the bridge by INSFORGE_JWT_SECRET, TOKEN_TTL and
// ALLOWED_ORIGINS (shared/bridge); a bad value fails the cold start naming it.
package main

import (
	"github.com/insforge/edge-functions-go/shared/bridge"
	"github.com/insforge/edge-functions-go/shared/identity"
	"github.com/insforge/edge-functions-go/shared/launch"
)

func main() {
	launch.HTTP("token-stytch", bridge.Build(identity.NewStytch))
}
