package ledger_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/insforge/edge-functions-go/shared/insforge"
	"github.com/insforge/edge-functions-go/shared/insforge/insforgetest"
	"github.com/insforge/edge-functions-go/shared/internal/faultnet"
	"github.com/insforge/edge-functions-go/shared/ledger"
)

// faultyLedger is a ledger whose transport can fail calls (the production
// client settings: two retries of idempotent requests).
func faultyLedger(t *testing.T) (*ledger.Ledger, *faultnet.Transport, *ledger.Ledger) {
	s := insforgetest.New(t)
	ft := &faultnet.Transport{}
	c, err := insforge.New(insforge.Options{BaseURL: s.URL, Token: s.ServiceKey, MaxRetries: 2, Backoff: time.Millisecond,
		MaxBackoff: 5 * time.Millisecond, HTTPClient: &http.Client{Transport: ft}})
	if err != nil {
		t.Fatal(err)
	}
	l := ledger.New(c)
	l.CallTimeout = 300 * time.Millisecond
	return l, ft, ledger.New(s.ServiceClient())
}

func body(method string, parts ...string) faultnet.Match {
	return func(r *http.Request, b []byte) bool {
		if r.Method != method {
			return false
		}
		for _, p := range parts {
			if !strings.Contains(string(b), p) {
				return false
			}
		}
		return true
	}
}

func TestAWriteWhoseReplyIsLostIsReadBackNotRepeatedBlindly(t *testing.T) {
	for _, mode := range faultnet.Modes {
		t.Run(mode.String(), func(t *testing.T) {
			l, ft, clean := faultyLedger(t)
			ctx := context.Background()
			c := claim("1", false)
			c.Holder, c.LeaseUntil = "me", time.Now().Add(time.Minute)
			ft.Arm("claim", body(http.MethodPost), mode, 1)
			row, replay, err := l.Claim(ctx, c)
			if err != nil || replay || row.Holder() != "me" {
				t.Fatalf("claim: %+v replay %v err %v", row, replay, err)
			}
			ft.Arm("record", body(http.MethodPatch, `"delivered_by":"me"`), mode, 1)
			if err := l.SettleDelivered(ctx, row.ID, "me", hex32(), false, time.Now()); err != nil {
				t.Fatalf("record: %v", err)
			}
			got, _ := clean.Get(ctx, row.ID)
			if got.Status != ledger.StatusSettled || got.DeliveredTo() != "me" || ft.Fired("claim") != 1 || ft.Fired("record") != 1 {
				t.Fatalf("row %+v fired %d %d", got, ft.Fired("claim"), ft.Fired("record"))
			}
			// Another holder's write is never mistaken for this one's.
			other, _, _ := clean.Claim(ctx, claim("1", false))
			ft.Arm("deliver-other", body(http.MethodPatch, `"status":"settled"`), mode, 1)
			if err := l.SettleDelivered(ctx, other.ID, "me", hex32(), false, time.Now()); !errors.Is(err, ledger.ErrNotPending) {
				t.Fatalf("settling another holder's claim: %v", err)
			}
		})
	}
}

func TestLeasesDecideWhoMayTakeAClaimOrDeliverAPayment(t *testing.T) {
	l, _ := newLedger(t)
	ctx := context.Background()
	now := time.Now()
	c := claim("1", false)
	c.Holder, c.LeaseUntil = "first", now.Add(time.Minute)
	row, _, err := l.Claim(ctx, c)
	if err != nil {
		t.Fatal(err)
	}
	second := c
	second.Holder, second.LeaseUntil = "second", now.Add(2*time.Minute)
	if _, err := l.TakeOver(ctx, row.ID, second, now); !errors.Is(err, ledger.ErrNotPending) {
		t.Fatalf("take over inside the lease: %v", err)
	}
	taken, err := l.TakeOver(ctx, row.ID, second, now.Add(61*time.Second))
	if err != nil || taken.Holder() != "second" || taken.SettleSent() {
		t.Fatalf("take over after the lease: %+v %v", taken, err)
	}
	if err := l.SendSettle(ctx, row.ID, "first", now); !errors.Is(err, ledger.ErrNotPending) {
		t.Fatalf("the former holder marked the settlement sent: %v", err)
	}
	if err := l.SendSettle(ctx, row.ID, "second", now); err != nil {
		t.Fatal(err)
	}
	third := c
	third.Holder = "third"
	if _, err := l.TakeOver(ctx, row.ID, third, now.Add(time.Hour)); !errors.Is(err, ledger.ErrNotPending) {
		t.Fatalf("a claim whose settlement was sent was taken over: %v", err)
	}
	// The reconciler settles it; re-deliveries lease it before running the handler.
	if err := l.Settle(ctx, row.ID, hex32(), false); err != nil {
		t.Fatal(err)
	}
	if err := l.LeaseDelivery(ctx, row.ID, "third", now.Add(time.Minute), now); !errors.Is(err, ledger.ErrNotPending) {
		t.Fatalf("leased while the holder's lease runs: %v", err)
	}
	if err := l.EndLease(ctx, row.ID, "second", now); err != nil {
		t.Fatal(err)
	}
	later := now.Add(time.Second)
	if err := l.LeaseDelivery(ctx, row.ID, "third", later.Add(time.Minute), later); err != nil {
		t.Fatal(err)
	}
	if err := l.LeaseDelivery(ctx, row.ID, "fourth", later.Add(time.Minute), later); !errors.Is(err, ledger.ErrNotPending) {
		t.Fatalf("two delivery leases: %v", err)
	}
	if err := l.Deliver(ctx, row.ID, "fourth", later); !errors.Is(err, ledger.ErrNotPending) {
		t.Fatalf("delivered without the lease: %v", err)
	}
	if err := l.Deliver(ctx, row.ID, "third", later); err != nil {
		t.Fatal(err)
	}
	if err := l.LeaseDelivery(ctx, row.ID, "fourth", later.Add(time.Hour), later.Add(time.Hour)); !errors.Is(err, ledger.ErrNotPending) {
		t.Fatalf("leased a delivered payment: %v", err)
	}
}
