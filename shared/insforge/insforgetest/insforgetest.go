// Package insforgetest starts the local InsForge (shared/localinsforge) for a test:
// one database per test on the process's shared PostgreSQL cluster, closed when the
// test ends. Without PostgreSQL the test is skipped, or fails when CI is on.
package insforgetest

import (
	"context"
	"errors"
	"os"
	"testing"
	"time"

	"github.com/insforge/edge-functions-go/shared/internal/ci"
	"github.com/insforge/edge-functions-go/shared/localinsforge"
)

// Stack and Options are the emulator's.
type (
	Stack   = localinsforge.Stack
	Options = localinsforge.Options
)

// Helpers of the emulator, re-exported for tests.
var (
	UserClaims   = localinsforge.UserClaims
	AnonClaims   = localinsforge.AnonClaims
	AdminClaims  = localinsforge.AdminClaims
	NoMigrations = localinsforge.NoMigrations
	Start        = localinsforge.Start
)

// Main runs the tests and then stops the shared cluster:
//
//	func TestMain(m *testing.M) { insforgetest.Main(m) }
func Main(m *testing.M) {
	code := m.Run()
	_ = localinsforge.CloseSharedCluster()
	os.Exit(code)
}

// RequireCI reports whether a missing dependency must fail rather than skip: CI
// is on (CI=true or CI=1).
func RequireCI() bool { return ci.Required() }

// SkipWithoutPostgres skips t when err is (or wraps) localinsforge.ErrNoPostgres,
// unless CI is on, and does nothing otherwise: what New does for its own stack,
// for a stack started elsewhere (the dev runner's).
func SkipWithoutPostgres(t testing.TB, err error) {
	t.Helper()
	if errors.Is(err, localinsforge.ErrNoPostgres) && !RequireCI() {
		t.Skipf("insforgetest: %v (CI=true or CI=1 turns this into a failure)", err)
	}
}

// RequireStarted stops t unless a stack started elsewhere (the dev runner's) is
// running: err is why it did not start. Without PostgreSQL it skips (failing
// when CI is on), for any other cause it fails.
func RequireStarted(t testing.TB, st *localinsforge.Stack, err error) {
	t.Helper()
	if st != nil {
		return
	}
	SkipWithoutPostgres(t, err)
	t.Fatalf("insforgetest: the local InsForge stack did not start: %v", err)
}

// New returns a fresh stack (its own database, on the process's shared cluster)
// and closes it when t ends. Without PostgreSQL it skips, or fails when CI is on.
func New(t testing.TB) *Stack { return NewWith(t, Options{}) }

// NewWith is New with options.
func NewWith(t testing.TB, o Options) *Stack {
	t.Helper()
	c, err := localinsforge.SharedCluster()
	if err != nil {
		SkipWithoutPostgres(t, err)
		t.Fatalf("insforgetest: PostgreSQL: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s, err := localinsforge.StartOn(ctx, c, o)
	if err != nil {
		t.Fatalf("insforgetest: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("insforgetest: close: %v", err)
		}
	})
	return s
}
