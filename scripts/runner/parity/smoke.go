package parity

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/insforge/edge-functions-go/scripts/runner"
	"github.com/insforge/edge-functions-go/scripts/runner/apigateway"
	"github.com/insforge/edge-functions-go/scripts/runner/runtimeapi"
	"github.com/insforge/edge-functions-go/shared/x402/payer"
)

// SmokeOptions configures Smoke (the `make arm64-smoke` command).
type SmokeOptions struct {
	Template    string   // SAM template
	Artifacts   string   // sam build output: <Artifacts>/<LogicalId>/bootstrap
	ExecWrapper []string // program that runs a linux/arm64 binary on this host (empty: run directly)
	Events      string   // sample events directory
	Out         io.Writer
}

// Smoke runs what ships: it boots every linux/arm64 artifact that `sam build`
// produced under user-mode emulation through the local runner, answers each
// function's sample events, and checks every answer equals the host build's.
// Emulated times are printed, never asserted.
func Smoke(ctx context.Context, o SmokeOptions) error {
	out := o.Out
	if out == nil {
		out = os.Stdout
	}
	began := time.Now()

	wrap := o.ExecWrapper
	if len(wrap) > 0 {
		if _, err := exec.LookPath(wrap[0]); err != nil {
			return fmt.Errorf("%s not found: install qemu-user-static (scripts/ensure-qemu)", wrap[0])
		}
	}
	logs := &Tail{}
	env, err := runner.Start(ctx, runner.Options{
		Template: o.Template, Dev: true, IssuerAddr: "127.0.0.1:0", MaxProcs: 1, Logs: logs,
		Log: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		return err
	}
	defer env.Close()
	if env.Insforge == nil {
		return fmt.Errorf("the local InsForge stack did not start: %v", env.Notes)
	}
	arm := map[string]*runtimeapi.Pool{}
	for _, f := range env.Functions {
		bin, err := filepath.Abs(filepath.Join(o.Artifacts, f.LogicalID, "bootstrap"))
		if err != nil {
			return err
		}
		if st, err := os.Stat(bin); err != nil || st.Mode()&0o111 == 0 {
			return fmt.Errorf("%s: no executable %s (run make sam-check first)", f.LogicalID, bin)
		}
		spec := env.Pools[f.LogicalID].Spec()
		spec.Binary, spec.ExecWrapper = bin, wrap
		arm[f.LogicalID] = runtimeapi.NewPool(spec)
		defer arm[f.LogicalID].Close()
	}
	samples, err := Samples(o.Events, env.Functions)
	if err != nil {
		return err
	}
	key, _, err := payer.LoadKey("")
	if err != nil {
		return err
	}

	fmt.Fprintf(out, "Booting %d linux/arm64 artifacts from %s under %q through the runner (host builds answer the same events for comparison)\n\n",
		len(arm), o.Artifacts, strings.Join(wrap, " "))
	w := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "function\tevent\tstatus\tarm64 init (ms)\tarm64 invoke (ms)\thost invoke (ms)\tresult")
	failed, answered := 0, map[string]int{}
	for _, s := range samples {
		r := check(env, arm, s, key)
		init := "warm"
		if r.armCold {
			init = fmt.Sprintf("%.1f", ms(r.armInit))
		}
		verdict := "same as host"
		if r.err != nil {
			verdict = "FAIL: " + r.err.Error()
			failed++
		} else {
			answered[s.Function]++
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%.1f\t%.1f\t%s\n", s.Function, s.Name, r.status, init, ms(r.armInvoke), ms(r.hostInvoke), verdict)
	}
	_ = w.Flush()
	for _, f := range env.Functions {
		if answered[f.LogicalID] == 0 {
			failed++
			fmt.Fprintf(out, "FAIL: %s answered no sample event\n", f.LogicalID)
		}
	}
	fmt.Fprintf(out, "\n%d sample events, %d functions, %d failures, %s in all\n", len(samples), len(arm), failed, time.Since(began).Round(time.Millisecond))
	if failed > 0 {
		fmt.Fprintf(os.Stderr, "last output of the functions:\n%s\n", logs)
		return errors.New("the arm64 artifacts do not answer like the host builds")
	}
	return nil
}

type result struct {
	status                         string
	armCold                        bool
	armInit, armInvoke, hostInvoke time.Duration
	err                            error
}

// check answers one sample event with the arm64 artifact and the host build and
// compares the answers.
func check(env *runner.Runner, arm map[string]*runtimeapi.Pool, s Sample, key *ecdsa.PrivateKey) (r result) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	host := env.Pools[s.Function]
	event, err := runner.Fill(s.Raw, env.Issuer)
	if s.Paid {
		event = s.Raw // the payment placeholder is signed per run by Pay
		err = nil
	}
	if err != nil {
		r.err = err
		return r
	}
	if s.Paid {
		return pay(ctx, host, arm[s.Function], event, key)
	}
	hr, err := host.Invoke(ctx, event)
	if err == nil && hr.Err != nil {
		err = fmt.Errorf("host build: %v", hr.Err)
	}
	if err != nil {
		r.err = err
		return r
	}
	ar, err := arm[s.Function].Invoke(ctx, event)
	r.armCold, r.armInit, r.armInvoke, r.hostInvoke = ar.ColdStart, ar.InitDuration, ar.Duration, hr.Duration
	if err == nil && ar.Err != nil {
		err = fmt.Errorf("arm64: %v %s", ar.Err, ar.Err.Detail)
	}
	if err != nil {
		r.err = err
		return r
	}
	want, err := LambdaView(hr.Payload, hr.RequestID)
	if err != nil {
		r.err = fmt.Errorf("host build: %w", err)
		return r
	}
	got, err := LambdaView(ar.Payload, ar.RequestID)
	if err != nil {
		r.err = fmt.Errorf("arm64: %w", err)
		return r
	}
	r.status = "-"
	if m, ok := got.(map[string]any); ok && m["statusCode"] != nil {
		r.status = fmt.Sprint(m["statusCode"])
	}
	if !reflect.DeepEqual(got, want) {
		r.err = fmt.Errorf("answers differ:\n  arm64 %s\n  host  %s", JSON(got), JSON(want))
	}
	return r
}

// pay plays the paid event (402 → signed EIP-3009 → settled retry) on both builds.
func pay(ctx context.Context, host, arm *runtimeapi.Pool, event []byte, key *ecdsa.PrivateKey) (r result) {
	views := make([]any, 2)
	for i, p := range []*runtimeapi.Pool{host, arm} {
		t := &apigateway.Transport{RouteKey: RouteKey(event), RequestID: "paid-request", Invoke: func(ctx context.Context, ev []byte) ([]byte, error) {
			res, err := p.Invoke(ctx, ev)
			if err != nil {
				return nil, err
			}
			if p == arm {
				if res.ColdStart {
					r.armCold, r.armInit = true, res.InitDuration
				}
				r.armInvoke += res.Duration
			} else {
				r.hostInvoke += res.Duration
			}
			if res.Err != nil {
				return nil, fmt.Errorf("%v %s", res.Err, res.Err.Detail)
			}
			return res.Payload, nil
		}}
		v, err := Pay(ctx, t, key, event)
		if err != nil {
			r.err = fmt.Errorf("%s: %w", []string{"host build", "arm64"}[i], err)
			return r
		}
		views[i] = v
	}
	r.status = "402→200"
	if !reflect.DeepEqual(views[1], views[0]) {
		r.err = fmt.Errorf("paid answers differ:\n  arm64 %s\n  host  %s", JSON(views[1]), JSON(views[0]))
	}
	return r
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// Tail keeps the last output of functions for a failure report: safe for
// concurrent writers, bounded in memory, and String shows the last 4000 bytes.
type Tail struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (t *Tail) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.b.Len() > 64<<10 {
		keep := t.b.Bytes()[t.b.Len()-32<<10:]
		t.b = *bytes.NewBuffer(append([]byte(nil), keep...))
	}
	return t.b.Write(p)
}

func (t *Tail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	s := t.b.String()
	if len(s) > 4000 {
		s = "…" + s[len(s)-4000:]
	}
	return s
}
