package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
)

// microPkg is a package and the benchmarks of it that run, floors next to their subjects.
type microPkg struct {
	Pkg     string
	Benches []string
}

var microPkgs = []microPkg{
	{"./shared/bridge", []string{"FloorRS256", "VerifyMintRS256", "BridgeRS256", "FloorEdDSA", "VerifyMintEdDSA", "BridgeEdDSA",
		"BridgeOpaqueStytch", "BridgeOverhead", "Mint"}},
	{"./shared/x402", []string{"FloorEcrecover", "Verify", "TransferDigest", "DecodePaymentPayload", "Challenge"}},
	{"./shared/metrics", []string{"Count"}},
}

// ratio is a subject benchmark against its floor, with a budget.
type ratio struct {
	Subject, Floor string
	Budget         float64 // max subject/floor; 0 = reported only
	What           string
}

var ratios = []ratio{
	{"VerifyMintRS256", "FloorRS256", 1.5, "verify+mint, RS256 (provider JWT → InsForge HS256)"},
	{"VerifyMintEdDSA", "FloorEdDSA", 1.5, "verify+mint, EdDSA"},
	{"BridgeRS256", "FloorRS256", 0, "whole bridge handler, RS256 (limits, CORS, request id, log, metric, JSON)"},
	{"BridgeEdDSA", "FloorEdDSA", 0, "whole bridge handler, EdDSA"},
	{"BridgeOpaqueStytch", "", 0, "whole bridge handler, Stytch session via a loopback API"},
	{"Verify", "FloorEcrecover", 0, "EIP-3009 local verification (budget 150 µs/op)"},
	{"DecodePaymentPayload", "", 0, "payment header decode (base64 + JSON)"},
	{"TransferDigest", "", 0, "EIP-712 TransferWithAuthorization digest (go-ethereum apitypes), inside Verify"},
	{"Challenge", "", 0, "402 challenge: v2 PAYMENT-REQUIRED header + v1 JSON body"},
	{"BridgeOverhead", "", 0, "bridge handler around verify+mint (a provider that accepts instantly)"},
	{"Mint", "", 0, "InsForge HS256 token mint alone (shared/signer)"},
	{"Count", "", 0, "one CloudWatch EMF metric line"},
}

// EIP3009BudgetNs is the budget for local EIP-3009 verification.
const EIP3009BudgetNs = 150_000

// microResult is the median of each benchmark over the rounds.
type microResult struct {
	Rounds int
	Runs   map[string][]benchLine
}

// ratio is the median over rounds of subject/floor measured in the same round
// (seconds apart), which cancels most of the drift of outside load.
func (m microResult) ratio(subject, floor string) (float64, bool) {
	s, f := m.Runs[subject], m.Runs[floor]
	var rs []float64
	for i := 0; i < len(s) && i < len(f); i++ {
		if f[i].NsOp > 0 {
			rs = append(rs, s[i].NsOp/f[i].NsOp)
		}
	}
	if len(rs) == 0 {
		return 0, false
	}
	return median(rs), true
}

func (m microResult) med(name string) (benchLine, bool) {
	ls := m.Runs[name]
	if len(ls) == 0 {
		return benchLine{}, false
	}
	var ns, b, a []float64
	for _, l := range ls {
		ns, b, a = append(ns, l.NsOp), append(b, l.BOp), append(a, l.Allocs)
	}
	return benchLine{Name: name, NsOp: median(ns), BOp: median(b), Allocs: median(a)}, true
}

func (m microResult) names() []string {
	var n []string
	for k := range m.Runs {
		n = append(n, k)
	}
	sort.Strings(n)
	return n
}

// runMicro compiles each package's test binary once, then runs every benchmark
// in its own process, round after round, alternating the order (forward, then
// backward) so neither a floor nor its subject always runs first. A failed run
// fails the section: a benchmark that cannot run is a broken benchmark.
func runMicro(ctx context.Context, root, dir string, rounds int, benchtime string, log func(string, ...any)) (microResult, error) {
	res := microResult{Rounds: rounds, Runs: map[string][]benchLine{}}
	type job struct{ bin, pkg, bench string }
	var jobs []job
	for _, p := range microPkgs {
		bin := filepath.Join(dir, strings.ReplaceAll(strings.Trim(p.Pkg, "./"), "/", "_")+".test")
		cmd := exec.CommandContext(ctx, goTool(), "test", "-c", "-o", bin, p.Pkg)
		cmd.Dir = root
		// Measure what Lambda runs: deployed binaries are CGO_ENABLED=0, where
		// go-ethereum recovers signatures in pure Go (decred), about 3x slower than
		// the libsecp256k1 a host build with cgo would link.
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			return res, fmt.Errorf("go test -c %s: %w\n%s", p.Pkg, err, out)
		}
		for _, b := range p.Benches {
			jobs = append(jobs, job{bin, p.Pkg, b})
		}
	}
	for r := 1; r <= rounds; r++ {
		log("micro-benchmarks: round %d/%d", r, rounds)
		order := slices.Clone(jobs)
		if r%2 == 0 {
			slices.Reverse(order)
		}
		for _, j := range order {
			cmd := exec.CommandContext(ctx, j.bin, "-test.run", "^$", "-test.bench", "^Benchmark"+j.bench+"$", "-test.benchmem",
				"-test.benchtime", benchtime, "-test.count", "1")
			cmd.Dir = filepath.Join(root, j.pkg) // tests read testdata relative to their package
			var out bytes.Buffer
			cmd.Stdout, cmd.Stderr = &out, &out
			if err := cmd.Run(); err != nil {
				return res, fmt.Errorf("%s Benchmark%s: %w\n%s", j.pkg, j.bench, err, out.Bytes())
			}
			lines := parseBench(&out)
			if len(lines) != 1 || lines[0].Name != j.bench {
				return res, fmt.Errorf("%s Benchmark%s: no result in\n%s", j.pkg, j.bench, out.Bytes())
			}
			res.Runs[j.bench] = append(res.Runs[j.bench], lines[0])
		}
	}
	return res, nil
}

func goTool() string {
	if g := os.Getenv("GO"); g != "" {
		return g
	}
	return "go"
}
