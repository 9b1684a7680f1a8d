package ledger_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/insforge/edge-functions-go/shared/internal/faultnet"
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
	e, err := l.SettleDeliveredGrant(ctx, row.ID, row.Holder(), tx, false, at, g)
	if err != nil {
		t.Fatal(err)
	}
	if e.Subject != "eip155:196:"+strings.ToLower(c.PayerAddress) || e.Product != "pro" || e.PaymentID != row.ID ||
		!e.StartsAt.Equal(at) || e.EndsAt.Sub(e.StartsAt) != time.Hour || e.Mock {
		t.Fatalf("entitlement %+v", e)
	}
	got, _ := l.Get(ctx, row.ID)
	if got.Status != ledger.StatusSettled || !got.Delivered() || got.Tx() != tx || got.DeliveredTo() != row.Holder() {
		t.Fatalf("payment %+v", got)
	}
	// Repeating (a lost answer retried) grants nothing more; neither does a late delivery.
	if _, err := l.SettleDeliveredGrant(ctx, row.ID, row.Holder(), tx, false, at, g); !errors.Is(err, ledger.ErrNotPending) {
		t.Fatalf("repeat: %v", err)
	}
	if _, err := l.DeliverGrant(ctx, row.ID, row.Holder(), at, g); !errors.Is(err, ledger.ErrNotPending) {
		t.Fatalf("deliver after delivery: %v", err)
	}
	// Another payment with the same transaction hash: a conflict, nothing written.
	c2 := claim("1000", false)
	c2.Endpoint = g.Endpoint
	row2, _, _ := l.Claim(ctx, c2)
	if _, err := l.SettleDeliveredGrant(ctx, row2.ID, row2.Holder(), tx, false, at, g); !errors.Is(err, ledger.ErrTxHashConflict) {
		t.Fatalf("conflict: %v", err)
	}
	if got, _ := l.Get(ctx, row2.ID); got.Status != ledger.StatusPending {
		t.Fatalf("conflicting row %+v", got)
	}
	// Settled by the reconciler (202 first): its one delivery grants once.
	if err := l.Settle(ctx, row2.ID, hex32(), false); err != nil {
		t.Fatal(err)
	}
	e2, err := l.DeliverGrant(ctx, row2.ID, row2.Holder(), at, g)
	if err != nil || !e2.StartsAt.Equal(e.EndsAt) {
		t.Fatalf("late delivery %+v %v (renewal must start at %v)", e2, err, e.EndsAt)
	}
	if _, err := l.DeliverGrant(ctx, row2.ID, row2.Holder(), at, g); !errors.Is(err, ledger.ErrNotPending) {
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
	if _, err := l.SettleDeliveredGrant(ctx, row.ID, row.Holder(), hex32(), false, time.Now(), ledger.Grant{Endpoint: "/x402/pass/pro", Product: "pro", Duration: time.Hour}); !errors.Is(err, ledger.ErrNotPending) {
		t.Fatalf("got %v", err)
	}
	if got, _ := l.Get(ctx, row.ID); got.Status != ledger.StatusPending {
		t.Fatalf("row %+v", got)
	}
}

// A pass is recorded and delivered under the same leases as any payment: only
// the claim's holder records it, only the delivery lease's holder delivers it,
// and delivered_by names who did.
func TestPassGrantsFollowTheLeases(t *testing.T) {
	l, s := newLedger(t)
	ctx := context.Background()
	now := time.Now()
	g := ledger.Grant{Endpoint: "/x402/pass/pro", Product: "pro", Duration: time.Hour}
	entitlements := func() (n int) {
		_ = s.Pool.QueryRow(ctx, `SELECT count(*) FROM public.x402_entitlements`).Scan(&n)
		return n
	}
	c := claim("1000", false)
	c.Endpoint, c.Holder, c.LeaseUntil = g.Endpoint, "first", now.Add(time.Minute)
	row, _, err := l.Claim(ctx, c)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.SettleDeliveredGrant(ctx, row.ID, "intruder", hex32(), false, now, g); !errors.Is(err, ledger.ErrNotPending) || entitlements() != 0 {
		t.Fatalf("recorded by a presentation not holding the claim: %v, %d entitlements", err, entitlements())
	}
	// Taken over after its lease (the first holder never sent the settlement):
	// the former holder records nothing.
	second := c
	second.Holder, second.LeaseUntil = "second", now.Add(2*time.Minute)
	if _, err := l.TakeOver(ctx, row.ID, second, now.Add(61*time.Second)); err != nil {
		t.Fatal(err)
	}
	if _, err := l.SettleDeliveredGrant(ctx, row.ID, "first", hex32(), false, now, g); !errors.Is(err, ledger.ErrNotPending) || entitlements() != 0 {
		t.Fatalf("recorded by the former holder: %v, %d entitlements", err, entitlements())
	}
	if err := l.SendSettle(ctx, row.ID, "second", now); err != nil {
		t.Fatal(err)
	}
	// Its settlement's answer was lost (202); the reconciler settles it; two
	// re-presentations race: one leases the delivery, only it delivers.
	if err := l.Settle(ctx, row.ID, hex32(), false); err != nil {
		t.Fatal(err)
	}
	if err := l.EndLease(ctx, row.ID, "second", now); err != nil {
		t.Fatal(err)
	}
	later := now.Add(time.Second)
	if err := l.LeaseDelivery(ctx, row.ID, "third", later.Add(time.Minute), later); err != nil {
		t.Fatal(err)
	}
	if _, err := l.DeliverGrant(ctx, row.ID, "fourth", later, g); !errors.Is(err, ledger.ErrNotPending) || entitlements() != 0 {
		t.Fatalf("delivered without the lease: %v, %d entitlements", err, entitlements())
	}
	if _, err := l.DeliverGrant(ctx, row.ID, "second", later, g); !errors.Is(err, ledger.ErrNotPending) || entitlements() != 0 {
		t.Fatalf("delivered by the ended claim: %v, %d entitlements", err, entitlements())
	}
	e, err := l.DeliverGrant(ctx, row.ID, "third", later, g)
	if err != nil || e.PaymentID != row.ID || entitlements() != 1 {
		t.Fatalf("delivery by the lease holder: %+v %v", e, err)
	}
	if got, _ := l.Get(ctx, row.ID); got.DeliveredTo() != "third" {
		t.Fatalf("delivered_by %q", got.DeliveredTo())
	}
	if _, err := l.DeliverGrant(ctx, row.ID, "third", later, g); !errors.Is(err, ledger.ErrNotPending) || entitlements() != 1 {
		t.Fatalf("delivered twice: %v, %d entitlements", err, entitlements())
	}
}

// countingTransport counts the calls to each RPC that reach the server.
type countingTransport struct {
	mu sync.Mutex
	n  map[string]int
}

func (c *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if i := strings.Index(r.URL.Path, "/rpc/"); i >= 0 {
		c.mu.Lock()
		c.n[r.URL.Path[i+len("/rpc/"):]]++
		c.mu.Unlock()
	}
	return http.DefaultTransport.RoundTrip(r)
}

func (c *countingTransport) calls(fn string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n[fn]
}

// A pass record or delivery whose reply is lost is read back by its holder,
// never sent again blindly (the client, which retries idempotent requests,
// does not repeat it either): the entitlement is granted once, and the caller
// learns it.
func TestAGrantWhoseReplyIsLostIsReadBackNotRepeatedBlindly(t *testing.T) {
	g := ledger.Grant{Endpoint: "/x402/pass/pro", Product: "pro", Duration: time.Hour}
	rpc := func(fn string) faultnet.Match {
		return func(r *http.Request, _ []byte) bool { return strings.HasSuffix(r.URL.Path, "/rpc/"+fn) }
	}
	for _, mode := range faultnet.Modes {
		t.Run(mode.String(), func(t *testing.T) {
			l, ft, clean := faultyLedger(t)
			ctx := context.Background()
			// The server acts once: a call dropped before it acted is sent again
			// after the re-read showed no trace of it; any other is not.
			sent := &countingTransport{n: map[string]int{}}
			ft.Base = sent
			c := claim("1000", false)
			c.Endpoint, c.Holder, c.LeaseUntil = g.Endpoint, "me", time.Now().Add(time.Minute)
			row, _, err := clean.Claim(ctx, c)
			if err != nil {
				t.Fatal(err)
			}
			ft.Arm("record", rpc("x402_pass_settle_deliver"), mode, 1)
			e, err := l.SettleDeliveredGrant(ctx, row.ID, "me", hex32(), false, time.Now(), g)
			if err != nil || e == nil || e.PaymentID != row.ID || e.Product != "pro" {
				t.Fatalf("record: %+v %v", e, err)
			}
			got, _ := clean.Get(ctx, row.ID)
			if got.Status != ledger.StatusSettled || got.DeliveredTo() != "me" || ft.Fired("record") != 1 || sent.calls("x402_pass_settle_deliver") != 1 {
				t.Fatalf("row %+v, fired %d, reached the server %d times", got, ft.Fired("record"), sent.calls("x402_pass_settle_deliver"))
			}
			// Another holder's claim: its recorded delivery is never mistaken for this one's.
			o := claim("1000", false)
			o.Endpoint, o.Holder, o.LeaseUntil = g.Endpoint, "other", time.Now().Add(time.Minute)
			other, _, _ := clean.Claim(ctx, o)
			if _, err := clean.SettleDeliveredGrant(ctx, other.ID, "other", hex32(), false, time.Now(), g); err != nil {
				t.Fatal(err)
			}
			ft.Arm("record-other", rpc("x402_pass_settle_deliver"), mode, 1)
			if _, err := l.SettleDeliveredGrant(ctx, other.ID, "me", hex32(), false, time.Now(), g); !errors.Is(err, ledger.ErrNotPending) {
				t.Fatalf("recording another holder's delivered claim: %v", err)
			}
			// The late delivery (settled by the reconciler) under a delivery lease.
			c2 := claim("1000", false)
			c2.Endpoint = g.Endpoint
			late, _, _ := clean.Claim(ctx, c2)
			if err := clean.Settle(ctx, late.ID, hex32(), false); err != nil {
				t.Fatal(err)
			}
			now := time.Now()
			if err := clean.LeaseDelivery(ctx, late.ID, "me", now.Add(time.Minute), now); err != nil {
				t.Fatal(err)
			}
			ft.Arm("deliver", rpc("x402_pass_deliver"), mode, 1)
			e2, err := l.DeliverGrant(ctx, late.ID, "me", now, g)
			if err != nil || e2 == nil || e2.PaymentID != late.ID || e2.EndsAt.Sub(e2.StartsAt) != time.Hour {
				t.Fatalf("deliver: %+v %v", e2, err)
			}
			if got, _ := clean.Get(ctx, late.ID); got.DeliveredTo() != "me" || sent.calls("x402_pass_deliver") != 1 {
				t.Fatalf("row %+v, reached the server %d times", got, sent.calls("x402_pass_deliver"))
			}
		})
	}
}
