package runner

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/insforge/edge-functions-go/scripts/runner/runtimeapi"
)

// BenchmarkColdStart measures, per function, process start → first response
// through the local runner: a fresh bootstrap process, its init, and one
// invocation of a sample event over the Runtime API (ns/op), plus the init phase
// alone (init-ms/op).
//
//	go test -run '^$' -bench ColdStart -benchtime 20x ./scripts/runner/
//
// coldStartCases are every function and the sample event it answers first, for
// both cold-start benchmarks (plain environment and secrets from moto).
var coldStartCases = []struct{ fn, event string }{
	{"TokenWorkOSFunction", "token-workos-valid.json"},
	{"TokenKindeFunction", "token-kinde-valid.json"},
	{"TokenAuth0Function", "token-auth0-valid.json"},
	{"TokenStytchFunction", "token-stytch-valid.json"},
	{"TokenBetterAuthFunction", "token-better-auth-valid.json"},
	{"TokenClerkFunction", "token-clerk-valid.json"},
	{"TokenOidcFunction", "token-oidc-valid.json"},
	{"X402ReportFunction", "x402-report-challenge.json"},
	{"X402PaymentsFunction", "x402-payments-list.json"},
	{"X402ReconcileFunction", "x402-reconcile-scheduled.json"},
	{"X402GatewayFunction", "x402-gateway-challenge.json"},
}

func BenchmarkColdStart(b *testing.B) {
	cases := coldStartCases
	env, err := Start(context.Background(), Options{Template: repoTemplate, Dev: true, IssuerAddr: "127.0.0.1:0",
		Logs: io.Discard, Log: slog.New(slog.NewTextHandler(io.Discard, nil)), CacheDir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	defer env.Close()
	for _, c := range cases {
		b.Run(c.fn, func(b *testing.B) {
			pool, ok := env.Pools[c.fn]
			if !ok {
				b.Fatalf("the runner has no %s", c.fn)
			}
			raw, err := os.ReadFile(filepath.Join("../../events", c.event))
			if err != nil {
				b.Fatal(err)
			}
			var initTotal time.Duration
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				payload, err := Fill(raw, env.Issuer)
				if err != nil {
					b.Fatal(err)
				}
				p := runtimeapi.NewPool(pool.Spec()) // no warm process: every iteration cold-starts
				b.StartTimer()
				res, err := p.Invoke(context.Background(), payload)
				b.StopTimer()
				p.Close()
				if err != nil || res.Err != nil || !res.ColdStart {
					b.Fatalf("invoke: %v %+v cold=%v", err, res.Err, res.ColdStart)
				}
				initTotal += res.InitDuration
				b.StartTimer()
			}
			b.ReportMetric(float64(initTotal.Microseconds())/1000/float64(b.N), "init-ms/op")
		})
	}
}
