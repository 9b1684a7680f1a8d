package runner

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/insforge/edge-functions-go/scripts/runner/apigateway"
	"github.com/insforge/edge-functions-go/scripts/runner/runtimeapi"
)

// ServeOptions configures Serve, the local HTTP API of `make dev`.
type ServeOptions struct {
	Options            // how the runner is built: template, env vars, dev profile, …
	Addr        string // HTTP API listen address; loopback only
	Artifacts   string // run <Artifacts>/<LogicalId>/bootstrap (e.g. .aws-sam/build) instead of host builds
	ExecWrapper []string
	Banner      io.Writer // routes and copy-paste commands (default os.Stdout)
}

// Serve builds the runner, serves every route of the template through API Gateway
// emulation on o.Addr, runs rate() schedules, and stops when ctx ends.
func Serve(ctx context.Context, o ServeOptions) error {
	host, _, err := net.SplitHostPort(o.Addr)
	if ip := net.ParseIP(host); err != nil || (host != "localhost" && (ip == nil || !ip.IsLoopback())) {
		return fmt.Errorf("--addr %q: the runner serves loopback only", o.Addr)
	}
	fmt.Fprintln(os.Stderr, "building functions for this host…")
	env, err := Start(ctx, o.Options)
	if err != nil {
		return err
	}
	defer env.Close()
	if err := runtimeapi.ReexecAll(env.Pools, o.Artifacts, o.ExecWrapper); err != nil {
		return err
	}

	var routes []apigateway.Route
	for _, f := range env.Functions {
		for _, r := range f.Routes {
			routes = append(routes, apigateway.Route{Method: r.Method, Path: r.Path, Function: f.LogicalID})
		}
	}
	invokers := map[string]apigateway.Invoker{}
	for id, p := range env.Pools {
		invokers[id] = p
	}
	log := cmp.Or(o.Log, slog.Default())
	h := &apigateway.Handler{Router: apigateway.NewRouter(routes), Functions: invokers, Log: log}
	ln, err := net.Listen("tcp", o.Addr)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, MaxHeaderBytes: 1 << 20}
	go startSchedules(ctx, env, log)
	out := o.Banner
	if out == nil {
		out = os.Stdout
	}
	banner(out, env, "http://"+ln.Addr().String())
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case <-ctx.Done():
		fmt.Fprintln(os.Stderr, "\nstopping…")
	case err := <-errc:
		if !errors.Is(err, http.ErrServerClosed) {
			return err
		}
	}
	sctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	_ = srv.Shutdown(sctx)
	return nil
}
