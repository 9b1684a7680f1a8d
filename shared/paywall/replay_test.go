package paywall_test

import (
	"context"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/insforge/edge-functions-go/shared/facilitator"
	"github.com/insforge/edge-functions-go/shared/ledger"
	"github.com/insforge/edge-functions-go/shared/ledger/ledgertest"
	"github.com/insforge/edge-functions-go/shared/paywall"
	"github.com/insforge/edge-functions-go/shared/x402"
	"github.com/insforge/edge-functions-go/shared/x402/x402test"
)

// variant is one re-encoding of the same authorization.
type variant struct {
	name string
	make func(p *x402test.Payment) *x402test.Payment
}

func restyle(o *x402.Offer, style x402.Style) func(p *x402test.Payment) *x402test.Payment {
	return func(p *x402test.Payment) *x402test.Payment {
		return x402test.Wrap(o, style, p.Payload.Payload.Signature, p.Payload.Payload.Authorization)
	}
}

func respell(mut func(a *x402.ExactPayload)) func(p *x402test.Payment) *x402test.Payment {
	return func(p *x402test.Payment) *x402test.Payment {
		q := *p
		pl := q.Payload.Payload
		mut(&pl)
		q.Payload.Payload = pl
		if p.Payload.Accepted != nil {
			acc := *p.Payload.Accepted
			q.Payload.Accepted = &acc
		}
		return &q
	}
}

// flipV rewrites v from 27/28 to 0/1 (both recover the same signer).
func flipV(sig string) string {
	b, _ := hex.DecodeString(sig[2:])
	b[64] -= 27
	return "0x" + hex.EncodeToString(b)
}

// variants of one authorization: every encoding and spelling a client (or an
// attacker holding the header) could re-present.
func variants(o *x402.Offer) []variant {
	return []variant{
		{"v2 as sent", func(p *x402test.Payment) *x402test.Payment { return p }},
		{"v1 X-PAYMENT", restyle(o, x402.StyleV1)},
		{"hybrid", restyle(o, x402.StyleHybrid)},
		{"0X nonce, upper-case hex", respell(func(a *x402.ExactPayload) {
			a.Authorization.Nonce = "0X" + strings.ToUpper(a.Authorization.Nonce[2:])
		})},
		{"lower-case from", respell(func(a *x402.ExactPayload) { a.Authorization.From = strings.ToLower(a.Authorization.From) })},
		{"value with leading zeros", respell(func(a *x402.ExactPayload) { a.Authorization.Value = "000" + a.Authorization.Value })},
		{"v = 0/1", respell(func(a *x402.ExactPayload) { a.Signature = flipV(a.Signature) })},
		{"upper-case signature hex", respell(func(a *x402.ExactPayload) { a.Signature = "0x" + strings.ToUpper(a.Signature[2:]) })},
	}
}

// tally is what a scenario must account for.
type tally struct{ deliveries, settles, verifies int }

func (hs *harness) tally(deliveries int) tally {
	return tally{deliveries: deliveries, settles: len(hs.okx.Calls("settle")), verifies: len(hs.okx.Calls("verify"))}
}

func delivered(w *httptest.ResponseRecorder) bool {
	return w.Code == http.StatusOK && strings.Contains(w.Body.String(), `"content":"paid"`)
}

func TestReplayMatrixOfASettledPayment(t *testing.T) {
	hs := newHarness(t, facilitator.APIV2)
	p := hs.payer.Pay(t, hs.offer, x402.StyleV2, time.Now())
	first := hs.pay(p)
	if !delivered(first) {
		t.Fatalf("first: %d %s", first.Code, first.Body)
	}
	tx := settlement(t, first, x402.HeaderPaymentResponse).Transaction
	for _, v := range variants(hs.offer) {
		t.Run(v.name, func(t *testing.T) {
			q := v.make(p)
			w := hs.pay(q)
			if delivered(w) {
				t.Fatal("a settled payment was delivered twice")
			}
			if r := challengeReason(t, w); r != x402.ReasonNonceUsed {
				t.Fatalf("reason %q", r)
			}
			if s := settlement(t, w, q.Style.ResponseHeader()); !s.Success || s.Transaction != tx {
				t.Fatalf("receipt %+v, want the original %s", s, tx)
			}
		})
	}
	if got, want := hs.tally(1), (tally{1, 1, 1}); got != want {
		t.Fatalf("deliveries/settles/verifies = %+v, want %+v", got, want)
	}
	if hs.served.Load() != 1 {
		t.Fatalf("the paid handler ran %d times", hs.served.Load())
	}
}

func TestEverySpellingOfAFreshPaymentIsForwardedCanonically(t *testing.T) {
	for _, v := range variants(x402test.Offer(t)) {
		t.Run(v.name, func(t *testing.T) {
			hs := newHarness(t, facilitator.APIV2)
			q := v.make(hs.payer.Pay(t, hs.offer, x402.StyleV2, time.Now()))
			// The strict fake refuses anything but the canonical spelling.
			if w := hs.pay(q); !delivered(w) {
				t.Fatalf("status %d %s", w.Code, w.Body)
			}
			if got, want := hs.tally(1), (tally{1, 1, 1}); got != want {
				t.Fatalf("tally %+v, want %+v", got, want)
			}
		})
	}
}

func TestTwentyConcurrentCopiesInMixedSpellingsDeliverOnce(t *testing.T) {
	hs := newHarness(t, facilitator.APIV2)
	hs.okx.Delay("settle", 100*time.Millisecond)
	p := hs.payer.Pay(t, hs.offer, x402.StyleV2, time.Now())
	vs := variants(hs.offer)
	codes := make([]int, 20)
	oks := make([]bool, 20)
	xs := make([]exchange, 20)
	var wg sync.WaitGroup
	for i := range xs {
		c := vs[i%len(vs)].make(p)
		header, value := c.Header(), c.Encode(t)
		wg.Add(1)
		go func() {
			defer wg.Done()
			xs[i] = hs.serve(header, value)
		}()
	}
	wg.Wait()
	for i, x := range xs {
		w := hs.check(x)
		codes[i], oks[i] = w.Code, delivered(w)
	}
	n := 0
	for i, c := range codes {
		switch {
		case oks[i]:
			n++
		case c == http.StatusAccepted || c == http.StatusPaymentRequired:
		default:
			t.Fatalf("unexpected status %d (codes %v)", c, codes)
		}
	}
	// Copies in flight together in one instance wait for the first (202); later
	// ones are answered from the ledger: one verify in all.
	if got, want := hs.tally(n), (tally{1, 1, 1}); got != want {
		t.Fatalf("tally %+v, want %+v (codes %v)", got, want, codes)
	}
	rows := hs.rows()
	if len(rows) != 1 || rows[0].Status != ledger.StatusSettled || !rows[0].Delivered() {
		t.Fatalf("rows %+v", rows)
	}
}

func TestPendingThenSettledIsDeliveredOnceOnRepresentation(t *testing.T) {
	hs := newHarness(t, facilitator.APIV2)
	hs.okx.SettleStatus("timeout")
	p := hs.payer.Pay(t, hs.offer, x402.StyleV2, time.Now())
	w := hs.pay(p)
	if w.Code != http.StatusAccepted || delivered(w) {
		t.Fatalf("first: %d %s", w.Code, w.Body)
	}
	if again := hs.pay(p); again.Code != http.StatusAccepted {
		t.Fatalf("while pending: %d", again.Code)
	}
	rows := hs.rows()
	if len(rows) != 1 || rows[0].Status != ledger.StatusPending || rows[0].Tx() == "" {
		t.Fatalf("rows %+v", rows)
	}
	// The reconciler settles it (not delivered).
	if err := hs.ledger.Settle(context.Background(), rows[0].ID, rows[0].Tx(), false); err != nil {
		t.Fatal(err)
	}
	// Two concurrent re-presentations in different encodings: one delivery.
	var wg sync.WaitGroup
	xs := make([]exchange, 2)
	for i, v := range []variant{variants(hs.offer)[0], variants(hs.offer)[1]} {
		c := v.make(p)
		header, value := c.Header(), c.Encode(t)
		wg.Add(1)
		go func() { defer wg.Done(); xs[i] = hs.serve(header, value) }()
	}
	wg.Wait()
	res := make([]*httptest.ResponseRecorder, len(xs))
	for i, x := range xs {
		res[i] = hs.check(x)
	}
	n := 0
	for _, r := range res {
		switch {
		case delivered(r):
			n++
		case r.Code == http.StatusAccepted: // still in flight here: come back later
		default:
			if reason := challengeReason(t, r); reason != x402.ReasonNonceUsed {
				t.Fatalf("loser: %q", reason)
			}
		}
	}
	if got, want := hs.tally(n), (tally{1, 1, 1}); got != want {
		t.Fatalf("tally %+v, want %+v", got, want)
	}
	if late := hs.pay(p); delivered(late) || challengeReason(t, late) != x402.ReasonNonceUsed {
		t.Fatalf("after delivery: %d", late.Code)
	}
	if r := hs.rows()[0]; !r.Delivered() {
		t.Fatalf("row %+v", r)
	}
}

// foreignRow writes a settled row for p's authorization as another deployment would.
func (hs *harness) foreignRow(p *x402test.Payment, mut func(c *ledger.Claim)) {
	a := p.Payload.Payload.Authorization
	c := ledger.Claim{PayerAddress: strings.ToLower(a.From), Endpoint: "/x402/report", Amount: x402test.Price,
		Network: x402test.Network, Asset: x402test.Asset, PayTo: strings.ToLower(x402test.PayTo),
		Nonce: strings.ToLower(a.Nonce), ValidBefore: time.Now().Add(time.Minute).Unix()}
	mut(&c)
	row, _, err := hs.ledger.Claim(context.Background(), c)
	if err != nil {
		hs.t.Fatal(err)
	}
	if err := hs.ledger.SettleDelivered(context.Background(), row.ID, row.Holder(), "0x"+strings.Repeat("ab", 32), c.Mock, time.Now()); err != nil {
		hs.t.Fatal(err)
	}
}

func TestRowsThatDoNotMatchTheOfferProveNothing(t *testing.T) {
	cases := map[string]func(c *ledger.Claim){
		"mock row":         func(c *ledger.Claim) { c.Mock = true },
		"another pay_to":   func(c *ledger.Claim) { c.PayTo = "0x1111111111111111111111111111111111111111" },
		"another amount":   func(c *ledger.Claim) { c.Amount = "1" },
		"another endpoint": func(c *ledger.Claim) { c.Endpoint = "/x402/other" },
	}
	for name, mut := range cases {
		t.Run(name, func(t *testing.T) {
			hs := newHarness(t, facilitator.APIV2)
			p := hs.payer.Pay(t, hs.offer, x402.StyleV2, time.Now())
			hs.foreignRow(p, mut)
			w := hs.pay(p)
			if delivered(w) || challengeReason(t, w) != paywall.ReasonRowMismatch {
				t.Fatalf("status %d body %s", w.Code, w.Body)
			}
			if got, want := hs.tally(0), (tally{0, 0, 0}); got != want || hs.served.Load() != 0 {
				t.Fatalf("tally %+v served %d", got, hs.served.Load())
			}
		})
	}
}

func TestAFailedHandlerReleasesTheClaimAndTheSameAuthorizationPaysLater(t *testing.T) {
	hs := newHarness(t, facilitator.APIV2)
	p := hs.payer.Pay(t, hs.offer, x402.StyleV2, time.Now())
	hs.fail.Store(http.StatusBadGateway)
	w := hs.pay(p)
	if w.Code != http.StatusBadGateway || !strings.Contains(w.Body.String(), `"error":"upstream_failed"`) ||
		w.Header().Get(x402.HeaderPaymentResponse) != "" {
		t.Fatalf("status %d body %s", w.Code, w.Body)
	}
	if rows := hs.rows(); len(rows) != 1 || rows[0].Status != ledger.StatusReleased || hs.okx.Accepted("settle") != 0 {
		t.Fatalf("rows %+v settles %d", rows, hs.okx.Accepted("settle"))
	}
	hs.fail.Store(0)
	if w := hs.pay(variants(hs.offer)[1].make(p)); !delivered(w) {
		t.Fatalf("second try: %d %s", w.Code, w.Body)
	}
	if got, want := hs.tally(1), (tally{1, 1, 2}); got != want {
		t.Fatalf("tally %+v, want %+v", got, want)
	}
	if rows := hs.rows(); rows[0].Status != ledger.StatusSettled || !rows[0].Delivered() {
		t.Fatalf("rows %+v", rows)
	}
}

// releasedRace is the real ledger whose claim reports a row released by a
// concurrent presentation between this request's lookup and its claim.
type releasedRace struct{ ledgertest.Ledger }

func (r releasedRace) Claim(ctx context.Context, c ledger.Claim) (*ledger.Payment, bool, error) {
	row, _, err := r.Ledger.Claim(ctx, c)
	if err != nil {
		return nil, false, err
	}
	if err := r.Release(ctx, row.ID, row.Holder(), "concurrent"); err != nil {
		return nil, false, err
	}
	row.Status = ledger.StatusReleased
	return row, true, nil
}

func TestAClaimLostToAConcurrentReleaseAsksForARetryWithoutSettling(t *testing.T) {
	hs := newHarness(t, facilitator.APIV2, func(c *paywall.Options, h *harness) { c.Ledger = releasedRace{h.ledger} })
	w := hs.pay(hs.payer.Pay(t, hs.offer, x402.StyleV2, time.Now()))
	if w.Code != http.StatusServiceUnavailable || w.Header().Get("Retry-After") == "" || errorCode(t, w) != "payment_in_flight" {
		t.Fatalf("status %d body %s", w.Code, w.Body)
	}
	if len(hs.okx.Calls("settle")) != 0 || hs.served.Load() != 0 {
		t.Fatal("settled or served")
	}
}
