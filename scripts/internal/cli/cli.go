// Package cli is the part every long-running command under scripts/ shares: its
// context ends on Ctrl-C or SIGTERM (so deferred cleanup runs and child processes
// are stopped), and a failure is one line on stderr and exit status 1.
package cli

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// Main runs run with a context cancelled on SIGINT or SIGTERM and exits 1 when it
// fails, printing "<name>: <error>".
func Main(name string, run func(ctx context.Context) error) {
	if code := exec(name, run, os.Stderr); code != 0 {
		os.Exit(code)
	}
}

// exec is Main without the exit, so the signal registration ends before it.
func exec(name string, run func(ctx context.Context) error, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx); err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", name, err)
		return 1
	}
	return 0
}
