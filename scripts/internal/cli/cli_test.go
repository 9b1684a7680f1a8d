package cli

import (
	"context"
	"errors"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestExecReportsAFailureAsOneLineNamingTheCommand(t *testing.T) {
	var stderr strings.Builder
	code := exec("dev", func(context.Context) error { return errors.New("template.yaml: no functions") }, &stderr)
	if got := stderr.String(); code != 1 || got != "dev: template.yaml: no functions\n" {
		t.Fatalf("exit %d, stderr %q", code, got)
	}
	stderr.Reset()
	if code := exec("dev", func(context.Context) error { return nil }, &stderr); code != 0 || stderr.Len() != 0 {
		t.Fatalf("success: exit %d, stderr %q", code, stderr.String())
	}
}

// SIGTERM (what a supervisor sends) ends the command's context instead of the
// process, so its deferred cleanup runs.
func TestExecCancelsTheContextOnSIGTERM(t *testing.T) {
	var stderr strings.Builder
	code := exec("devnet", func(ctx context.Context) error {
		if err := syscall.Kill(os.Getpid(), syscall.SIGTERM); err != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(10 * time.Second):
			return errors.New("context still alive after SIGTERM")
		}
	}, &stderr)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
}
