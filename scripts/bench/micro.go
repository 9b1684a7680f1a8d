package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
)

// microPkg is a package whose benchmarks run, and the ones that do.
type microPkg struct {
	Pkg   string
	Bench string // -test.bench regexp
}

var microPkgs = []microPkg{
	{"./shared/bridge", "."},
	{"./shared/x402", "."},
	{"./shared/metrics", "."},
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
}

// EIP3009BudgetNs is issue 7's budget for local EIP-3009 verification.
const EIP3009BudgetNs = 150_000

// microResult is the median of each benchmark over the rounds.
type microResult struct {
	Rounds int
	Runs   map[string][]benchLine
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

// runMicro compiles each package's test binary once, then runs all of them in
// rounds (-count 1 each), so a burst of load from elsewhere on the machine hits a
// floor and its subject alike; the report takes medians across rounds.
func runMicro(ctx context.Context, root, dir string, rounds int, benchtime string, log func(string, ...any)) (microResult, error) {
	res := microResult{Rounds: rounds, Runs: map[string][]benchLine{}}
	var bins []string
	for _, p := range microPkgs {
		bin := filepath.Join(dir, strings.ReplaceAll(strings.Trim(p.Pkg, "./"), "/", "_")+".test")
		cmd := exec.CommandContext(ctx, goTool(), "test", "-c", "-o", bin, p.Pkg)
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			return res, fmt.Errorf("go test -c %s: %w\n%s", p.Pkg, err, out)
		}
		bins = append(bins, bin)
	}
	for r := 1; r <= rounds; r++ {
		log("micro-benchmarks: round %d/%d", r, rounds)
		for i, p := range microPkgs {
			cmd := exec.CommandContext(ctx, bins[i], "-test.run", "^$", "-test.bench", p.Bench, "-test.benchmem",
				"-test.benchtime", benchtime, "-test.count", "1")
			cmd.Dir = filepath.Join(root, p.Pkg) // tests read testdata relative to their package
			cmd.Env = os.Environ()
			var out bytes.Buffer
			cmd.Stdout, cmd.Stderr = &out, &out
			if err := cmd.Run(); err != nil {
				return res, fmt.Errorf("%s benchmarks: %w\n%s", p.Pkg, err, out.Bytes())
			}
			for _, l := range parseBench(&out) {
				res.Runs[l.Name] = append(res.Runs[l.Name], l)
			}
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
