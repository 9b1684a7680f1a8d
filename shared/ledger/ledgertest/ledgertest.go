// Package ledgertest holds the ledger's conformance suite, run against the
// PostgreSQL ledger (shared/ledger) and the in-memory one (shared/ledger/inmem)
// so both keep one behaviour, the test backend choice of packages built on the
// ledger, and a per-call fault injector. Modelled on testing/fstest.
package ledgertest

import (
	"context"
	"errors"
	"os"
	"testing"
	"time"

	"github.com/insforge/edge-functions-go/shared/insforge/insforgetest"
	"github.com/insforge/edge-functions-go/shared/ledger"
	"github.com/insforge/edge-functions-go/shared/ledger/inmem"
	"github.com/insforge/edge-functions-go/shared/localinsforge"
)

// Ledger is every operation of the payment ledger (paywall, reconciler,
// dashboard reads): *ledger.Ledger and *inmem.Ledger.
type Ledger interface {
	Claim(ctx context.Context, c ledger.Claim) (*ledger.Payment, bool, error)
	Lookup(ctx context.Context, k ledger.Key) (*ledger.Payment, error)
	Get(ctx context.Context, id string) (*ledger.Payment, error)
	Reclaim(ctx context.Context, id string, c ledger.Claim) (*ledger.Payment, error)
	TakeOver(ctx context.Context, id string, c ledger.Claim, now time.Time) (*ledger.Payment, error)
	Release(ctx context.Context, id, holder, reason string) error
	SendSettle(ctx context.Context, id, holder string, at time.Time) error
	SettleDelivered(ctx context.Context, id, holder, txHash string, mock bool, at time.Time) error
	LeaseDelivery(ctx context.Context, id, holder string, until, now time.Time) error
	EndLease(ctx context.Context, id, holder string, at time.Time) error
	Deliver(ctx context.Context, id, holder string, at time.Time) error
	Settle(ctx context.Context, id, txHash string, mock bool) error
	Fail(ctx context.Context, id, reason string) error
	Review(ctx context.Context, id, reason string) error
	RecordTx(ctx context.Context, id, txHash string) error
	Confirm(ctx context.Context, id string, at time.Time) error
	Demote(ctx context.Context, id, status, reason string) error
	Mark(ctx context.Context, id, status, reason string) error
	Unconfirmed(ctx context.Context, before time.Time, limit int) ([]ledger.Payment, error)
	Pending(ctx context.Context, before time.Time, limit int) ([]ledger.Payment, error)
	List(ctx context.Context, n int) ([]ledger.Payment, error)
	Stats(ctx context.Context) (ledger.Stats, error)
}

var (
	_ Ledger = (*ledger.Ledger)(nil)
	_ Ledger = (*inmem.Ledger)(nil)
)

// BackendEnv names the variable that forces a backend: "inmem" or "postgres".
const BackendEnv = "LEDGER_BACKEND"

// New returns a fresh, empty ledger for t: PostgreSQL (a database of the local
// InsForge, shared/localinsforge) when it is installed or required (CI), the
// in-memory ledger otherwise; LEDGER_BACKEND=inmem|postgres forces one. The
// conformance suite holds both to one behaviour, so the money path's logic
// is tested either way; CI runs it on PostgreSQL.
func New(t testing.TB) Ledger {
	t.Helper()
	l, _ := NewWithStack(t)
	return l
}

// NewWithStack is New also returning the local InsForge under the ledger
// (nil for the in-memory ledger).
func NewWithStack(t testing.TB) (Ledger, *insforgetest.Stack) {
	t.Helper()
	onPostgres := func() (Ledger, *insforgetest.Stack) {
		s := insforgetest.New(t)
		return ledger.New(s.ServiceClient()), s
	}
	switch os.Getenv(BackendEnv) {
	case "inmem":
		return inmem.New(), nil
	case "postgres":
		return onPostgres()
	case "":
	default:
		t.Fatalf("ledgertest: %s must be inmem or postgres", BackendEnv)
	}
	if _, err := localinsforge.SharedCluster(); errors.Is(err, localinsforge.ErrNoPostgres) && !insforgetest.RequireCI() {
		return inmem.New(), nil
	}
	return onPostgres()
}
