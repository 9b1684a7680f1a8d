// Package bootstraptest builds a main package into a Lambda bootstrap for the
// runner's tests, the way functions are built for the runner (static,
// -tags lambda.norpc), so a test drives a real binary over the Runtime API.
package bootstraptest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// Build builds the main package pkg (a path relative to the test's directory,
// e.g. "../testfn/testdata/echofn") into t's temporary directory and returns the
// bootstrap's path.
func Build(t testing.TB, pkg string) string {
	t.Helper()
	bin, err := build(t.TempDir(), pkg)
	if err != nil {
		t.Fatal(err)
	}
	return bin
}

// Main is a TestMain that builds pkg once for the whole test binary: *bin holds
// the bootstrap's path while the tests run, and the build is removed after them.
func Main(m *testing.M, bin *string, pkg string) {
	dir, err := os.MkdirTemp("", "bootstrap")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	if *bin, err = build(dir, pkg); err != nil {
		_ = os.RemoveAll(dir)
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	_ = os.RemoveAll(dir)
	os.Exit(code)
}

func build(dir, pkg string) (string, error) {
	bin := filepath.Join(dir, "bootstrap")
	cmd := exec.Command("go", "build", "-tags", "lambda.norpc", "-o", bin, pkg)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("build %s: %w\n%s", pkg, err, out)
	}
	return bin, nil
}
