package devenv

import (
	"context"
	"io"
	"log/slog"

	"github.com/insforge/edge-functions-go/shared/insforge/insforgetest"
)

// startInsforge starts the InsForge-compatible stack (records API, auth, RLS, the
// project's migrations) on a throwaway PostgreSQL cluster, signing user tokens with
// jwtSecret so that tokens minted by the local bridges work against it.
func startInsforge(ctx context.Context, o Options, jwtSecret string) (*insforgetest.Stack, error) {
	log := o.Log
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return insforgetest.Start(ctx, insforgetest.Options{
		Addr:      o.InsforgeAddr,
		JWTSecret: jwtSecret,
		Logger:    log.With("component", "insforge"),
	})
}
