package paywall_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/insforge/edge-functions-go/shared/facilitator"
	"github.com/insforge/edge-functions-go/shared/ledger"
	"github.com/insforge/edge-functions-go/shared/paywall"
	"github.com/insforge/edge-functions-go/shared/x402"
)

// payWithin presents a payment in a request whose context ends after d, as a
// Lambda invocation with d remaining.
func (hs *harness) payWithin(d time.Duration, header, value string) *httptest.ResponseRecorder {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	r := httptest.NewRequest(http.MethodPost, "http://localhost/x402/report", nil).WithContext(ctx)
	r.Header.Set(header, value)
	w := httptest.NewRecorder()
	hs.h.ServeHTTP(w, r)
	return w
}

func TestTooLittleTimeLeftIs503BeforeAnyUpstreamCall(t *testing.T) {
	hs := newHarness(t, facilitator.APIV2) // settle 20 s + record 3 s needed
	p := hs.payer.Pay(t, hs.offer, x402.StyleV2, time.Now())
	w := hs.payWithin(5*time.Second, p.Header(), p.Encode(t))
	if w.Code != http.StatusServiceUnavailable || errorCode(t, w) != "deadline" || w.Header().Get("Retry-After") == "" {
		t.Fatalf("status %d body %s", w.Code, w.Body)
	}
	if len(hs.okx.Calls("")) != 0 || len(hs.rows()) != 0 || hs.served.Load() != 0 {
		t.Fatal("called upstream, claimed or served without time to settle")
	}
}

func TestTimeSpentBeforeSettlingReleasesTheClaimWithoutSettling(t *testing.T) {
	hs := newHarness(t, facilitator.APIV2, func(c *paywall.Options, _ *harness) {
		c.SettleTimeout, c.RecordTimeout = 400*time.Millisecond, 100*time.Millisecond
	})
	hs.okx.Delay("verify", 600*time.Millisecond) // eats the margin: 1 s - 0.6 s < 0.5 s
	p := hs.payer.Pay(t, hs.offer, x402.StyleV2, time.Now())
	w := hs.payWithin(time.Second, p.Header(), p.Encode(t))
	if w.Code != http.StatusServiceUnavailable || errorCode(t, w) != "deadline" {
		t.Fatalf("status %d body %s", w.Code, w.Body)
	}
	if len(hs.okx.Calls("settle")) != 0 {
		t.Fatal("settled without time to record")
	}
	if rows := hs.rows(); len(rows) != 1 || rows[0].Status != ledger.StatusReleased {
		t.Fatalf("rows %+v", rows)
	}
}

func TestASettleOutlivingItsDeadlineLeavesARowForTheReconciler(t *testing.T) {
	hs := newHarness(t, facilitator.APIV2, func(c *paywall.Options, _ *harness) {
		c.SettleTimeout, c.RecordTimeout = 300*time.Millisecond, 300*time.Millisecond
	})
	hs.okx.Delay("settle", time.Second) // OKX settles after we stopped waiting
	p := hs.payer.Pay(t, hs.offer, x402.StyleV2, time.Now())
	start := time.Now()
	w := hs.payWithin(2*time.Second, p.Header(), p.Encode(t))
	if took := time.Since(start); w.Code != http.StatusAccepted || delivered(w) {
		t.Fatalf("status %d after %s: %s", w.Code, took, w.Body)
	}
	rows := hs.rows()
	if len(rows) != 1 || rows[0].Status != ledger.StatusPending || rows[0].Nonce == "" || rows[0].ValidBefore == 0 {
		t.Fatalf("no resolvable row for a settle in flight: %+v", rows)
	}
}
