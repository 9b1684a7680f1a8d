// Command dev serves every route of template.yaml on 127.0.0.1:3000 by running each
// function's real bootstrap (built for this host) against a local Lambda Runtime
// API, with a zero-config development profile. See docs/local-dev.md.
//
//	go run ./scripts/dev [--env-vars env.json] [--parameter-overrides 'K=V ...'] [--no-dev]
//	                     [--artifacts .aws-sam/build --exec-wrapper qemu-aarch64-static]
package main

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/insforge/edge-functions-go/scripts/runner"
	"github.com/insforge/edge-functions-go/scripts/runner/apigateway"
	"github.com/insforge/edge-functions-go/scripts/runner/runtimeapi"
	"github.com/insforge/edge-functions-go/shared/localidentity"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "dev:", err)
		os.Exit(1)
	}
}

func run() error {
	overrides := runner.Overrides{}
	addr := flag.String("addr", "127.0.0.1:3000", "HTTP API listen address (loopback)")
	issuerAddr := flag.String("issuer-addr", "127.0.0.1:3001", "dev identity issuer listen address (loopback)")
	template := flag.String("template", "template.yaml", "SAM template")
	envVars := flag.String("env-vars", "", "SAM env-vars JSON file ({\"Parameters\":{...},\"<LogicalId>\":{...}})")
	flag.Var(overrides, "parameter-overrides", "CloudFormation parameter overrides, 'Name=Value ...'")
	noDev := flag.Bool("no-dev", false, "no development profile: only template, shell and --env-vars values (like sam local)")
	maxProcs := flag.Int("max-procs", 4, "processes per function")
	insforgeAddr := flag.String("insforge-addr", "127.0.0.1:7130", "local InsForge stack address (when INSFORGE_BASE_URL is not given)")
	artifacts := flag.String("artifacts", "", "run <dir>/<LogicalId>/bootstrap (e.g. .aws-sam/build) instead of host builds")
	execWrapper := flag.String("exec-wrapper", "", "run each bootstrap through this program (e.g. qemu-aarch64-static for the arm64 artifacts)")
	flag.Parse()

	host, _, err := net.SplitHostPort(*addr)
	if ip := net.ParseIP(host); err != nil || (host != "localhost" && (ip == nil || !ip.IsLoopback())) {
		return fmt.Errorf("--addr %q: the runner serves loopback only", *addr)
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	fmt.Fprintln(os.Stderr, "building functions for this host…")
	env, err := runner.Start(ctx, runner.Options{
		Template: *template, EnvVarsFile: *envVars, ParameterOverrides: overrides,
		Dev: !*noDev, IssuerAddr: *issuerAddr, MaxProcs: *maxProcs, Log: log, InsforgeAddr: *insforgeAddr,
	})
	if err != nil {
		return err
	}
	defer env.Close()
	if err := runtimeapi.ReexecAll(env.Pools, *artifacts, strings.Fields(*execWrapper)); err != nil {
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
	h := &apigateway.Handler{Router: apigateway.NewRouter(routes), Functions: invokers, Log: log}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, MaxHeaderBytes: 1 << 20}
	go startSchedules(ctx, env, log)
	banner(env, "http://"+ln.Addr().String())
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

func banner(env *runner.Runner, base string) {
	w := os.Stdout
	fmt.Fprintf(w, "\nInsForge edge functions: local HTTP API at %s (built in %s; real bootstrap binaries, Lambda Runtime API)\n\n",
		base, env.BuildTime.Round(time.Millisecond))
	fmt.Fprintln(w, "Routes (from template.yaml):")
	for _, f := range env.Functions {
		for _, r := range f.Routes {
			fmt.Fprintf(w, "  %-4s %s%-20s → %s (timeout %s)\n", r.Method, base, r.Path, f.LogicalID, f.Timeout)
		}
		for _, s := range f.Schedules {
			fmt.Fprintf(w, "  schedule %-28s → %s (run now: make invoke FN=%s EVENT=events/x402-reconcile-scheduled.json)\n",
				s, f.LogicalID, f.LogicalID)
		}
	}
	if env.Issuer != nil {
		fmt.Fprintf(w, "\nDev identity issuer: %s (JWKS for %s; Stytch sessions/authenticate and Better Auth get-session emulated)\n",
			env.Issuer.URL, strings.Join(localidentity.Providers, ", "))
	}
	if st := env.Insforge; st != nil {
		fmt.Fprintf(w, "InsForge local stack (throwaway PostgreSQL, infra/migrations applied): %s  anon key %s  (service key passed to the x402 functions)\n",
			st.URL, st.AnonKey)
	}
	for _, f := range env.Functions {
		for _, r := range f.Routes {
			if r.Path == "/x402/dashboard" {
				fmt.Fprintf(w, "Payments dashboard (live over InsForge realtime): %s%s\n", base, r.Path)
			}
		}
	}
	if up := env.Upstream; up != nil {
		fmt.Fprintf(w, "x402 gateway upstream (local demo API, sold at %s/pay/…): %s\n", base, up.URL)
	}
	if env.JWTSecret != "" {
		fmt.Fprintf(w, "Dev INSFORGE_JWT_SECRET (generated for this run): %s\n", env.JWTSecret)
	}
	for _, n := range env.Notes {
		fmt.Fprintln(w, "note:", n)
	}
	issuerFlag := ""
	if env.Issuer != nil && env.Issuer.URL != "http://127.0.0.1:3001" {
		issuerFlag = " --issuer " + env.Issuer.URL
	}
	fmt.Fprintln(w, "\nTry it (copy-paste):")
	fmt.Fprintf(w, "  TOKEN=$(go run ./scripts/dev-token%s clerk user_2dev)\n", issuerFlag)
	fmt.Fprintf(w, "  curl -s -X POST -H \"Authorization: Bearer $TOKEN\" %s/token/clerk\n", base)
	secret := cmp.Or(env.JWTSecret, "$INSFORGE_JWT_SECRET")
	fmt.Fprintf(w, "  INSFORGE_JWT_SECRET=%s go run ./scripts/token-doctor \"$(curl -s -X POST -H \"Authorization: Bearer $TOKEN\" %s/token/clerk | sed -E 's/.*\"token\":\"([^\"]+)\".*/\\1/')\"\n", secret, base)
	fmt.Fprintf(w, "  # other providers: go run ./scripts/dev-token <%s> <user-id> [--kind session|cookie]\n", strings.Join(localidentity.Providers, "|"))
	fmt.Fprintf(w, "  go run ./scripts/x402-pay %s/x402/report\n", base)
	if env.Upstream != nil {
		fmt.Fprintf(w, "  go run ./scripts/x402-pay -X GET %s/pay/quote?symbol=ETH   # the x402 gateway in front of the local upstream\n", base)
	}
	fmt.Fprintf(w, "  curl -s %s/x402/payments\n", base)
	fmt.Fprintln(w, "\nLogs of the functions follow (Ctrl-C stops everything).")
}
