// Command dev serves every route of template.yaml on 127.0.0.1:3000 by running each
// function's real bootstrap (built for this host) against a local Lambda Runtime
// API, with a zero-config development profile. See docs/local-dev.md.
//
//	go run ./scripts/dev [--env-vars env.json] [--parameter-overrides 'K=V ...'] [--no-dev]
//	                     [--artifacts .aws-sam/build --exec-wrapper qemu-aarch64-static]
package main

import (
	"context"
	"flag"
	"log/slog"
	"os"
	"strings"

	"github.com/insforge/edge-functions-go/scripts/internal/cli"
	"github.com/insforge/edge-functions-go/scripts/runner"
)

func run(ctx context.Context) error {
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
	devnet := flag.Bool("devnet", false, "settle x402 payments on a local devnet (Anvil, chain id 196) with a faucet, instead of the mock facilitator")
	flag.Parse()
	return runner.Serve(ctx, runner.ServeOptions{
		Options: runner.Options{
			Template: *template, EnvVarsFile: *envVars, ParameterOverrides: overrides,
			Dev: !*noDev, IssuerAddr: *issuerAddr, MaxProcs: *maxProcs, InsforgeAddr: *insforgeAddr, Devnet: *devnet,
			Log: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo})),
		},
		Addr: *addr, Artifacts: *artifacts, ExecWrapper: strings.Fields(*execWrapper),
	})
}

func main() { cli.Main("dev", run) }
