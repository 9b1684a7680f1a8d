package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/insforge/edge-functions-go/scripts/runner"
	"github.com/insforge/edge-functions-go/scripts/runner/apigateway"
	"github.com/insforge/edge-functions-go/scripts/runner/runtimeapi"
)

// loadCase is one route driven through the runner's HTTP API.
type loadCase struct {
	Name, Fn, Method, Path string
	Status                 int
	// JWKSVar, when set, is pointed at a counting proxy in front of the dev
	// issuer so the run can report how many JWKS fetches it caused.
	JWKSVar string
	// Header returns the request headers (e.g. a fresh dev credential).
	Header func(env *runner.Runner) (http.Header, error)
}

var loadCases = []loadCase{
	{Name: "floor: echofn (launch.HTTP, trivial handler)", Fn: floorFn, Method: http.MethodPost, Path: "/echo", Status: 200,
		Header: func(*runner.Runner) (http.Header, error) { return http.Header{}, nil }},
	{Name: "bridge (Clerk, RS256 JWT → InsForge token)", Fn: "TokenClerkFunction", Method: http.MethodPost,
		Path: "/token/clerk", Status: 200, JWKSVar: "CLERK_JWKS_URL",
		Header: func(env *runner.Runner) (http.Header, error) {
			cred, err := env.Issuer.Credential("clerk", "user_bench_1", "jwt", time.Hour)
			if err != nil {
				return nil, err
			}
			return http.Header{"Authorization": {"Bearer " + cred}}, nil
		}},
	{Name: "x402 challenge (POST /x402/report without payment → 402)", Fn: "X402ReportFunction", Method: http.MethodPost,
		Path: "/x402/report", Status: 402,
		Header: func(*runner.Runner) (http.Header, error) {
			return http.Header{"Content-Type": {"application/json"}}, nil
		}},
}

// loadOpts bound a run: at most Requests measured requests and at most Duration.
type loadOpts struct {
	Concurrency, Procs, Warmup, Requests int
	Duration                             time.Duration
}

type loadResult struct {
	Case                  loadCase
	Opts                  loadOpts
	Latencies             []time.Duration
	Errors                int
	FirstError            string
	Elapsed               time.Duration
	JWKSWarmup, JWKSRun   int64 // fetches during warm-up and during the measured run
	JWKSCounted, Complete bool
}

func (r loadResult) throughput() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(len(r.Latencies)) / r.Elapsed.Seconds()
}

// countingProxy forwards to target and counts requests.
type countingProxy struct {
	n   atomic.Int64
	srv *http.Server
	url string
}

func startCountingProxy(target string) (*countingProxy, error) {
	u, err := url.Parse(target)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	rp := httputil.NewSingleHostReverseProxy(u)
	p := &countingProxy{url: "http://" + ln.Addr().String()}
	p.srv = &http.Server{ReadHeaderTimeout: 5 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.n.Add(1)
		rp.ServeHTTP(w, r)
	})}
	go func() { _ = p.srv.Serve(ln) }()
	return p, nil
}

// runLoad serves the case's route through the runner (gateway → Runtime API →
// real binaries, at most Procs processes) on loopback and drives it with
// Concurrency workers: Warmup requests first, then the measured run.
func runLoad(ctx context.Context, env *runner.Runner, specs map[string]runtimeapi.Spec, c loadCase, o loadOpts) (loadResult, error) {
	res := loadResult{Case: c, Opts: o}
	spec, ok := specs[c.Fn]
	if !ok {
		return res, fmt.Errorf("%s not available: the runner has no such function", c.Fn)
	}
	spec.Env = maps.Clone(spec.Env)
	spec.MaxProcesses = o.Procs
	spec.Logs = io.Discard
	var proxy *countingProxy
	if c.JWKSVar != "" {
		orig := spec.Env[c.JWKSVar]
		if orig == "" {
			return res, fmt.Errorf("%s has no %s to proxy", c.Fn, c.JWKSVar)
		}
		u, err := url.Parse(orig)
		if err != nil {
			return res, err
		}
		p, err := startCountingProxy(u.Scheme + "://" + u.Host)
		if err != nil {
			return res, err
		}
		defer p.srv.Close()
		proxy = p
		spec.Env[c.JWKSVar] = p.url + u.RequestURI()
		res.JWKSCounted = true
	}
	pool := runtimeapi.NewPool(spec)
	defer pool.Close()

	routes := []apigateway.Route{{Method: "ANY", Path: c.Path, Function: c.Fn}}
	for _, f := range env.Functions {
		if f.LogicalID == c.Fn {
			// The template's routes, so the request goes exactly where API Gateway sends it.
			routes = routes[:0]
			for _, r := range f.Routes {
				routes = append(routes, apigateway.Route{Method: r.Method, Path: r.Path, Function: f.LogicalID})
			}
		}
	}
	h := &apigateway.Handler{Router: apigateway.NewRouter(routes), Functions: map[string]apigateway.Invoker{c.Fn: pool},
		Log: slog.New(slog.DiscardHandler)}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return res, err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()

	hdr, err := c.Header(env)
	if err != nil {
		return res, err
	}
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		MaxIdleConnsPerHost: o.Concurrency, MaxConnsPerHost: o.Concurrency, DisableCompression: true}}
	defer client.CloseIdleConnections()
	target := "http://" + ln.Addr().String() + c.Path
	one := func() (time.Duration, error) {
		req, err := http.NewRequestWithContext(ctx, c.Method, target, strings.NewReader("{}"))
		if err != nil {
			return 0, err
		}
		maps.Copy(req.Header, hdr)
		began := time.Now()
		r, err := client.Do(req)
		if err != nil {
			return 0, err
		}
		_, _ = io.Copy(io.Discard, r.Body)
		r.Body.Close()
		d := time.Since(began)
		if r.StatusCode != c.Status {
			return d, fmt.Errorf("status %d, want %d", r.StatusCode, c.Status)
		}
		return d, nil
	}

	// drive runs up to n requests with the workers until deadline.
	drive := func(n int, deadline time.Time) (lat []time.Duration, errs int, first string) {
		var mu sync.Mutex
		var next atomic.Int64
		var wg sync.WaitGroup
		for w := 0; w < o.Concurrency; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for next.Add(1) <= int64(n) && time.Now().Before(deadline) && ctx.Err() == nil {
					d, err := one()
					mu.Lock()
					if err != nil {
						errs++
						if first == "" {
							first = err.Error()
						}
					} else {
						lat = append(lat, d)
					}
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		return
	}

	// Warm-up: every process starts (and fetches its JWKS) here.
	if _, errs, first := drive(o.Warmup, time.Now().Add(o.Duration)); errs > 0 {
		return res, fmt.Errorf("warm-up: %d errors, first: %s", errs, first)
	}
	if proxy != nil {
		res.JWKSWarmup = proxy.n.Load()
	}
	began := time.Now()
	deadline := began.Add(o.Duration)
	res.Latencies, res.Errors, res.FirstError = drive(o.Requests, deadline)
	res.Elapsed = time.Since(began)
	res.Complete = len(res.Latencies)+res.Errors >= o.Requests
	if proxy != nil {
		res.JWKSRun = proxy.n.Load() - res.JWKSWarmup
	}
	if len(res.Latencies) == 0 {
		return res, errors.New("no successful request: " + res.FirstError)
	}
	return res, nil
}
