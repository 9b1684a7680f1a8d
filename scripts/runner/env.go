package runner

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/insforge/edge-functions-go/scripts/internal/samtemplate"
	"github.com/insforge/edge-functions-go/scripts/runner/runtimeapi"
	"github.com/insforge/edge-functions-go/shared/localidentity/devserver"
	"github.com/insforge/edge-functions-go/shared/localinsforge"
)

// Options configure Start.
type Options struct {
	Template           string            // path of template.yaml
	EnvVarsFile        string            // SAM --env-vars JSON file (optional)
	ParameterOverrides map[string]string // CloudFormation parameter overrides
	// Dev enables the zero-config development profile. Without it the functions get
	// exactly what the template, the shell and the env-vars file say (like sam local).
	Dev        bool
	IssuerAddr string   // dev issuer listen address (127.0.0.1:0 for any port)
	Only       []string // logical ids to prepare (empty: all)
	MaxProcs   int      // processes per function
	Logs       io.Writer
	Log        *slog.Logger
	CacheDir   string // where host binaries go (default <repo>/.cache/dev)
	// InsforgeAddr is where the local InsForge stack listens ("" = any loopback port).
	InsforgeAddr string
	// Devnet settles x402 payments on a local devnet (DevChain) instead of the
	// mock facilitator; payers get test USDG from its faucet.
	Devnet bool
}

// Runner is a prepared local environment.
type Runner struct {
	Template  *samtemplate.Template
	Functions []samtemplate.Function
	Pools     map[string]*runtimeapi.Pool
	Issuer    *devserver.Server
	JWTSecret string // the dev INSFORGE_JWT_SECRET when generated here
	Insforge  *localinsforge.Stack
	// InsforgeErr is why the local InsForge stack did not start (nil when it did,
	// or when no function needed it).
	InsforgeErr error
	Upstream    *Upstream // the local API sold by the x402 gateway
	Chain       *DevChain // the local devnet (Options.Devnet)
	Vars        map[string]map[string]string
	Notes       []string
	BuildTime   time.Duration
	closers     []func()
}

// Start builds and prepares everything; processes start on the first invocation.
func Start(ctx context.Context, o Options) (*Runner, error) {
	if o.Log == nil {
		o.Log = slog.Default()
	}
	if o.Logs == nil {
		o.Logs = os.Stderr
	}
	t, err := samtemplate.Load(o.Template)
	if err != nil {
		return nil, err
	}
	params, missing, err := t.ParameterValues(o.ParameterOverrides)
	if err != nil {
		return nil, err
	}
	fns, err := t.Functions(params)
	if err != nil {
		return nil, err
	}
	if len(o.Only) > 0 {
		var keep []samtemplate.Function
		for _, id := range o.Only {
			found := false
			for _, f := range fns {
				if f.LogicalID == id {
					keep, found = append(keep, f), true
				}
			}
			if !found {
				return nil, fmt.Errorf("no function %q in %s", id, o.Template)
			}
		}
		fns = keep
	}
	// A declared function without its package is a template error, reported before anything starts.
	for _, f := range fns {
		if f.Package == "" {
			return nil, fmt.Errorf("%s: %s: no Metadata.GoPackage", o.Template, f.LogicalID)
		}
		if !isDir(filepath.Join(t.Dir(), f.Package)) {
			return nil, fmt.Errorf("%s: %s: Metadata.GoPackage %s does not exist", o.Template, f.LogicalID, f.Package)
		}
	}
	e := &Runner{Template: t, Functions: fns, Pools: map[string]*runtimeapi.Pool{}, Vars: map[string]map[string]string{}}
	ok := false
	defer func() {
		if !ok {
			e.Close()
		}
	}()
	if len(missing) > 0 && !o.Dev {
		e.Notes = append(e.Notes, "parameters without a value (their variables stay unset): "+strings.Join(missing, ", "))
	}

	fileVars, err := readEnvVars(o.EnvVarsFile)
	if err != nil {
		return nil, err
	}
	var profile *devProfile
	if o.Dev {
		if profile, err = e.startDev(ctx, o, fns, fileVars); err != nil {
			return nil, err
		}
	}

	// Build every function in one go build (parallel, cached by Go).
	cache := o.CacheDir
	if cache == "" {
		cache = filepath.Join(t.Dir(), ".cache", "dev")
	}
	binDir, err := filepath.Abs(filepath.Join(cache, "bin"))
	if err != nil {
		return nil, err
	}
	var pkgs []string
	for _, f := range fns {
		pkgs = append(pkgs, f.Package)
	}
	if len(pkgs) > 0 {
		began := time.Now()
		if err := build(ctx, t.Dir(), binDir, pkgs); err != nil {
			return nil, err
		}
		e.BuildTime = time.Since(began)
	}

	for _, f := range fns {
		vars := resolveVars(f, fileVars, profile)
		e.Vars[f.LogicalID] = vars
		max := o.MaxProcs
		if max <= 0 {
			max = 4
		}
		e.Pools[f.LogicalID] = runtimeapi.NewPool(runtimeapi.Spec{
			Name:         f.LogicalID,
			Binary:       filepath.Join(binDir, filepath.Base(f.Package)),
			Dir:          binDir,
			Env:          vars,
			Timeout:      f.Timeout,
			MemoryMB:     f.MemoryMB,
			MaxProcesses: max,
			Logs:         o.Logs,
		})
	}
	ok = true
	return e, nil
}

// Close stops every process, the dev issuer and the local stack.
func (e *Runner) Close() {
	for _, p := range e.Pools {
		p.Close()
	}
	for i := len(e.closers) - 1; i >= 0; i-- {
		e.closers[i]()
	}
	e.closers = nil
}

func build(ctx context.Context, dir, binDir string, pkgs []string) error {
	if err := os.MkdirAll(binDir, 0o755); err != nil {
		return err
	}
	// Host OS/arch (the runner executes the binaries directly); the same tags as
	// the Lambda build, and CGO off like the deployed binary.
	args := append([]string{"build", "-tags", "lambda.norpc", "-o", binDir + string(os.PathSeparator)}, pkgs...)
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("go build %s: %w\n%s", strings.Join(pkgs, " "), err, out.String())
	}
	return nil
}

// envVarsFile is SAM's --env-vars format: {"Parameters": {...}} for every function
// and {"<LogicalId>": {...}} for one.
type envVarsFile map[string]map[string]any

func readEnvVars(path string) (envVarsFile, error) {
	if path == "" {
		return envVarsFile{}, nil
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("--env-vars: %w", err)
	}
	var f envVarsFile
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("--env-vars %s: expected {\"Parameters\": {...}, \"<LogicalId>\": {...}}: %w", path, err)
	}
	return f, nil
}

func (f envVarsFile) lookup(fn, name string) (string, bool) {
	if v, ok := f[fn][name]; ok {
		return stringify(v), true
	}
	if v, ok := f["Parameters"][name]; ok {
		return stringify(v), true
	}
	return "", false
}

func stringify(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case nil:
		return ""
	default:
		return fmt.Sprint(x)
	}
}

// resolveVars layers a function's environment, lowest first: template value → dev
// profile → shell variable of the same name → env-vars file (Parameters, then the
// function's own block). Only variables declared in the template are passed, as in
// `sam local`; an unset, undeclared or empty result is left out.
func resolveVars(f samtemplate.Function, file envVarsFile, p *devProfile) map[string]string {
	out := map[string]string{}
	for name, v := range f.Env {
		val, set := v.Value, v.Set
		if p != nil {
			if dv, ok := p.value(f.LogicalID, name); ok {
				val, set = dv, true
			}
		}
		if sv, ok := os.LookupEnv(name); ok {
			val, set = sv, true
		}
		if fv, ok := file.lookup(f.LogicalID, name); ok {
			val, set = fv, true
		}
		if set && val != "" {
			out[name] = val
		}
	}
	return out
}

// userSet reports whether the developer configured name for fn (shell or file).
func userSet(file envVarsFile, fn, name string) bool {
	if _, ok := os.LookupEnv(name); ok {
		return true
	}
	_, ok := file.lookup(fn, name)
	return ok
}

func isDir(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.IsDir()
}

func randomSecret() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
