package paywall_test

import (
	"context"
	"encoding/json"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"

	"github.com/insforge/edge-functions-go/shared/facilitator"
	"github.com/insforge/edge-functions-go/shared/ledger"
	"github.com/insforge/edge-functions-go/shared/logtest"
	"github.com/insforge/edge-functions-go/shared/metrics"
	"github.com/insforge/edge-functions-go/shared/paywall"
	"github.com/insforge/edge-functions-go/shared/x402"
	"github.com/insforge/edge-functions-go/shared/x402/x402test"
)

func errorCode(t *testing.T, w *httptest.ResponseRecorder) string {
	t.Helper()
	var b map[string]string
	if err := json.Unmarshal(w.Body.Bytes(), &b); err != nil {
		t.Fatalf("body %s: %v", w.Body, err)
	}
	return b["error"]
}

func TestPerPayerLimitAnswers429BeforeAnyUpstreamCall(t *testing.T) {
	hs := newHarness(t, facilitator.APIV2, func(c *paywall.Options, _ *harness) { c.PayerPerMinute, c.PayerBurst = 2, 2 })
	for i := range 2 {
		if w := hs.pay(hs.payer.Pay(t, hs.offer, x402.StyleV2, time.Now())); w.Code != 200 {
			t.Fatalf("payment %d: %d", i, w.Code)
		}
	}
	before := len(hs.okx.Calls(""))
	w := hs.pay(hs.payer.Pay(t, hs.offer, x402.StyleV2, time.Now()))
	ra, _ := strconv.Atoi(w.Header().Get("Retry-After"))
	if w.Code != http.StatusTooManyRequests || errorCode(t, w) != "rate_limited" || ra < 1 || ra > 30 {
		t.Fatalf("status %d Retry-After %q body %s", w.Code, w.Header().Get("Retry-After"), w.Body)
	}
	if len(hs.okx.Calls("")) != before || len(hs.rows()) != 2 {
		t.Fatal("a rate-limited payment reached the facilitator or the ledger")
	}
	// Another payer is not affected.
	if w := hs.pay(x402test.NewPayer(t).Pay(t, hs.offer, x402.StyleV2, time.Now())); w.Code != 200 {
		t.Fatalf("other payer: %d", w.Code)
	}
}

func TestPerIPLimitCoversThrowawayPayers(t *testing.T) {
	hs := newHarness(t, facilitator.APIV2, func(c *paywall.Options, _ *harness) { c.IPPerMinute, c.IPBurst = 3, 3 })
	codes := []int{}
	for range 5 {
		codes = append(codes, hs.pay(x402test.NewPayer(t).Pay(t, hs.offer, x402.StyleV2, time.Now())).Code)
	}
	want := []int{200, 200, 200, 429, 429}
	for i := range want {
		if codes[i] != want[i] {
			t.Fatalf("codes %v, want %v", codes, want)
		}
	}
	if len(hs.okx.Calls("verify")) != 3 {
		t.Fatalf("verify calls %d", len(hs.okx.Calls("verify")))
	}
}

func TestAKnownAuthorizationIsNotCountedByTheLimiter(t *testing.T) {
	hs := newHarness(t, facilitator.APIV2, func(c *paywall.Options, _ *harness) { c.PayerPerMinute, c.PayerBurst = 1, 1 })
	p := hs.payer.Pay(t, hs.offer, x402.StyleV2, time.Now())
	hs.pay(p)
	for range 3 {
		if w := hs.pay(p); w.Code != http.StatusPaymentRequired {
			t.Fatalf("replay: %d", w.Code)
		}
	}
}

func TestRateLimitedVerifyIsNotRetriedAndReleasesTheClaim(t *testing.T) {
	hs := newHarness(t, facilitator.APIV2)
	hs.okx.Code("verify", "50011")
	w := hs.pay(hs.payer.Pay(t, hs.offer, x402.StyleV2, time.Now()))
	if w.Code != http.StatusServiceUnavailable || w.Header().Get("Retry-After") == "" || errorCode(t, w) != "facilitator_busy" {
		t.Fatalf("status %d body %s", w.Code, w.Body)
	}
	if len(hs.okx.Calls("verify")) != 1 || len(hs.okx.Calls("settle")) != 0 {
		t.Fatalf("calls %+v", hs.okx.Calls(""))
	}
	if rows := hs.rows(); len(rows) != 1 || rows[0].Status != ledger.StatusReleased {
		t.Fatalf("rows %+v", rows)
	}
}

func TestUpstreamBoundRefusesVerifyWhenFull(t *testing.T) {
	hs := newHarness(t, facilitator.APIV2, func(c *paywall.Options, _ *harness) { c.MaxConcurrentUpstream = 1 })
	hs.okx.Delay("verify", 300*time.Millisecond)
	first := hs.payer.Pay(t, hs.offer, x402.StyleV2, time.Now())
	header, value := first.Header(), first.Encode(t)
	slow := make(chan exchange)
	go func() { slow <- hs.serve(header, value) }()
	deadline := time.Now().Add(2 * time.Second)
	for len(hs.okx.Calls("verify")) == 0 && len(hs.rows()) == 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	w := hs.pay(x402test.NewPayer(t).Pay(t, hs.offer, x402.StyleV2, time.Now()))
	if w.Code != http.StatusServiceUnavailable || errorCode(t, w) != "busy" || w.Header().Get("Retry-After") != "1" {
		t.Fatalf("second: %d %s", w.Code, w.Body)
	}
	if c := hs.check(<-slow).Code; c != 200 {
		t.Fatalf("first: %d", c)
	}
}

// balances is an in-memory BalanceReader that counts calls.
type balances struct {
	bal   *big.Int
	calls atomic.Int32
}

func (b *balances) BalanceOf(context.Context, common.Address, common.Address) (*big.Int, error) {
	b.calls.Add(1)
	return b.bal, nil
}

func TestBalanceBelowThePriceIsRefusedBeforeVerifyAndCached(t *testing.T) {
	bal := &balances{bal: big.NewInt(999)} // price is 1000
	hs := newHarness(t, facilitator.APIV2, func(c *paywall.Options, _ *harness) { c.Balances = bal })
	for range 3 {
		if r := challengeReason(t, hs.pay(hs.payer.Pay(t, hs.offer, x402.StyleV2, time.Now()))); r != paywall.ReasonInsufficient {
			t.Fatalf("reason %q", r)
		}
	}
	if len(hs.okx.Calls("")) != 0 || len(hs.rows()) != 0 || bal.calls.Load() != 1 {
		t.Fatalf("calls %d, rows %d, balance reads %d", len(hs.okx.Calls("")), len(hs.rows()), bal.calls.Load())
	}
	bal.bal = big.NewInt(1000)
	// Still cached as too low; another payer is read fresh and pays.
	if w := hs.pay(x402test.NewPayer(t).Pay(t, hs.offer, x402.StyleV2, time.Now())); w.Code != 200 || bal.calls.Load() != 2 {
		t.Fatalf("funded payer: %d, reads %d", w.Code, bal.calls.Load())
	}
}

func TestFacilitatorTransactionHashIsValidated(t *testing.T) {
	cases := map[string]struct {
		tx     string
		metric string
	}{
		"not a hash":              {"settled!", paywall.MetricInvalidTxHash},
		"short hash":              {"0x1234", paywall.MetricInvalidTxHash},
		"held by another payment": {"0x" + strings.Repeat("cd", 32), paywall.MetricTxHashConflict},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			emf := &logtest.Buffer{}
			hs := newHarness(t, facilitator.APIV2, func(c *paywall.Options, _ *harness) { c.Metrics = metrics.New(emf, "x402-report") })
			if tc.metric == paywall.MetricTxHashConflict {
				hs.foreignRow(hs.payer.Pay(t, hs.offer, x402.StyleV2, time.Now()), func(*ledger.Claim) {})
				hs.okx.SettleTx("0x" + strings.Repeat("ab", 32)) // the foreign row's hash
			} else {
				hs.okx.SettleTx(tc.tx)
			}
			p := hs.payer.Pay(t, hs.offer, x402.StyleV2, time.Now())
			w := hs.pay(p)
			if w.Code != http.StatusAccepted || delivered(w) {
				t.Fatalf("status %d body %s", w.Code, w.Body)
			}
			if len(hs.okx.Calls("settle")) != 1 {
				t.Fatalf("settle calls %d", len(hs.okx.Calls("settle")))
			}
			var mine *ledger.Payment
			for _, r := range hs.rows() {
				if r.Nonce == strings.ToLower(p.Payload.Payload.Authorization.Nonce) {
					mine = &r
				}
			}
			if mine == nil || mine.Status != ledger.StatusNeedsReview || mine.Tx() != "" {
				t.Fatalf("row %+v", mine)
			}
			if got := metricCounts(t, emf.String()); got[tc.metric] != 1 {
				t.Fatalf("metrics %v", got)
			}
			// Re-presenting it is answered from the ledger: still under review, no call.
			if again := hs.pay(p); again.Code != http.StatusAccepted || len(hs.okx.Calls("")) != 2 {
				t.Fatalf("again: %d, calls %d", again.Code, len(hs.okx.Calls("")))
			}
		})
	}
}

func TestUpstreamProseNeverReachesA402Body(t *testing.T) {
	hs := newHarness(t, facilitator.APIV2)
	hs.okx.VerifyInvalid("<script>alert(1)</script> your wallet is on fire")
	w := hs.pay(hs.payer.Pay(t, hs.offer, x402.StyleV2, time.Now()))
	if r := challengeReason(t, w); r != x402.ReasonUnexpectedVerify || strings.Contains(w.Body.String(), "fire") ||
		strings.Contains(w.Body.String(), "scripted") {
		t.Fatalf("reason %q body %s", r, w.Body)
	}
}
