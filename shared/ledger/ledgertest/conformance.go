package ledgertest

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/insforge/edge-functions-go/shared/ledger"
)

var seq atomic.Int64

// claim returns a fresh claim (its own authorization) held by holder until lease.
func claim(holder string, lease time.Time) ledger.Claim {
	n := seq.Add(1)
	return ledger.Claim{
		PayerAddress: fmt.Sprintf("0xAB%038x", n), Endpoint: "/x402/report", Amount: "10000",
		Network: "eip155:196", Asset: "0x4AE46a509F6b1D9056937BA4500cb143933D2dc8", PayTo: "0xPAYTO" + strings.Repeat("0", 34),
		Nonce: fmt.Sprintf("0x%064X", n), ValidBefore: time.Now().Add(time.Hour).Unix(), ResponseSummary: "report",
		Holder: holder, LeaseUntil: lease,
	}
}

func txHash(n int) string { return fmt.Sprintf("0x%064X", n+int(seq.Add(1))*1000) }

func key(c ledger.Claim) ledger.Key {
	return ledger.Key{Network: c.Network, Asset: c.Asset, Payer: c.PayerAddress, Nonce: c.Nonce}
}

// Conformance runs the ledger's behaviour against ledgers made by newLedger,
// one per subtest (each must start empty).
func Conformance(t *testing.T, newLedger func(t *testing.T) Ledger) {
	ctx := context.Background()
	later := func() time.Time { return time.Now().Add(time.Hour) }
	fresh := func(t *testing.T, l Ledger, holder string, lease time.Time) (*ledger.Payment, ledger.Claim) {
		t.Helper()
		c := claim(holder, lease)
		row, replay, err := l.Claim(ctx, c)
		if err != nil || replay {
			t.Fatalf("claim: %v replay=%v", err, replay)
		}
		return row, c
	}
	notPending := func(t *testing.T, what string, err error) {
		t.Helper()
		if !errors.Is(err, ledger.ErrNotPending) {
			t.Fatalf("%s: got %v, want ErrNotPending", what, err)
		}
	}
	ok := func(t *testing.T, what string, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	get := func(t *testing.T, l Ledger, id string) *ledger.Payment {
		t.Helper()
		p, err := l.Get(ctx, id)
		ok(t, "get", err)
		return p
	}

	t.Run("ClaimStoresACanonicalPendingRowHeldByItsHolder", func(t *testing.T) {
		l := newLedger(t)
		lease := time.Now().Add(time.Minute)
		row, c := fresh(t, l, "h1", lease)
		if row.ID == "" || row.Status != ledger.StatusPending || row.Holder() != "h1" || row.SettleSent() || row.Delivered() ||
			row.PayerAddress != strings.ToLower(c.PayerAddress) || row.Asset != strings.ToLower(c.Asset) ||
			row.Nonce != strings.ToLower(c.Nonce) || row.PayTo != strings.ToLower(c.PayTo) || row.Chain == nil || *row.Chain != "xlayer" ||
			row.ResponseSummary == nil || *row.ResponseSummary != "report" || row.Tx() != "" || row.Amount != "10000" ||
			row.LeaseUntil == nil || row.LeaseUntil.Sub(lease).Abs() > time.Millisecond || row.UpdatedAt == nil {
			t.Fatalf("row %+v", row)
		}
		got, err := l.Lookup(ctx, key(c))
		ok(t, "lookup", err)
		if got == nil || got.ID != row.ID {
			t.Fatalf("lookup %+v", got)
		}
		// Any spelling of the hex finds it.
		upper := key(c)
		upper.Payer, upper.Nonce = strings.ToUpper(upper.Payer[:2])+upper.Payer[2:], strings.ToLower(upper.Nonce)
		if got, err := l.Lookup(ctx, upper); err != nil || got == nil || got.ID != row.ID {
			t.Fatalf("lookup by another spelling: %+v %v", got, err)
		}
		if got, err := l.Lookup(ctx, ledger.Key{Network: c.Network, Asset: c.Asset, Payer: c.PayerAddress, Nonce: "0x01"}); err != nil || got != nil {
			t.Fatalf("unknown authorization: %+v %v", got, err)
		}
	})

	t.Run("ASecondClaimOfAnAuthorizationIsAReplayUnlessItIsTheHoldersOwn", func(t *testing.T) {
		l := newLedger(t)
		row, c := fresh(t, l, "h1", later())
		for _, spell := range []func(string) string{strings.ToLower, strings.ToUpper} {
			again := c
			again.Holder, again.Nonce = "h2", "0x"+spell(c.Nonce[2:])
			got, replay, err := l.Claim(ctx, again)
			if err != nil || !replay || got.ID != row.ID || got.Holder() != "h1" {
				t.Fatalf("second claim: %+v replay=%v %v", got, replay, err)
			}
		}
		own, replay, err := l.Claim(ctx, c)
		if err != nil || replay || own.ID != row.ID {
			t.Fatalf("holder's own claim again: %+v replay=%v %v", own, replay, err)
		}
	})

	t.Run("ConcurrentClaimsOfOneAuthorizationHaveOneWinner", func(t *testing.T) {
		l := newLedger(t)
		c := claim("", later())
		var wg sync.WaitGroup
		var won atomic.Int32
		ids := make([]string, 8)
		for i := range ids {
			wg.Add(1)
			go func() {
				defer wg.Done()
				ci := c
				ci.Holder = fmt.Sprintf("h%d", i)
				row, replay, err := l.Claim(ctx, ci)
				if err != nil {
					t.Error(err)
					return
				}
				if !replay {
					won.Add(1)
				}
				ids[i] = row.ID
			}()
		}
		wg.Wait()
		if won.Load() != 1 {
			t.Fatalf("%d winners", won.Load())
		}
		for _, id := range ids {
			if id != ids[0] {
				t.Fatalf("rows %v", ids)
			}
		}
	})

	t.Run("AnAmountThatIsNotCanonicalIsRefused", func(t *testing.T) {
		l := newLedger(t)
		c := claim("h1", later())
		c.Amount = "1.5"
		if _, _, err := l.Claim(ctx, c); !errors.Is(err, ledger.ErrUnavailable) {
			t.Fatalf("got %v", err)
		}
	})

	t.Run("TakeOverOnlyAfterTheLeaseAndBeforeTheSettleSentMark", func(t *testing.T) {
		l := newLedger(t)
		now := time.Now()
		row, c := fresh(t, l, "h1", now.Add(time.Minute))
		next := c
		next.Holder, next.LeaseUntil = "h2", now.Add(2*time.Minute)
		_, err := l.TakeOver(ctx, row.ID, next, now)
		notPending(t, "takeover inside the lease", err)
		got, err := l.TakeOver(ctx, row.ID, next, now.Add(90*time.Second))
		ok(t, "takeover after the lease", err)
		if got.Holder() != "h2" || got.Status != ledger.StatusPending || got.ID != row.ID {
			t.Fatalf("taken %+v", got)
		}
		notPending(t, "old holder's settle mark", l.SendSettle(ctx, row.ID, "h1", now))
		notPending(t, "old holder's release", l.Release(ctx, row.ID, "h1", "x"))
		ok(t, "new holder's settle mark", l.SendSettle(ctx, row.ID, "h2", now))
		notPending(t, "settle mark twice", l.SendSettle(ctx, row.ID, "h2", now))
		third := c
		third.Holder = "h3"
		_, err = l.TakeOver(ctx, row.ID, third, now.Add(time.Hour))
		notPending(t, "takeover after the settle mark", err)
		if p := get(t, l, row.ID); !p.SettleSent() || p.Holder() != "h2" || p.Takeable(now.Add(time.Hour)) {
			t.Fatalf("row %+v", p)
		}
	})

	t.Run("SettleDeliveredIsTheHoldersOnlyAndOnce", func(t *testing.T) {
		l := newLedger(t)
		row, _ := fresh(t, l, "h1", later())
		tx := txHash(1)
		at := time.Now()
		notPending(t, "another holder", l.SettleDelivered(ctx, row.ID, "h2", tx, false, at))
		ok(t, "holder", l.SettleDelivered(ctx, row.ID, "h1", strings.ToUpper(tx), false, at))
		p := get(t, l, row.ID)
		if p.Status != ledger.StatusSettled || p.Tx() != strings.ToLower(tx) || !p.Delivered() || p.DeliveredTo() != "h1" ||
			p.ErrorText() != "" || p.DeliveredAt.Sub(at).Abs() > time.Millisecond {
			t.Fatalf("row %+v", p)
		}
		notPending(t, "twice", l.SettleDelivered(ctx, row.ID, "h1", tx, false, at))
		notPending(t, "deliver a delivered row", l.Deliver(ctx, row.ID, "h1", at))
		notPending(t, "lease a delivered row", l.LeaseDelivery(ctx, row.ID, "h2", later(), time.Now().Add(2*time.Hour)))
		notPending(t, "end the lease of a delivered row", l.EndLease(ctx, row.ID, "h1", at))
	})

	t.Run("ATransactionHashIsHeldByOneRow", func(t *testing.T) {
		l := newLedger(t)
		a, _ := fresh(t, l, "h1", later())
		b, _ := fresh(t, l, "h2", later())
		tx := txHash(2)
		ok(t, "first", l.SettleDelivered(ctx, a.ID, "h1", tx, false, time.Now()))
		if err := l.SettleDelivered(ctx, b.ID, "h2", tx, false, time.Now()); !errors.Is(err, ledger.ErrTxHashConflict) {
			t.Fatalf("settle delivered: %v", err)
		}
		if err := l.RecordTx(ctx, b.ID, strings.ToUpper(tx)); !errors.Is(err, ledger.ErrTxHashConflict) {
			t.Fatalf("record tx: %v", err)
		}
		if err := l.Settle(ctx, b.ID, tx, false); !errors.Is(err, ledger.ErrTxHashConflict) {
			t.Fatalf("settle: %v", err)
		}
		if p := get(t, l, b.ID); p.Status != ledger.StatusPending || p.Tx() != "" {
			t.Fatalf("row %+v", p)
		}
	})

	t.Run("ADeliveryLeaseHasOneHolderUntilItEnds", func(t *testing.T) {
		l := newLedger(t)
		now := time.Now()
		row, _ := fresh(t, l, "h1", now.Add(time.Minute))
		ok(t, "settle", l.Settle(ctx, row.ID, txHash(3), false))
		notPending(t, "lease while the claim lease runs", l.LeaseDelivery(ctx, row.ID, "h2", now.Add(2*time.Minute), now))
		at := now.Add(2 * time.Minute)
		ok(t, "lease", l.LeaseDelivery(ctx, row.ID, "h2", at.Add(time.Minute), at))
		notPending(t, "second lease", l.LeaseDelivery(ctx, row.ID, "h3", at.Add(time.Minute), at.Add(30*time.Second)))
		notPending(t, "deliver by another", l.Deliver(ctx, row.ID, "h3", at))
		notPending(t, "end another's lease", l.EndLease(ctx, row.ID, "h3", at))
		ok(t, "end lease", l.EndLease(ctx, row.ID, "h2", at))
		ok(t, "lease after it ended", l.LeaseDelivery(ctx, row.ID, "h3", at.Add(time.Minute), at.Add(time.Second)))
		ok(t, "deliver", l.Deliver(ctx, row.ID, "h3", at))
		notPending(t, "deliver twice", l.Deliver(ctx, row.ID, "h3", at))
		if p := get(t, l, row.ID); p.DeliveredTo() != "h3" || !p.Delivered() || p.Status != ledger.StatusSettled {
			t.Fatalf("row %+v", p)
		}
	})

	t.Run("TheClaimHolderDeliversARowTheReconcilerSettled", func(t *testing.T) {
		l := newLedger(t)
		row, _ := fresh(t, l, "h1", later())
		ok(t, "settle", l.Settle(ctx, row.ID, "", true))
		if p := get(t, l, row.ID); p.Status != ledger.StatusSettled || p.ErrorText() == "" || !p.Mock || p.Tx() != "" {
			t.Fatalf("settled without a hash: %+v", p)
		}
		notPending(t, "settle twice", l.Settle(ctx, row.ID, txHash(4), false))
		ok(t, "deliver by the claim holder", l.Deliver(ctx, row.ID, "h1", time.Now()))
	})

	t.Run("ReleaseAndReclaim", func(t *testing.T) {
		l := newLedger(t)
		row, c := fresh(t, l, "h1", later())
		ok(t, "record tx", l.RecordTx(ctx, row.ID, txHash(5)))
		notPending(t, "release by another", l.Release(ctx, row.ID, "h2", "x"))
		ok(t, "release", l.Release(ctx, row.ID, "h1", "verify refused"))
		p := get(t, l, row.ID)
		if p.Status != ledger.StatusReleased || p.ErrorText() != "verify refused" || p.Tx() != "" {
			t.Fatalf("released %+v", p)
		}
		notPending(t, "release twice", l.Release(ctx, row.ID, "h1", "x"))
		again := c
		again.Holder, again.Amount, again.ResponseSummary = "h2", "20000", ""
		got, err := l.Reclaim(ctx, row.ID, again)
		ok(t, "reclaim", err)
		if got.ID != row.ID || got.Status != ledger.StatusPending || got.Holder() != "h2" || got.Amount != "20000" ||
			got.ErrorText() != "" || got.ResponseSummary != nil || got.SettleSent() {
			t.Fatalf("reclaimed %+v", got)
		}
		_, err = l.Reclaim(ctx, row.ID, again)
		notPending(t, "reclaim a pending row", err)
	})

	t.Run("ResolutionsApplyOnlyFromTheirStatus", func(t *testing.T) {
		l := newLedger(t)
		for _, c := range []struct {
			name   string
			do     func(id string) error
			status string
		}{
			{"fail", func(id string) error { return l.Fail(ctx, id, "expired") }, ledger.StatusFailed},
			{"review", func(id string) error { return l.Review(ctx, id, "no transfer log") }, ledger.StatusNeedsReview},
			{"mark cancelled", func(id string) error { return l.Mark(ctx, id, ledger.StatusCancelled, "cancelled") }, ledger.StatusCancelled},
		} {
			row, _ := fresh(t, l, "h1", later())
			ok(t, c.name, c.do(row.ID))
			if p := get(t, l, row.ID); p.Status != c.status || p.ErrorText() == "" {
				t.Fatalf("%s: %+v", c.name, p)
			}
			notPending(t, c.name+" twice", c.do(row.ID))
			notPending(t, c.name+" then settle", l.Settle(ctx, row.ID, txHash(6), false))
		}
		row, _ := fresh(t, l, "h1", later())
		notPending(t, "confirm a pending row", l.Confirm(ctx, row.ID, time.Now()))
		notPending(t, "demote a pending row", l.Demote(ctx, row.ID, ledger.StatusReverted, "x"))
		if err := l.Mark(ctx, row.ID, "bogus", "x"); !errors.Is(err, ledger.ErrUnavailable) {
			t.Fatalf("unknown status: %v", err)
		}
		ok(t, "settle", l.SettleDelivered(ctx, row.ID, "h1", txHash(7), false, time.Now()))
		ok(t, "confirm", l.Confirm(ctx, row.ID, time.Now()))
		if p := get(t, l, row.ID); p.ConfirmedAt == nil {
			t.Fatalf("confirmed %+v", p)
		}
		ok(t, "demote", l.Demote(ctx, row.ID, ledger.StatusReverted, "reverted on-chain"))
		if p := get(t, l, row.ID); p.Status != ledger.StatusReverted || p.ErrorText() != "reverted on-chain" {
			t.Fatalf("demoted %+v", p)
		}
		notPending(t, "demote twice", l.Demote(ctx, row.ID, ledger.StatusNeedsReview, "x"))
		notPending(t, "unknown id", l.Fail(ctx, "00000000-0000-4000-8000-000000000000", "x"))
	})

	t.Run("ListsAndStats", func(t *testing.T) {
		l := newLedger(t)
		a, _ := fresh(t, l, "h1", later())
		b, _ := fresh(t, l, "h2", later())
		m, _ := fresh(t, l, "h3", later())
		pending, _ := fresh(t, l, "h4", later())
		ok(t, "a", l.SettleDelivered(ctx, a.ID, "h1", txHash(8), false, time.Now()))
		ok(t, "b", l.Settle(ctx, b.ID, txHash(9), false))
		ok(t, "b confirmed", l.Confirm(ctx, b.ID, time.Now()))
		ok(t, "m", l.SettleDelivered(ctx, m.ID, "h3", txHash(10), true, time.Now()))
		future := time.Now().Add(time.Minute)

		for _, lc := range []struct {
			name string
			list func(ctx context.Context, before time.Time, limit int) ([]ledger.Payment, error)
			want string
		}{{"unconfirmed", l.Unconfirmed, a.ID}, {"pending", l.Pending, pending.ID}} {
			got, err := lc.list(ctx, future, 10)
			if err != nil || len(got) != 1 || got[0].ID != lc.want {
				t.Fatalf("%s: %+v %v", lc.name, got, err)
			}
			if got, err := lc.list(ctx, time.Now().Add(-time.Hour), 10); err != nil || len(got) != 0 {
				t.Fatalf("%s before: %+v %v", lc.name, got, err)
			}
		}

		ok(t, "release", l.Release(ctx, pending.ID, "h4", "secret reason"))
		rows, err := l.List(ctx, 10)
		ok(t, "list", err)
		if len(rows) != 4 || rows[0].ID != pending.ID || rows[3].ID != a.ID {
			t.Fatalf("list order %+v", rows)
		}
		for _, r := range rows {
			// The public projection: no error text, no coordination data.
			public := r
			ledger.Public(&public)
			if !reflect.DeepEqual(public, r) {
				t.Fatalf("list leaks service columns: %+v", r)
			}
		}
		if rows, err := l.List(ctx, 2); err != nil || len(rows) != 2 {
			t.Fatalf("list 2: %d %v", len(rows), err)
		}

		s, err := l.Stats(ctx)
		ok(t, "stats", err)
		// Requests count mock rows; revenue does not.
		if s.TotalRequests != 3 || s.TotalRevenue != "20000" || s.LatestPayment == nil ||
			len(s.Endpoints) != 1 || s.Endpoints[0].Endpoint != "/x402/report" || s.Endpoints[0].Requests != 3 ||
			s.Endpoints[0].Revenue != "20000" || len(s.Assets) != 1 || s.Assets[0].Requests != 3 ||
			s.Assets[0].Asset != strings.ToLower(a.Asset) || s.Assets[0].Revenue != "20000" {
			t.Fatalf("stats %+v", s)
		}
		ok(t, "demote", l.Demote(ctx, a.ID, ledger.StatusReverted, "reverted"))
		if s, err := l.Stats(ctx); err != nil || s.TotalRequests != 2 || s.TotalRevenue != "10000" {
			t.Fatalf("stats after demote %+v %v", s, err)
		}
	})

	t.Run("AnEmptyLedgerHasEmptyStats", func(t *testing.T) {
		s, err := newLedger(t).Stats(ctx)
		if err != nil || s.TotalRequests != 0 || s.TotalRevenue != "0" || s.Endpoints == nil || len(s.Endpoints) != 0 ||
			s.Assets == nil || len(s.Assets) != 0 {
			t.Fatalf("stats %+v %v", s, err)
		}
	})

	t.Run("ACancelledContextIsUnavailable", func(t *testing.T) {
		l := newLedger(t)
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		if _, _, err := l.Claim(cctx, claim("h1", later())); !errors.Is(err, ledger.ErrUnavailable) {
			t.Fatalf("claim: %v", err)
		}
		if _, err := l.Lookup(cctx, key(claim("h1", later()))); !errors.Is(err, ledger.ErrUnavailable) {
			t.Fatalf("lookup: %v", err)
		}
	})
}
