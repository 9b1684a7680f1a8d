// Command size-check builds every function for linux/arm64 exactly as it is
// deployed (the Makefile's LAMBDA_GOENV and LAMBDA_FLAGS: CGO_ENABLED=0,
// -tags lambda.norpc, -trimpath, -buildvcs=false, -ldflags "-s -w -buildid="),
// prints a size table and exits 1 when a function exceeds its budget (bridges
// 8 MB, x402 functions 20 MB) or a bridge links go-ethereum or pgx.
//
//	go run ./scripts/size-check            # make size-check
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"runtime"
	"time"

	"github.com/insforge/edge-functions-go/scripts/internal/budget"
)

func main() {
	keep := flag.String("out", "", "keep the binaries in this directory (default: a temporary one)")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
	defer cancel()
	os.Exit(run(ctx, *keep))
}

func run(ctx context.Context, out string) int {
	root, err := budget.ModuleRoot(".")
	if err != nil {
		fmt.Fprintln(os.Stderr, "size-check:", err)
		return 2
	}
	if out == "" {
		dir, err := os.MkdirTemp("", "size-check-")
		if err != nil {
			fmt.Fprintln(os.Stderr, "size-check:", err)
			return 2
		}
		defer os.RemoveAll(dir)
		out = dir
	}
	names, err := budget.Functions(root)
	if err != nil || len(names) == 0 {
		fmt.Fprintln(os.Stderr, "size-check: no functions found:", err)
		return 2
	}
	bins, err := budget.BuildAll(ctx, root, out, names, budget.DeployEnv, runtime.NumCPU())
	if err != nil {
		fmt.Fprintln(os.Stderr, "size-check:", err)
		return 2
	}
	res, err := budget.Check(ctx, root, bins)
	if err != nil {
		fmt.Fprintln(os.Stderr, "size-check:", err)
		return 2
	}
	fmt.Println("GOOS=linux GOARCH=arm64 CGO_ENABLED=0 go build", budget.FlagsString(), "("+runtime.Version()+")")
	_ = budget.WriteTable(os.Stdout, res)
	failed := 0
	for _, r := range res {
		if !r.OK() {
			failed++
		}
	}
	if failed > 0 {
		fmt.Fprintf(os.Stderr, "size-check: %d function(s) over budget or linking forbidden packages\n", failed)
		return 1
	}
	fmt.Println("size-check: every function is within budget")
	return 0
}
