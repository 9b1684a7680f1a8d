package runner

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/insforge/edge-functions-go/shared/localinsforge"
)

// startInsforge starts the InsForge-compatible stack (records API, auth, RLS, the
// project's migrations) on a throwaway PostgreSQL cluster, signing user tokens with
// jwtSecret so that tokens minted by the local bridges work against it.
func startInsforge(ctx context.Context, o Options, jwtSecret string) (*localinsforge.Stack, error) {
	log := o.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	st, err := localinsforge.Start(ctx, localinsforge.Options{
		Addr:      o.InsforgeAddr,
		JWTSecret: jwtSecret,
		Logger:    log.With("component", "insforge"),
	})
	if err != nil {
		return nil, err
	}
	// The dev profile pays through the mock facilitator: passes bought here must
	// unlock rows here (a deployed database never accepts mock passes).
	if err := st.AdminExec(ctx, `UPDATE public.x402_entitlement_settings SET accept_mock = true`); err != nil {
		_ = st.Close()
		return nil, fmt.Errorf("accept mock passes: %w", err)
	}
	return st, nil
}
