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
// of {{x402-payment}} is signed for the function's own 402 challenge (x402.go).
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/insforge/edge-functions-go/scripts/runner"
	"github.com/insforge/edge-functions-go/scripts/runner/runtimeapi"
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
	ctx := context.Background()
	env, err := runner.Start(ctx, runner.Options{
		Template: *template, EnvVarsFile: *envVars, ParameterOverrides: overrides, Dev: !*noDev,
		IssuerAddr: "127.0.0.1:0", Only: []string{fn}, MaxProcs: 1, Logs: logs,
		Log: slog.New(slog.NewTextHandler(os.Stderr, nil)),
	})
	if err != nil {
		return 1, err
	}
	defer env.Close()
	if err := runtimeapi.ReexecAll(env.Pools, *artifacts, strings.Fields(*execWrapper)); err != nil {
		return 1, err
	}
	if bytes.Contains(raw, []byte(x402Placeholder)) {
		filled, err := runner.Fill(bytes.ReplaceAll(raw, []byte(x402Placeholder), []byte("__X402_PAYMENT_PLACEHOLDER__")), env.Issuer)
		if err != nil {
			return 1, err
		}
		return payAndInvoke(ctx, env.Pools[fn], bytes.ReplaceAll(filled, []byte("__X402_PAYMENT_PLACEHOLDER__"), []byte(x402Placeholder)))
	}
	payload, err := runner.Fill(raw, env.Issuer)
	if err != nil {
		return 1, err
	}
	if !json.Valid(payload) {
		return 1, fmt.Errorf("%s is not valid JSON", eventPath)
	}
	res, err := env.Pools[fn].Invoke(ctx, payload)
	if err != nil {
		return 1, err
	}
	fmt.Fprintf(os.Stderr, "REPORT RequestId: %s\tInit Duration: %s\tDuration: %s\n",
		res.RequestID, fmtMS(res.InitDuration), fmtMS(res.Duration))
	out := res.Payload
	if res.Err != nil {
		if res.Err.Detail != "" {
			fmt.Fprintf(os.Stderr, "last output of the function:\n%s\n", res.Err.Detail)
		}
		// What Lambda's Invoke API returns for a failed invocation.
		out, _ = json.Marshal(res.Err)
	}
	var pretty bytes.Buffer
	if json.Indent(&pretty, out, "", "  ") == nil {
		out = pretty.Bytes()
	}
	fmt.Println(string(out))
	if res.Err != nil {
		return 1, nil
	}
	return 0, nil
}

func fmtMS(d time.Duration) string {
	return fmt.Sprintf("%.2f ms", float64(d.Microseconds())/1000)
}
