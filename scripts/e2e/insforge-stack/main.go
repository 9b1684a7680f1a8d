//go:build e2e

// Command insforge-stack runs the InsForge-compatible stack (shared/localinsforge: the
// records API on real PostgreSQL with the project's migrations) for the end-to-end suite. It
// prints the stack's coordinates as one JSON line on stdout and runs until SIGINT/SIGTERM or
// until stdin closes (so it never outlives the Node harness that started it). SIGUSR1 stops its
// realtime endpoint only; SIGUSR2 starts a fresh one.
//
// Built only with -tags e2e (lib/stack.mjs does), so `go vet ./...` and `make test` never depend on it.
//
// DATABASE_URL selects the PostgreSQL server (a superuser URL); INSFORGE_JWT_SECRET,
// INSFORGE_SERVICE_KEY and INSFORGE_ANON_KEY pin the credentials (random when empty).
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/insforge/edge-functions-go/scripts/internal/cli"
	"github.com/insforge/edge-functions-go/shared/localinsforge"
)

func run(ctx context.Context) error {
	startCtx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	s, err := localinsforge.Start(startCtx, localinsforge.Options{
		Addr:       os.Getenv("INSFORGE_ADDR"),
		JWTSecret:  os.Getenv("INSFORGE_JWT_SECRET"),
		ServiceKey: os.Getenv("INSFORGE_SERVICE_KEY"),
		AnonKey:    os.Getenv("INSFORGE_ANON_KEY"),
		Logger:     slog.New(slog.NewJSONHandler(os.Stderr, nil)),
	})
	if err != nil {
		return err
	}
	defer s.Close()
	out, err := json.Marshal(map[string]string{
		"url": s.URL, "serviceKey": s.ServiceKey, "anonKey": s.AnonKey,
		"jwtSecret": s.JWTSecret, "databaseUrl": s.DatabaseURL,
	})
	if err != nil {
		return err
	}
	fmt.Println(string(out))
	// SIGUSR1 stops realtime alone, SIGUSR2 starts it again (the dashboard's polling
	// fallback and its return to live are tested with them).
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGUSR1, syscall.SIGUSR2)
	go func() {
		for v := range sig {
			if v == syscall.SIGUSR1 {
				s.StopRealtime()
				fmt.Fprintln(os.Stderr, "insforge-stack: realtime stopped")
				continue
			}
			if err := s.RestartRealtime(ctx); err != nil {
				fmt.Fprintln(os.Stderr, "insforge-stack: realtime restart:", err)
				continue
			}
			fmt.Fprintln(os.Stderr, "insforge-stack: realtime started")
		}
	}()
	stdinClosed := make(chan struct{})
	go func() { _, _ = io.Copy(io.Discard, os.Stdin); close(stdinClosed) }()
	select {
	case <-ctx.Done():
	case <-stdinClosed:
	}
	return nil
}

func main() { cli.Main("insforge-stack", run) }
