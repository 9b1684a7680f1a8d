package runner

import (
	"context"
	"io"
	"log/slog"

	"github.com/insforge/edge-functions-go/shared/localinsforge"
)

// startInsforge starts the InsForge-compatible stack (records API, auth, RLS, the
// project's migrations) on a throwaway PostgreSQL cluster, signing user tokens with
// jwtSecret so that tokens minted by the local bridges work against it.
func startInsforge(ctx context.Context, o Options, jwtSecret string) (*localinsforge.Stack, error) {
	log := o.Log
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return localinsforge.Start(ctx, localinsforge.Options{
		Addr:      o.InsforgeAddr,
		JWTSecret: jwtSecret,
		Logger:    log.With("component", "insforge"),
	})
}
