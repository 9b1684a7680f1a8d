package main

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/insforge/edge-functions-go/scripts/internal/budget"
	"github.com/insforge/edge-functions-go/scripts/runner"
	"github.com/insforge/edge-functions-go/scripts/runner/runtimeapi"
	"github.com/insforge/edge-functions-go/shared/identity"
)

// TestHarnessMeasuresTheFloorFunctionThroughTheRuntimeAPI runs the cold-start and
// load harnesses on the runner's echofn (a real binary over the real Runtime API),
// with tiny counts: it checks what is recorded, never how fast it was.
func TestHarnessMeasuresTheFloorFunctionThroughTheRuntimeAPI(t *testing.T) {
	root, err := budget.ModuleRoot(".")
	if err != nil {
		t.Fatal(err)
	}
	// The build has no deadline of its own (a cold build cache on a loaded machine takes minutes); only the
	// measurement below is bounded.
	spec, err := floorSpec(t.Context(), root, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	specs := map[string]runtimeapi.Spec{floorFn: spec}
	env := &runner.Runner{} // no Pools: "Missing" below is a function the runner does not have
	logf := func(string, ...any) {}

	cold := runCold(ctx, env, specs, []coldCase{floorCold, {Fn: "Missing", Dir: "missing", Event: "x.json"}}, root, 3, logf)
	if cold[0].Err != "" || len(cold[0].Total) != 3 || len(cold[0].Init) != 3 {
		t.Fatalf("floor cold starts: %+v", cold[0])
	}
	for i := range cold[0].Total {
		if cold[0].Init[i] <= 0 || cold[0].Total[i] < cold[0].Init[i] {
			t.Fatalf("init %v must be positive and within exec → response %v", cold[0].Init[i], cold[0].Total[i])
		}
	}
	if cold[1].Err == "" || len(cold[1].Total) != 0 {
		t.Fatalf("a missing function must be reported, not measured: %+v", cold[1])
	}

	var floorLoad loadCase
	for _, c := range loadCases {
		if c.Fn == floorFn {
			floorLoad = c
		}
	}
	res, err := runLoad(ctx, env, specs, floorLoad, loadOpts{Concurrency: 2, Procs: 1, Warmup: 2, Requests: 10, Duration: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Latencies) != 10 || res.Errors != 0 || !res.Complete || res.throughput() <= 0 || res.JWKSCounted {
		t.Fatalf("load result: %d latencies, %d errors (%s), complete %v", len(res.Latencies), res.Errors, res.FirstError, res.Complete)
	}

	wrong := floorLoad
	wrong.Status = 418
	res, err = runLoad(ctx, env, specs, wrong, loadOpts{Concurrency: 1, Procs: 1, Warmup: 1, Requests: 3, Duration: time.Minute})
	if err == nil {
		t.Fatalf("an unexpected status must fail the run: %+v", res)
	}

	trace, err := runInitTrace(ctx, spec.Binary, 2)
	if err != nil || trace.ClockMS <= 0 || len(trace.Top) == 0 {
		t.Fatalf("init trace %+v: %v", trace, err)
	}
}

func TestCountingProxyCountsEveryRequest(t *testing.T) {
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, r.URL.Path) }))
	defer upstream.Close()
	p, err := startCountingProxy(upstream.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer p.srv.Close()
	for range 3 {
		r, err := http.Get(p.url + "/clerk/.well-known/jwks.json")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(r.Body)
		r.Body.Close()
		if string(b) != "/clerk/.well-known/jwks.json" {
			t.Fatalf("proxied body %q", b)
		}
	}
	if n := p.n.Load(); n != 3 {
		t.Fatalf("counted %d, want 3", n)
	}
}

// The cold-start list is template.yaml's functions, each with its sample event:
// every declared provider bridge is measured with its valid credential.
func TestColdCasesAreTheTemplatesFunctions(t *testing.T) {
	root, err := budget.ModuleRoot(".")
	if err != nil {
		t.Fatal(err)
	}
	cases, err := templateColdCases(root)
	if err != nil {
		t.Fatal(err)
	}
	byDir := map[string]coldCase{}
	for _, c := range cases {
		byDir[c.Dir] = c
	}
	for _, b := range identity.Bridges {
		c, ok := byDir["token-"+b.Slug]
		if !ok || c.Event != "token-"+b.Slug+"-valid.json" || c.Status != 200 {
			t.Errorf("bridge %s: cold case %+v, want its valid event answered 200", b.Slug, c)
		}
	}
	for _, dir := range []string{"x402-report", "x402-payments", "x402-reconcile", "x402-gateway"} {
		if c := byDir[dir]; c.Event == "" {
			t.Errorf("%s: no sample event in %+v", dir, c)
		}
	}
}
