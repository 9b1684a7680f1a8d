// Command arm64-smoke runs what ships: it boots every linux/arm64 artifact that
// `sam build` produced (.aws-sam/build/<LogicalId>/bootstrap) under user-mode
// emulation (qemu-aarch64-static) through the local runner, answers each
// function's sample events, and checks every answer equals the host build's.
// A smoke check, not a benchmark: emulated times are printed, never asserted.
//
//	go run ./scripts/arm64-smoke [--artifacts .aws-sam/build] [--exec-wrapper qemu-aarch64-static]
package main

import (
	"context"
	"flag"
	"strings"

	"github.com/insforge/edge-functions-go/scripts/internal/cli"
	"github.com/insforge/edge-functions-go/scripts/runner/parity"
)

func run(ctx context.Context) error {
	template := flag.String("template", "template.yaml", "SAM template")
	artifacts := flag.String("artifacts", ".aws-sam/build", "sam build output: <dir>/<LogicalId>/bootstrap")
	wrapper := flag.String("exec-wrapper", "qemu-aarch64-static", "program that runs a linux/arm64 binary on this host (empty: run directly)")
	eventsDir := flag.String("events", "events", "sample events")
	flag.Parse()
	return parity.Smoke(ctx, parity.SmokeOptions{
		Template: *template, Artifacts: *artifacts, ExecWrapper: strings.Fields(*wrapper), Events: *eventsDir,
	})
}

func main() { cli.Main("arm64-smoke", run) }
