// Command bench measures the performance budgets (docs/benchmarks.md) and writes docs/benchmarks.md and
// docs/benchmarks.svg (`make bench`; not part of `make test`):
//
//   - hot-path Go benchmarks (bridge verify+mint per key type, opaque sessions via a
//     loopback API, EIP-3009 verification, payment header decode) beside their floors;
//   - a load test through the local runner (real binaries, Lambda Runtime API) for a
//     bridge and for the x402 402-challenge path, with the JWKS fetches it caused;
//   - cold starts of every function (process exec → first response, ≥ 20 runs) and
//     their package-init cost (GODEBUG=inittrace=1);
//   - binary sizes for linux/arm64 (the same check as make size-check).
//
// Everything runs on loopback against the runner's dev profile (dev identity
// issuer, mock facilitator, local InsForge stack on a throwaway PostgreSQL when
// PostgreSQL is installed). Runs are short and bounded; times are reported, never
// asserted.
//
//	go run ./scripts/bench [-cold 20] [-rounds 5] [-requests 2000] [-duration 15s] [-only micro,load,cold,size]
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/insforge/edge-functions-go/scripts/internal/budget"
	"github.com/insforge/edge-functions-go/scripts/runner"
	"github.com/insforge/edge-functions-go/scripts/runner/runtimeapi"
)

func main() { os.Exit(run()) }

// run holds the deferred cleanup (signal stop, deadline, temporary directory), so
// it returns the exit code instead of calling os.Exit past its defers.
func run() int {
	var (
		out       = flag.String("out", "docs/benchmarks.md", "markdown report (the SVG is written beside it)")
		only      = flag.String("only", "micro,load,cold,size", "sections to run")
		rounds    = flag.Int("rounds", 5, "micro-benchmark rounds (median across rounds)")
		benchtime = flag.String("benchtime", "200ms", "go test -benchtime per benchmark per round")
		coldRuns  = flag.Int("cold", 20, "cold starts per function (median reported; the budget asks for ≥ 20)")
		initRuns  = flag.Int("inittrace", 10, "GODEBUG=inittrace=1 runs per function")
		requests  = flag.Int("requests", 2000, "measured requests per load case (bounded also by -duration)")
		duration  = flag.Duration("duration", 15*time.Second, "time limit of each load case")
		workers   = flag.Int("concurrency", 4, "load generator workers")
		procs     = flag.Int("procs", runtime.NumCPU(), "function processes in the runner during the load test")
		timeout   = flag.Duration("timeout", 15*time.Minute, "overall time limit")
	)
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()

	logf := func(f string, a ...any) { fmt.Fprintf(os.Stderr, "bench: "+f+"\n", a...) }
	root, err := budget.ModuleRoot(".")
	if err != nil {
		logf("%v", err)
		return 2
	}
	sections := map[string]bool{}
	for _, s := range strings.Split(*only, ",") {
		sections[strings.TrimSpace(s)] = true
	}
	tmp, err := os.MkdirTemp("", "bench-")
	if err != nil {
		logf("%v", err)
		return 2
	}
	defer os.RemoveAll(tmp)

	r := &results{Started: time.Now(), Machine: readMachine(), Command: "go run ./scripts/bench " + strings.Join(os.Args[1:], " "),
		Init: map[string]initTrace{}}
	r.Command = strings.TrimSpace(r.Command)
	failed := false

	if sections["size"] {
		logf("building every function for linux/arm64 (size budgets)")
		if err := sizes(ctx, root, filepath.Join(tmp, "arm64"), r); err != nil {
			r.SizeErr = err.Error()
			failed = true
		}
	}
	if sections["micro"] {
		m, err := runMicro(ctx, root, tmp, *rounds, *benchtime, logf)
		if err != nil {
			logf("micro-benchmarks: %v", err)
			failed = true
		} else {
			r.Micro = &m
		}
	}
	if sections["load"] || sections["cold"] {
		logf("starting the local runner (builds host binaries, dev issuer, local InsForge stack)")
		env, err := runner.Start(ctx, runner.Options{Template: filepath.Join(root, "template.yaml"), Dev: true,
			IssuerAddr: "127.0.0.1:0", MaxProcs: *procs, Logs: io.Discard, Log: slog.New(slog.DiscardHandler),
			CacheDir: filepath.Join(tmp, "dev")})
		if err != nil {
			logf("local runner: %v", err)
			failed = true
		} else {
			r.Notes = append(r.Notes, env.Notes...)
			if env.Insforge == nil {
				r.Notes = append(r.Notes, "The local InsForge stack did not start (no PostgreSQL?): x402 functions that reach InsForge fail their first request.")
			}
			specs := map[string]runtimeapi.Spec{}
			for id, p := range env.Pools {
				specs[id] = p.Spec()
			}
			if s, err := floorSpec(ctx, root, tmp); err != nil {
				logf("floor function: %v", err)
			} else {
				specs[floorFn] = s
			}
			if sections["load"] {
				for _, c := range loadCases {
					logf("load: %s", c.Name)
					l, err := runLoad(ctx, env, specs, c, loadOpts{Concurrency: *workers, Procs: *procs, Warmup: 10 * *workers,
						Requests: *requests, Duration: *duration})
					if err != nil {
						r.LoadErrs = append(r.LoadErrs, c.Name+": "+err.Error())
						failed = true
						continue
					}
					r.Load = append(r.Load, l)
				}
			}
			if sections["cold"] {
				fnCases, err := templateColdCases(root)
				if err != nil {
					logf("cold starts: %v", err)
					failed = true
				}
				cases := append([]coldCase{floorCold}, fnCases...)
				for _, c := range cases {
					if s, ok := specs[c.Fn]; ok {
						t, err := runInitTrace(ctx, s.Binary, *initRuns)
						if err != nil {
							logf("inittrace %s: %v", c.Dir, err)
						}
						r.Init[c.Dir] = t
					}
				}
				r.Cold = runCold(ctx, env, specs, cases, root, *coldRuns, logf)
				logf("cold starts with the secret fetch (moto)")
				r.ColdSecrets = runColdSecrets(ctx, root, *coldRuns)
				for _, c := range r.Cold {
					if c.Err != "" {
						logf("cold start %s: %s", c.Case.Dir, c.Err)
						failed = true
					}
				}
			}
			env.Close()
		}
	}
	r.Finished = time.Now()
	r.Machine.LoadAfter = loadAvg()

	outPath := *out
	if !filepath.IsAbs(outPath) {
		outPath = filepath.Join(root, outPath)
	}
	svgPath := strings.TrimSuffix(outPath, filepath.Ext(outPath)) + ".svg"
	if err := os.WriteFile(svgPath, []byte(r.chart()), 0o644); err != nil {
		logf("%v", err)
		return 2
	}
	if err := os.WriteFile(outPath, []byte(r.markdown(filepath.Base(svgPath))+costSection(outPath)), 0o644); err != nil {
		logf("%v", err)
		return 2
	}
	logf("wrote %s and %s", rel(root, outPath), rel(root, svgPath))
	if failed {
		logf("some measurements failed (see the report)")
		return 1
	}
	return 0
}

// floorSpec builds the runner's echofn like the dev runner builds functions.
func floorSpec(ctx context.Context, root, dir string) (runtimeapi.Spec, error) {
	bin := filepath.Join(dir, floorFn)
	cmd := exec.CommandContext(ctx, goTool(), "build", "-tags", "lambda.norpc", "-trimpath", "-ldflags", "-s -w", "-o", bin,
		"./scripts/runner/testfn/testdata/echofn")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		return runtimeapi.Spec{}, fmt.Errorf("build echofn: %w\n%s", err, out)
	}
	return runtimeapi.Spec{Name: floorFn, Binary: bin, Dir: dir, Timeout: 10 * time.Second, MemoryMB: 128, MaxProcesses: 4,
		Env: map[string]string{"ECHO_SECRET": "floor-secret-0123456789"}, Logs: io.Discard}, nil
}

func sizes(ctx context.Context, root, dir string, r *results) error {
	names, err := budget.Functions(root)
	if err != nil {
		return err
	}
	bins, err := budget.BuildAll(ctx, root, dir, names, budget.DeployEnv, runtime.NumCPU())
	if err != nil {
		return err
	}
	r.Sizes, err = budget.Check(ctx, root, bins)
	return err
}

func rel(root, p string) string {
	if r, err := filepath.Rel(root, p); err == nil {
		return r
	}
	return p
}

// machine describes where the numbers come from.
type machine struct {
	CPU, Mem, OS, Arch, Go string
	CPUs                   int
	LoadBefore, LoadAfter  string
}

func readMachine() machine {
	m := machine{CPU: "unknown CPU", Mem: "unknown memory", OS: runtime.GOOS, Arch: runtime.GOARCH, Go: runtime.Version(),
		CPUs: runtime.NumCPU(), LoadBefore: loadAvg()}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPU = strings.TrimSpace(v)
				break
			}
		}
	}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		var kb int64
		if _, err := fmt.Sscanf(string(b), "MemTotal: %d kB", &kb); err == nil {
			m.Mem = fmt.Sprintf("%.0f GiB RAM", float64(kb)/(1<<20))
		}
	}
	return m
}

func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "n/a"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "n/a"
	}
	return strings.Join(f[:3], " ")
}

// costSection is the "Cost per million requests" section of the report being
// replaced (go run ./scripts/cost-model writes it): kept as it is.
func costSection(path string) string {
	const begin, end = "<!-- cost-model:begin", "<!-- cost-model:end -->"
	old, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	s := string(old)
	i, j := strings.Index(s, begin), strings.Index(s, end)
	if i < 0 || j < i {
		return ""
	}
	return "\n" + s[i:j+len(end)] + "\n"
}
