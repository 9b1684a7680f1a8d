package runner

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/insforge/edge-functions-go/scripts/internal/samtemplate"
	"github.com/insforge/edge-functions-go/scripts/runner/runtimeapi"
)

// BenchmarkColdStart measures, per function, process start → first response
// through the local runner: a fresh bootstrap process, its init, and one
// invocation of a sample event over the Runtime API (ns/op), plus the init phase
// alone (init-ms/op).
//
//	go test -run '^$' -bench ColdStart -benchtime 20x ./scripts/runner/
//
// coldStartCases are every function of the template and the sample event it
// answers first (samtemplate's events/<dir>-<case>.json convention), for both
// cold-start benchmarks (plain environment and secrets from moto). A function
// with no sample event is named in the log.
func coldStartCases(b *testing.B, fns []samtemplate.Function) []struct{ fn, event string } {
	var out []struct{ fn, event string }
	for _, f := range fns {
		event, _, ok := f.SampleEvent("../..")
		if !ok {
			b.Logf("%s: no sample event, not measured", f.LogicalID)
			continue
		}
		out = append(out, struct{ fn, event string }{f.LogicalID, event})
	}
	return out
}

// coldStartRunner starts the dev runner (closed when b ends) and lists its cold-start cases.
func coldStartRunner(b *testing.B) (*Runner, []struct{ fn, event string }) {
	env, err := Start(context.Background(), Options{Template: repoTemplate, Dev: true, IssuerAddr: "127.0.0.1:0",
		Logs: io.Discard, Log: slog.New(slog.DiscardHandler), CacheDir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { env.Close() })
	return env, coldStartCases(b, env.Functions)
}

func BenchmarkColdStart(b *testing.B) {
	env, cases := coldStartRunner(b)
	for _, c := range cases {
		b.Run(c.fn, func(b *testing.B) {
			pool, ok := env.Pools[c.fn]
			if !ok {
				b.Fatalf("the runner has no %s", c.fn)
			}
			coldStarts(b, env, pool.Spec(), c.event, nil) // no warm process: every iteration cold-starts
		})
	}
}

// coldStarts measures b.N cold starts of spec answering event: each iteration a
// fresh pool (no warm process), its init and one invocation (ns/op), and reports
// the init phase alone (init-ms/op). check, when set, vets each first response.
func coldStarts(b *testing.B, env *Runner, spec runtimeapi.Spec, event string, check func(b *testing.B, payload []byte)) {
	raw, err := os.ReadFile(filepath.Join("../../events", event))
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
		p := runtimeapi.NewPool(spec)
		b.StartTimer()
		res, err := p.Invoke(context.Background(), payload)
		b.StopTimer()
		p.Close()
		if err != nil || res.Err != nil || !res.ColdStart {
			b.Fatalf("invoke: %v %+v cold=%v", err, res.Err, res.ColdStart)
		}
		if check != nil {
			check(b, res.Payload)
		}
		initTotal += res.InitDuration
		b.StartTimer()
	}
	b.ReportMetric(float64(initTotal.Microseconds())/1000/float64(b.N), "init-ms/op")
}
