// Command invoke runs one function once with an event, like `sam local invoke`,
// through the same Runtime API path as `make dev`, and prints the response and the
// init/invoke durations:
//
//	go run ./scripts/invoke [--env-vars env.json] [--no-dev] <LogicalId> events/<file>.json
//	go run ./scripts/invoke --artifacts .aws-sam/build --exec-wrapper qemu-aarch64-static <LogicalId> <event>
//
// Placeholders in the event are filled from the dev environment, so sample events
// stay valid: {{dev-token <provider> <user-id> [jwt|session|cookie]}} becomes a
// fresh credential from the dev identity issuer (runner.Fill), and a payment header
// of {{x402-payment}} is signed for the function's own 402 challenge (runner.InvokeOnce).
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	"github.com/insforge/edge-functions-go/scripts/runner"
)

func main() {
	code, err := run()
	if err != nil {
		fmt.Fprintln(os.Stderr, "invoke:", err)
		os.Exit(1)
	}
	os.Exit(code)
}

func run() (int, error) {
	overrides := runner.Overrides{}
	template := flag.String("template", "template.yaml", "SAM template")
	envVars := flag.String("env-vars", "", "SAM env-vars JSON file")
	flag.Var(overrides, "parameter-overrides", "CloudFormation parameter overrides, 'Name=Value ...'")
	noDev := flag.Bool("no-dev", false, "no development profile (template, shell and --env-vars only)")
	quiet := flag.Bool("quiet", false, "do not print the function's logs")
	artifacts := flag.String("artifacts", "", "run <dir>/<LogicalId>/bootstrap (e.g. .aws-sam/build) instead of the host build")
	execWrapper := flag.String("exec-wrapper", "", "run the bootstrap through this program (e.g. qemu-aarch64-static for the arm64 artifact)")
	flag.Parse()
	if flag.NArg() != 2 {
		return 2, fmt.Errorf("usage: invoke [flags] <LogicalId> <event.json>")
	}
	fn, eventPath := flag.Arg(0), flag.Arg(1)
	raw, err := os.ReadFile(eventPath)
	if err != nil {
		return 1, err
	}
	var logs io.Writer = os.Stderr
	if *quiet {
		logs = io.Discard
	}
	return runner.InvokeOnce(context.Background(), runner.InvokeOptions{
		Options: runner.Options{
			Template: *template, EnvVarsFile: *envVars, ParameterOverrides: overrides, Dev: !*noDev,
			IssuerAddr: "127.0.0.1:0", Logs: logs, Log: slog.New(slog.NewTextHandler(os.Stderr, nil)),
		},
		Function: fn, Event: raw, EventName: eventPath, Artifacts: *artifacts, ExecWrapper: strings.Fields(*execWrapper),
	})
}
