package archcheck

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os/exec"
	"path"
	"slices"
	"strings"
	"sync"
	"testing"
)

const mod = "github.com/insforge/edge-functions-go/"

// pkg is what the rules need from `go list -json`. Paths inside the module are
// relative ("shared/httpapi"); standard and third-party paths stay as they are.
type pkg struct {
	ImportPath string
	Name       string
	Imports    []string
	Deps       []string
}

// graph returns the non-test build graph of args (one `go list -deps -json`),
// keyed by module-relative import path, module packages only.
func graph(t *testing.T, args ...string) map[string]pkg {
	t.Helper()
	cmd := exec.Command("go", append([]string{"list", "-deps", "-json"}, args...)...)
	cmd.Dir = "../../.." // the module root
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list %v: %v\n%s", args, err, stderr.String())
	}
	g := map[string]pkg{}
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var p pkg
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatalf("go list output: %v", err)
		}
		if !strings.HasPrefix(p.ImportPath, mod) {
			continue
		}
		p.ImportPath = rel(p.ImportPath)
		p.Imports = rels(p.Imports)
		p.Deps = rels(p.Deps)
		g[p.ImportPath] = p
	}
	return g
}

var (
	moduleOnce sync.Once
	moduleG    map[string]pkg
	e2eG       map[string]pkg
)

// module is the graph of every package (./...) and, separately, of the e2e-tagged commands.
func module(t *testing.T) (all, e2e map[string]pkg) {
	t.Helper()
	moduleOnce.Do(func() {
		moduleG = graph(t, "./...")
		e2eG = graph(t, "-tags", "e2e", "./scripts/e2e/...")
	})
	if moduleG == nil {
		t.Fatal("the module graph could not be read (see the first failure)")
	}
	// A rule over an empty or partial graph would pass without checking anything.
	for _, want := range []string{"shared/httpapi", "shared/identity", "shared/bridge", "functions/token-clerk", "functions/x402-report", "scripts/runner"} {
		if _, ok := moduleG[want]; !ok {
			t.Fatalf("go list ./... has no %s: the graph is incomplete", want)
		}
	}
	if _, ok := e2eG["scripts/e2e/insforge-stack"]; !ok {
		t.Fatal("go list -tags e2e ./scripts/e2e/... has no scripts/e2e/insforge-stack")
	}
	return moduleG, e2eG
}

func rel(p string) string { return strings.TrimPrefix(p, mod) }

func rels(ps []string) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = rel(p)
	}
	return out
}

func set(xs ...string) map[string]bool {
	m := map[string]bool{}
	for _, x := range xs {
		m[x] = true
	}
	return m
}

func sorted(g map[string]pkg) []pkg {
	ps := make([]pkg, 0, len(g))
	for _, p := range g {
		ps = append(ps, p)
	}
	slices.SortFunc(ps, func(a, b pkg) int { return strings.Compare(a.ImportPath, b.ImportPath) })
	return ps
}

// under reports whether p is dir or inside it.
func under(p, dir string) bool { return p == dir || strings.HasPrefix(p, dir+"/") }

// isTestHelper: a package whose name ends in "test" (httptest-style wrappers, fixtures).
func isTestHelper(p string) bool { return strings.HasSuffix(path.Base(p), "test") }

// edge packages know HTTP statuses and headers; every other shared package is domain.
var edge = set("shared/httpapi", "shared/launch", "shared/tokenedge", "shared/bridge", "shared/tokenwallet", "shared/paywall", "shared/x402report", "shared/x402pass",
	"shared/x402payments", "shared/x402payments/dashboard", "shared/x402reconcile", "shared/x402gateway")

// apps are the application packages functions/* import (edge minus the HTTP libraries).
var apps = set("shared/bridge", "shared/tokenwallet", "shared/x402report", "shared/x402pass", "shared/x402payments", "shared/x402payments/dashboard",
	"shared/x402reconcile", "shared/x402gateway")

// libraries contain no consumers (no apps, no commands).
var libraries = []string{"shared/config", "shared/httpapi", "shared/metrics", "shared/signer", "shared/identity",
	"shared/insforge", "shared/ledger", "shared/siwe", "shared/x402", "shared/facilitator", "shared/paywall", "shared/secretstore",
	"shared/lookupguard", "shared/tokenedge"}

// R1: no domain package reaches shared/httpapi, directly or through another package.
func TestDomainPackagesDoNotImportHTTPAPI(t *testing.T) {
	all, _ := module(t)
	for _, p := range sorted(all) {
		if !under(p.ImportPath, "shared") || edge[p.ImportPath] || strings.HasPrefix(p.ImportPath, "shared/local") ||
			isTestHelper(p.ImportPath) {
			continue
		}
		if slices.Contains(p.Deps, "shared/httpapi") {
			t.Errorf("%s imports shared/httpapi (via %s): domain packages return domain errors; the edge maps them to HTTP",
				p.ImportPath, directVia(all, p, "shared/httpapi"))
		}
	}
}

// directVia names which direct import of p leads to target (target itself if direct).
func directVia(g map[string]pkg, p pkg, target string) string {
	for _, imp := range p.Imports {
		if imp == target {
			return target
		}
	}
	for _, imp := range p.Imports {
		if d, ok := g[imp]; ok && slices.Contains(d.Deps, target) {
			return imp
		}
	}
	return "?"
}

// R2: non-test code never links a *test package, nor the testing package.
func TestNonTestCodeImportsNoTestPackage(t *testing.T) {
	all, e2e := module(t)
	for name, g := range map[string]map[string]pkg{"./...": all, "-tags e2e ./scripts/e2e/...": e2e} {
		for _, p := range sorted(g) {
			if isTestHelper(p.ImportPath) {
				continue
			}
			for _, d := range p.Deps {
				if d == "testing" || (inModule(d) && isTestHelper(d)) {
					t.Errorf("%s imports %s (%s)", p.ImportPath, d, name)
				}
			}
		}
	}
}

// inModule: module paths were made relative above, so they start with a top-level directory
// of the repository (standard and third-party paths never do: std has no such roots, others have a dot).
func inModule(p string) bool {
	switch strings.SplitN(p, "/", 2)[0] {
	case "shared", "functions", "scripts", "infra":
		return true
	}
	return false
}

// R3: bridges never link go-ethereum or pgx (cold start, binary size), nor the x402
// packages that would bring them; a provider's bridge does not link the wallet
// bridge's Sign-In with Ethereum either (secp256k1 and Keccak: about 0.9 MB each).
func TestBridgesLinkNeitherGoEthereumNorPgx(t *testing.T) {
	all, _ := module(t)
	n := 0
	for _, p := range sorted(all) {
		if !strings.HasPrefix(p.ImportPath, "functions/token-") {
			continue
		}
		n++
		for _, d := range p.Deps {
			if under(d, "github.com/ethereum/go-ethereum") || strings.HasPrefix(d, "github.com/jackc/pgx") ||
				under(d, "shared/x402") || under(d, "shared/facilitator") || under(d, "shared/paywall") {
				t.Errorf("%s imports %s", p.ImportPath, d)
			}
			if p.ImportPath != "functions/token-wallet" && (under(d, "shared/siwe") || under(d, "shared/tokenwallet") ||
				strings.HasPrefix(d, "github.com/decred/dcrd/dcrec/secp256k1")) {
				t.Errorf("%s imports %s: only the wallet bridge needs Sign-In with Ethereum", p.ImportPath, d)
			}
		}
	}
	if n == 0 {
		t.Fatal("no functions/token-* package in the graph")
	}
}

// R4: functions/<name> is wiring only: shared/launch plus its application package
// (shared/<name without dashes>; the token-* bridges share shared/bridge and name
// their provider from shared/identity).
func TestFunctionsAreWiringOnly(t *testing.T) {
	all, _ := module(t)
	for _, p := range sorted(all) {
		if !strings.HasPrefix(p.ImportPath, "functions/") {
			continue
		}
		name := path.Base(p.ImportPath)
		want := []string{"shared/launch", "shared/" + strings.ReplaceAll(name, "-", "")}
		switch {
		case name == "token-wallet": // Sign-In with Ethereum: its own application package, no identity provider
		case strings.HasPrefix(name, "token-"):
			want = []string{"shared/bridge", "shared/identity", "shared/launch"}
		}
		got := slices.Sorted(slices.Values(p.Imports))
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Errorf("%s imports %v, want exactly %v", p.ImportPath, got, want)
		}
		if p.Name != "main" {
			t.Errorf("%s is package %s, want main", p.ImportPath, p.Name)
		}
	}
}

// R5: libraries contain no consumers: no command under them, no application package
// imported by them.
func TestLibrariesContainNoConsumers(t *testing.T) {
	all, _ := module(t)
	for _, p := range sorted(all) {
		if !slices.ContainsFunc(libraries, func(l string) bool { return under(p.ImportPath, l) }) {
			continue
		}
		if p.Name == "main" {
			t.Errorf("%s is a command inside a library", p.ImportPath)
		}
		if apps[p.ImportPath] {
			t.Errorf("%s is an application package inside a library", p.ImportPath)
		}
		for _, d := range p.Deps {
			if apps[d] {
				t.Errorf("%s imports %s", p.ImportPath, d)
			}
		}
	}
}

// R6: dependencies point from scripts to the product, never back.
func TestProductDoesNotImportScripts(t *testing.T) {
	all, _ := module(t)
	for _, p := range sorted(all) {
		if !under(p.ImportPath, "shared") && !under(p.ImportPath, "functions") && !under(p.ImportPath, "infra") {
			continue
		}
		for _, d := range p.Deps {
			if under(d, "scripts") {
				t.Errorf("%s imports %s", p.ImportPath, d)
			}
		}
	}
}

// identityFree must not link shared/identity: every provider registers itself
// there in an init, so whatever links identity links every provider (the wallet
// bridge has none; about 0.45 MB of token-wallet).
var identityFree = []string{"shared/tokenedge", "shared/tokenwallet", "functions/token-wallet"}

// R7: the wallet bridge and the token edge it shares with shared/bridge do not
// link shared/identity.
func TestWalletBridgeDoesNotLinkIdentity(t *testing.T) {
	all, _ := module(t)
	for _, v := range identityLinks(all) {
		t.Error(v)
	}
}

// identityLinks reports each package of identityFree that g links
// shared/identity into, with the import chain, and each that g lacks (a
// renamed package would otherwise pass unchecked).
func identityLinks(g map[string]pkg) []string {
	const identity = "shared/identity"
	var out []string
	for _, name := range identityFree {
		p, ok := g[name]
		switch {
		case !ok:
			out = append(out, name+" is not in the build graph: R7 checks nothing for it")
		case slices.Contains(p.Deps, identity):
			out = append(out, fmt.Sprintf("%s links %s (%s): every provider registers there in an init, so this links them all",
				name, identity, strings.Join(importChain(g, name, identity), " → ")))
		}
	}
	return out
}

// importChain is a shortest chain of direct imports from one package to
// another in g (nil when there is none).
func importChain(g map[string]pkg, from, to string) []string {
	prev := map[string]string{from: ""}
	queue := []string{from}
	for len(queue) > 0 {
		cur := queue[0]
		queue = queue[1:]
		if cur == to {
			var chain []string
			for p := to; p != ""; p = prev[p] {
				chain = append(chain, p)
			}
			slices.Reverse(chain)
			return chain
		}
		for _, imp := range g[cur].Imports {
			if _, seen := prev[imp]; !seen {
				prev[imp] = cur
				queue = append(queue, imp)
			}
		}
	}
	return nil
}

// plant returns a copy of g in which from also imports imp, with Deps updated
// for from and every package that links it.
func plant(g map[string]pkg, from, imp string) map[string]pkg {
	out := make(map[string]pkg, len(g))
	for name, p := range g {
		p.Imports, p.Deps = slices.Clone(p.Imports), slices.Clone(p.Deps)
		if name == from || slices.Contains(p.Deps, from) {
			if name == from {
				p.Imports = append(p.Imports, imp)
			}
			for _, d := range append([]string{imp}, g[imp].Deps...) {
				if !slices.Contains(p.Deps, d) {
					p.Deps = append(p.Deps, d)
				}
			}
		}
		out[name] = p
	}
	return out
}

// R7 fails on a planted violation, direct or through another package, naming
// the chain, and on a package it should check that is gone.
func TestWalletBridgeRuleFailsOnAPlantedViolation(t *testing.T) {
	all, _ := module(t)
	if v := identityLinks(all); len(v) != 0 {
		t.Fatalf("the real graph already breaks R7: %v", v)
	}
	missing := maps.Clone(all)
	delete(missing, "shared/tokenedge")
	for _, c := range []struct {
		name string
		g    map[string]pkg
		want []string
	}{
		{"tokenwallet imports identity", plant(all, "shared/tokenwallet", "shared/identity"), []string{
			"shared/tokenwallet links shared/identity (shared/tokenwallet → shared/identity)",
			"functions/token-wallet links shared/identity (functions/token-wallet → shared/tokenwallet → shared/identity)",
		}},
		{"tokenedge reaches identity through signer", plant(all, "shared/signer", "shared/identity"), []string{
			"shared/tokenedge links shared/identity (shared/tokenedge → shared/signer → shared/identity)",
			"shared/tokenwallet links shared/identity (shared/tokenwallet → ",
			"functions/token-wallet links shared/identity (functions/token-wallet → ",
		}},
		{"tokenwallet links bridge again", plant(all, "shared/tokenwallet", "shared/bridge"), []string{
			"shared/tokenwallet links shared/identity (shared/tokenwallet → shared/bridge → shared/identity)",
			"functions/token-wallet links shared/identity (functions/token-wallet → shared/tokenwallet → shared/bridge → ",
		}},
		{"tokenedge is gone", missing, []string{"shared/tokenedge is not in the build graph"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := identityLinks(c.g)
			if len(got) != len(c.want) {
				t.Fatalf("R7 reported %d violations, want %d:\n%s", len(got), len(c.want), strings.Join(got, "\n"))
			}
			for i, w := range c.want {
				if !strings.HasPrefix(got[i], w) {
					t.Errorf("violation %d = %q, want it to start with %q", i, got[i], w)
				}
			}
		})
	}
}
