package ledgertest_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/insforge/edge-functions-go/shared/internal/faultnet"
	"github.com/insforge/edge-functions-go/shared/ledger"
	"github.com/insforge/edge-functions-go/shared/ledger/inmem"
	"github.com/insforge/edge-functions-go/shared/ledger/ledgertest"
)

func TestFaultsFailArmedCallsInEachModeAndActAsTheModeSays(t *testing.T) {
	ctx := context.Background()
	for _, c := range []struct {
		mode     faultnet.Mode
		acted    bool
		deadline bool
	}{
		{faultnet.Drop, false, false},
		{faultnet.LoseReply, true, false},
		{faultnet.Hang, true, true},
	} {
		t.Run(c.mode.String(), func(t *testing.T) {
			l := inmem.New()
			f := ledgertest.NewFaults(l)
			f.CallTimeout = 20 * time.Millisecond
			f.Arm("claim", ledgertest.Method("Claim"), c.mode, 1)
			cl := ledger.Claim{PayerAddress: "0xaa", Endpoint: "/x", Amount: "1", Network: "eip155:196", Asset: "0xbb",
				PayTo: "0xcc", Nonce: "0x01", Holder: "h1", LeaseUntil: time.Now().Add(time.Minute)}
			k := ledger.Key{Network: cl.Network, Asset: cl.Asset, Payer: cl.PayerAddress, Nonce: cl.Nonce}
			if _, err := f.Lookup(ctx, k); err != nil {
				t.Fatalf("an unmatched call failed: %v", err)
			}
			start := time.Now()
			row, _, err := f.Claim(ctx, cl)
			if !errors.Is(err, ledger.ErrUnavailable) || row != nil {
				t.Fatalf("armed call: %+v %v", row, err)
			}
			if c.deadline != errors.Is(err, context.DeadlineExceeded) || (c.deadline && time.Since(start) < f.CallTimeout) {
				t.Fatalf("deadline: %v after %v", err, time.Since(start))
			}
			if got, _ := l.Lookup(ctx, k); (got != nil) != c.acted {
				t.Fatalf("acted = %v, want %v", got != nil, c.acted)
			}
			if f.Fired("claim") != 1 {
				t.Fatalf("fired %d", f.Fired("claim"))
			}
			// Armed once: the next call goes through.
			if _, _, err := f.Claim(ctx, cl); err != nil {
				t.Fatalf("second call: %v", err)
			}
		})
	}
}
