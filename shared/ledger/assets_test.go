package ledger_test

import (
	"context"
	"testing"
)

// Revenue stays per asset: settled rows in two tokens are summed apart, mock
// rows count as requests only, and a row leaving settled is taken back out.
func TestStatsKeepRevenuePerAsset(t *testing.T) {
	l, s := newLedger(t)
	ctx := context.Background()
	const usdt0 = "0x779ded0c9e1022225f8e0630b35a9b54be713736"
	settle := func(amount, asset string, mock bool) string {
		c := claim(amount, mock)
		if asset != "" {
			c.Asset = asset
		}
		r, _, err := l.Claim(ctx, c)
		if err != nil {
			t.Fatal(err)
		}
		if err := l.Settle(ctx, r.ID, hex32(), mock); err != nil {
			t.Fatal(err)
		}
		return r.ID
	}
	empty, err := l.Stats(ctx)
	if err != nil || empty.Assets == nil || len(empty.Assets) != 0 {
		t.Fatalf("empty %+v, %v", empty, err)
	}
	settle("1000", "", false)
	settle("250", usdt0, false)
	undo := settle("5", usdt0, false)
	settle("999", usdt0, true)
	if _, err := s.Pool.Exec(ctx, `UPDATE x402_payments SET status = 'reverted' WHERE id = $1`, undo); err != nil {
		t.Fatal(err)
	}
	st, err := l.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Assets) != 2 {
		t.Fatalf("assets %+v", st.Assets)
	}
	usdg, tether := st.Assets[0], st.Assets[1]
	if usdg.Asset != "0x4ae46a509f6b1d9056937ba4500cb143933d2dc8" || usdg.Requests != 1 || usdg.Revenue != "1000" || usdg.Network != "eip155:196" {
		t.Errorf("USDG %+v", usdg)
	}
	if tether.Asset != usdt0 || tether.Requests != 2 || tether.Revenue != "250" || tether.LatestPayment == nil {
		t.Errorf("USD₮0 %+v", tether)
	}
}
