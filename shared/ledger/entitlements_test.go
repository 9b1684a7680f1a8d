package ledger_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/insforge/edge-functions-go/shared/ledger"
)

func TestSettleDeliveredGrantWritesThePaymentAndItsEntitlementOnce(t *testing.T) {
	l, _ := newLedger(t)
	ctx := context.Background()
	g := ledger.Grant{Endpoint: "/x402/pass/pro", Product: "pro", Duration: time.Hour}
	c := claim("1000", false)
	c.Endpoint = g.Endpoint
	row, _, err := l.Claim(ctx, c)
	if err != nil {
		t.Fatal(err)
	}
	at := time.Now().Truncate(time.Millisecond)
	tx := hex32()
	e, err := l.SettleDeliveredGrant(ctx, row.ID, tx, false, at, g)
	if err != nil {
		t.Fatal(err)
	}
	if e.Subject != "eip155:196:"+strings.ToLower(c.PayerAddress) || e.Product != "pro" || e.PaymentID != row.ID ||
		!e.StartsAt.Equal(at) || e.EndsAt.Sub(e.StartsAt) != time.Hour || e.Mock {
		t.Fatalf("entitlement %+v", e)
	}
	got, _ := l.Get(ctx, row.ID)
	if got.Status != ledger.StatusSettled || !got.Delivered() || got.Tx() != tx {
		t.Fatalf("payment %+v", got)
	}
	// Repeating (a lost answer retried) grants nothing more; neither does a late delivery.
	if _, err := l.SettleDeliveredGrant(ctx, row.ID, tx, false, at, g); !errors.Is(err, ledger.ErrNotPending) {
		t.Fatalf("repeat: %v", err)
	}
	if _, err := l.DeliverGrant(ctx, row.ID, at, g); !errors.Is(err, ledger.ErrNotPending) {
		t.Fatalf("deliver after delivery: %v", err)
	}
	// Another payment with the same transaction hash: a conflict, nothing written.
	c2 := claim("1000", false)
	c2.Endpoint = g.Endpoint
	row2, _, _ := l.Claim(ctx, c2)
	if _, err := l.SettleDeliveredGrant(ctx, row2.ID, tx, false, at, g); !errors.Is(err, ledger.ErrTxHashConflict) {
		t.Fatalf("conflict: %v", err)
	}
	if got, _ := l.Get(ctx, row2.ID); got.Status != ledger.StatusPending {
		t.Fatalf("conflicting row %+v", got)
	}
	// Settled by the reconciler (202 first): its one delivery grants once.
	if err := l.Settle(ctx, row2.ID, hex32(), false); err != nil {
		t.Fatal(err)
	}
	e2, err := l.DeliverGrant(ctx, row2.ID, at, g)
	if err != nil || !e2.StartsAt.Equal(e.EndsAt) {
		t.Fatalf("late delivery %+v %v (renewal must start at %v)", e2, err, e.EndsAt)
	}
	if _, err := l.DeliverGrant(ctx, row2.ID, at, g); !errors.Is(err, ledger.ErrNotPending) {
		t.Fatalf("second delivery: %v", err)
	}
	stats, err := l.PassStats(ctx)
	if err != nil || len(stats) != 1 || stats[0] != (ledger.PassStats{Product: "pro", Sold: 2, Active: 1}) {
		t.Fatalf("stats %+v %v", stats, err)
	}
}

func TestGrantRefusesAPaymentForAnotherEndpoint(t *testing.T) {
	l, _ := newLedger(t)
	ctx := context.Background()
	row, _, _ := l.Claim(ctx, claim("1000", false)) // endpoint /x402/report
	if _, err := l.SettleDeliveredGrant(ctx, row.ID, hex32(), false, time.Now(), ledger.Grant{Endpoint: "/x402/pass/pro", Product: "pro", Duration: time.Hour}); !errors.Is(err, ledger.ErrNotPending) {
		t.Fatalf("got %v", err)
	}
	if got, _ := l.Get(ctx, row.ID); got.Status != ledger.StatusPending {
		t.Fatalf("row %+v", got)
	}
}
