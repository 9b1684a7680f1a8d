package budget

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func root(t *testing.T) string {
	t.Helper()
	r, err := ModuleRoot(".")
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestClassOfAssignsBudgetsByPrefixAndRefusesUnknownFunctions(t *testing.T) {
	cases := []struct {
		name   string
		class  string
		budget int64
		err    bool
	}{
		{"token-clerk", "bridge", 8 * MB, false},
		{"token-better-auth", "bridge", 8 * MB, false},
		{"x402-report", "x402", 20 * MB, false},
		{"x402-reconcile", "x402", 20 * MB, false},
		{"image-resize", "", 0, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := ClassOf(c.name)
			if (err != nil) != c.err {
				t.Fatalf("err = %v, want error %v", err, c.err)
			}
			if got.Name != c.class || got.Budget != c.budget {
				t.Fatalf("class = %+v, want %s %d", got, c.class, c.budget)
			}
		})
	}
}

func TestEveryFunctionHasABudget(t *testing.T) {
	names, err := Functions(root(t))
	if err != nil {
		t.Fatal(err)
	}
	if len(names) < 9 {
		t.Fatalf("found only %d functions: %v", len(names), names)
	}
	for _, n := range names {
		if _, err := ClassOf(n); err != nil {
			t.Error(err)
		}
	}
}

func TestForbiddenInMatchesPackagePrefixesOnly(t *testing.T) {
	c := Class{Forbidden: []string{"github.com/ethereum/go-ethereum"}}
	deps := []string{"github.com/ethereum/go-ethereum", "github.com/ethereum/go-ethereum/crypto",
		"github.com/ethereum/go-ethereum-lookalike", "github.com/golang-jwt/jwt/v5"}
	got := c.ForbiddenIn(deps)
	if strings.Join(got, ",") != "github.com/ethereum/go-ethereum,github.com/ethereum/go-ethereum/crypto" {
		t.Fatalf("forbidden = %v", got)
	}
}

// TestBridgesDoNotLinkGoEthereum reads the real import graph of every bridge on
// the deployment platform (deterministic, no build needed).
func TestBridgesDoNotLinkGoEthereum(t *testing.T) {
	r := root(t)
	names, err := Functions(r)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	bridges := 0
	for _, n := range names {
		c, _ := ClassOf(n)
		if c.Name != "bridge" {
			continue
		}
		bridges++
		deps, err := Deps(ctx, r, n)
		if err != nil {
			t.Fatal(err)
		}
		if !containsPrefix(deps, "github.com/golang-jwt/jwt/v5") {
			t.Fatalf("%s: dependency list looks wrong (no golang-jwt): %v", n, deps)
		}
		if bad := c.ForbiddenIn(deps); len(bad) > 0 {
			t.Errorf("%s links %v", n, bad)
		}
	}
	if bridges != 8 { // seven providers and the wallet bridge
		t.Fatalf("checked %d bridges, want 8", bridges)
	}
}

func containsPrefix(deps []string, p string) bool {
	for _, d := range deps {
		if strings.HasPrefix(d, p) {
			return true
		}
	}
	return false
}

func TestResultAndTableFlagOverBudgetAndForbidden(t *testing.T) {
	bridge, _ := ClassOf("token-x")
	res := []Result{
		{Function: "token-ok", Class: bridge, Size: 6 * MB},
		{Function: "token-big", Class: bridge, Size: 8*MB + 1},
		{Function: "token-eth", Class: bridge, Size: 7 * MB, Forbidden: []string{"github.com/ethereum/go-ethereum/crypto"}},
	}
	wantOK := []bool{true, false, false}
	for i, r := range res {
		if r.OK() != wantOK[i] {
			t.Errorf("%s OK = %v", r.Function, r.OK())
		}
	}
	var b bytes.Buffer
	if err := WriteTable(&b, res); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{"token-ok", "6.00", "75%", "OVER BUDGET", "LINKS github.com/ethereum/go-ethereum/crypto"} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
}

// TestBuildFlagsMatchTheMakefile: the size check measures what `make build` ships.
func TestBuildFlagsMatchTheMakefile(t *testing.T) {
	mk, err := os.ReadFile(filepath.Join(root(t), "Makefile"))
	if err != nil {
		t.Fatal(err)
	}
	var flags, goenv string
	for _, l := range strings.Split(string(mk), "\n") {
		if k, v, ok := strings.Cut(l, ":="); ok {
			switch strings.TrimSpace(k) {
			case "LAMBDA_FLAGS":
				flags = strings.TrimSpace(v)
			case "LAMBDA_GOENV":
				goenv = strings.TrimSpace(v)
			}
		}
	}
	want := strings.Join(BuildFlags[:4], " ") + ` -ldflags="` + BuildFlags[5] + `"`
	if flags != want {
		t.Fatalf("Makefile LAMBDA_FLAGS = %q, size check builds with %q", flags, want)
	}
	for _, kv := range DeployEnv {
		if !strings.Contains(" "+goenv+" ", " "+kv+" ") {
			t.Fatalf("Makefile LAMBDA_GOENV = %q lacks %s", goenv, kv)
		}
	}
}

func TestFlagsStringQuotesTheLinkerFlags(t *testing.T) {
	if got := FlagsString(); got != `-tags lambda.norpc -trimpath -buildvcs=false -ldflags "-s -w -buildid="` {
		t.Fatalf("FlagsString() = %s", got)
	}
}
