// Package budget builds every function the way it is deployed (linux/arm64,
// static, stripped) and checks the binary-size budgets and the dependency rules
// of the performance budgets (docs/benchmarks.md). Sizes are deterministic for a given toolchain and go.sum, so they
// are asserted (make size-check fails); times are only reported (scripts/bench).
package budget

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"text/tabwriter"
)

// MB is a decimal megabyte: budgets are read the strict way (8 MB = 8,000,000 bytes).
const MB = 1_000_000

// Class is a kind of function with its own budget.
type Class struct {
	Name   string
	Prefix string // functions/<Prefix>…
	Budget int64  // bytes
	// Forbidden import path prefixes: a function of this class must not link them.
	Forbidden []string
}

// Classes are the binary-size budgets. A function matching no class fails the
// check: a new function must be given a budget, not slip through.
var Classes = []Class{
	{Name: "bridge", Prefix: "token-", Budget: 8 * MB,
		// Bridges sit on every page load: go-ethereum (size, init work) and pgx have no business there.
		Forbidden: []string{"github.com/ethereum/go-ethereum", "github.com/jackc/pgx"}},
	{Name: "x402", Prefix: "x402-", Budget: 20 * MB},
}

// ClassOf returns the class of function name.
func ClassOf(name string) (Class, error) {
	for _, c := range Classes {
		if strings.HasPrefix(name, c.Prefix) {
			return c, nil
		}
	}
	return Class{}, fmt.Errorf("function %s has no size budget: add a class to scripts/internal/budget", name)
}

// BuildFlags are the Makefile's LAMBDA_FLAGS (what `make build` and `sam build` use).
var BuildFlags = []string{"-tags", "lambda.norpc", "-trimpath", "-buildvcs=false", "-ldflags", "-s -w -buildid="}

// FlagsString renders BuildFlags for a shell ("-s -w -buildid=" quoted).
func FlagsString() string {
	out := make([]string, len(BuildFlags))
	for i, f := range BuildFlags {
		if strings.Contains(f, " ") {
			f = `"` + f + `"`
		}
		out[i] = f
	}
	return strings.Join(out, " ")
}

// DeployEnv is the environment of a deployment build.
var DeployEnv = []string{"GOOS=linux", "GOARCH=arm64", "CGO_ENABLED=0"}

// Functions lists the function names under root/functions (directories with a main.go).
func Functions(root string) ([]string, error) {
	entries, err := os.ReadDir(filepath.Join(root, "functions"))
	if err != nil {
		return nil, err
	}
	var names []string
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		if _, err := os.Stat(filepath.Join(root, "functions", e.Name(), "main.go")); err == nil {
			names = append(names, e.Name())
		}
	}
	sort.Strings(names)
	return names, nil
}

// Build compiles function name into dir/name with extra environment (nil for the
// host platform) and returns the binary's path.
func Build(ctx context.Context, root, dir, name string, env []string) (string, error) {
	out := filepath.Join(dir, name)
	args := append([]string{"build"}, BuildFlags...)
	args = append(args, "-o", out, "./functions/"+name)
	cmd := exec.CommandContext(ctx, goTool(), args...)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), env...)
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build %s: %w\n%s", name, err, b)
	}
	return out, nil
}

// BuildAll builds every function in parallel (bounded) and returns their paths by name.
func BuildAll(ctx context.Context, root, dir string, names []string, env []string, parallel int) (map[string]string, error) {
	if parallel < 1 {
		parallel = 1
	}
	var (
		mu   sync.Mutex
		wg   sync.WaitGroup
		errs []error
		sem  = make(chan struct{}, parallel)
		out  = map[string]string{}
	)
	for _, n := range names {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			p, err := Build(ctx, root, dir, n, env)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, err)
				return
			}
			out[n] = p
		}()
	}
	wg.Wait()
	return out, errors.Join(errs...)
}

// Deps returns the non-standard packages function name links on the deployment platform.
func Deps(ctx context.Context, root, name string) ([]string, error) {
	cmd := exec.CommandContext(ctx, goTool(), "list", "-deps", "-tags", "lambda.norpc",
		"-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", "./functions/"+name)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), DeployEnv...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	b, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("go list %s: %w\n%s", name, err, stderr.Bytes())
	}
	var deps []string
	for _, l := range strings.Split(string(b), "\n") {
		if l = strings.TrimSpace(l); l != "" {
			deps = append(deps, l)
		}
	}
	return deps, nil
}

// ForbiddenIn returns the packages in deps that class c forbids.
func (c Class) ForbiddenIn(deps []string) []string {
	var bad []string
	for _, d := range deps {
		for _, f := range c.Forbidden {
			if d == f || strings.HasPrefix(d, f+"/") {
				bad = append(bad, d)
			}
		}
	}
	return bad
}

// Result is one function's verdict.
type Result struct {
	Function  string
	Class     Class
	Size      int64
	Forbidden []string // forbidden packages it links
}

// OK reports whether the function is within budget and links nothing forbidden.
func (r Result) OK() bool { return r.Size <= r.Class.Budget && len(r.Forbidden) == 0 }

// Check measures binaries (name → path) and checks dependencies.
func Check(ctx context.Context, root string, bins map[string]string) ([]Result, error) {
	var res []Result
	for _, n := range slices.Sorted(maps.Keys(bins)) {
		c, err := ClassOf(n)
		if err != nil {
			return nil, err
		}
		st, err := os.Stat(bins[n])
		if err != nil {
			return nil, err
		}
		r := Result{Function: n, Class: c, Size: st.Size()}
		if len(c.Forbidden) > 0 {
			deps, err := Deps(ctx, root, n)
			if err != nil {
				return nil, err
			}
			r.Forbidden = c.ForbiddenIn(deps)
		}
		res = append(res, r)
	}
	return res, nil
}

// WriteTable prints the results as an aligned table.
func WriteTable(w io.Writer, res []Result) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "function\tclass\tsize (MB)\tbudget (MB)\tused\tstatus")
	for _, r := range res {
		status := "ok"
		switch {
		case r.Size > r.Class.Budget:
			status = "OVER BUDGET"
		case len(r.Forbidden) > 0:
			status = "LINKS " + strings.Join(r.Forbidden[:min(3, len(r.Forbidden))], ", ")
		}
		fmt.Fprintf(tw, "%s\t%s\t%.2f\t%.0f\t%.0f%%\t%s\n", r.Function, r.Class.Name,
			float64(r.Size)/MB, float64(r.Class.Budget)/MB, 100*float64(r.Size)/float64(r.Class.Budget), status)
	}
	return tw.Flush()
}

func goTool() string {
	if g := os.Getenv("GO"); g != "" {
		return g
	}
	return "go"
}

// ModuleRoot finds the directory holding go.mod, from dir upwards.
func ModuleRoot(dir string) (string, error) {
	d, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return d, nil
		}
		parent := filepath.Dir(d)
		if parent == d {
			return "", errors.New("go.mod not found")
		}
		d = parent
	}
}
