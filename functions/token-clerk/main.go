// Command token-clerk exchanges a sign-in provider credential for an InsForge
// token (POST/GET /token/clerk). Wiring only: the logic is in shared/identity
// and shared/bridge.
package main

import (
	"log/slog"
	"net/http"

	"github.com/insforge/edge-functions-go/shared/bridge"
	"github.com/insforge/edge-functions-go/shared/config"
	"github.com/insforge/edge-functions-go/shared/identity"
	"github.com/insforge/edge-functions-go/shared/launch"
)

func main() {
	launch.HTTP("token-clerk", func(log *slog.Logger) (http.Handler, error) {
		var cfg identity.ClerkConfig
		if err := config.Load(&cfg); err != nil {
			return nil, err
		}
		return bridge.FromEnv(log, func(o identity.Options) (*identity.Provider, error) {
			return identity.NewClerk(cfg, o)
		})
	})
}
