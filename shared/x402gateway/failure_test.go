package x402gateway_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/insforge/edge-functions-go/shared/ledger"
	"github.com/insforge/edge-functions-go/shared/x402"
	"github.com/insforge/edge-functions-go/shared/x402/x402test"
	"github.com/insforge/edge-functions-go/shared/x402gateway"
)

// An upstream that fails in any way is not paid for: no settlement, the claim is
// released, and the same signed authorization buys the call once the upstream
// works again (exactly one settle, one delivery).
func TestUpstreamFailuresAreNotChargedAndTheAuthorizationStaysUsable(t *testing.T) {
	cases := []struct {
		name    string
		respond func(w http.ResponseWriter, r *http.Request)
		status  int
		code    string
	}{
		{"5xx", func(w http.ResponseWriter, r *http.Request) {
			http.Error(w, "database on fire at 10.0.0.3", http.StatusInternalServerError)
		}, http.StatusBadGateway, "upstream_error"},
		{"timeout", func(w http.ResponseWriter, r *http.Request) {
			select {
			case <-r.Context().Done():
			case <-time.After(5 * time.Second):
			}
		}, http.StatusGatewayTimeout, "upstream_timeout"},
		{"oversized answer", func(w http.ResponseWriter, r *http.Request) {
			_, _ = w.Write([]byte(strings.Repeat("x", testMaxBytes+1)))
		}, http.StatusBadGateway, "upstream_response_too_large"},
		{"redirect", func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, "/base/elsewhere", http.StatusFound)
		}, http.StatusBadGateway, "upstream_redirect"},
		{"credential refused", func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusUnauthorized)
		}, http.StatusBadGateway, "upstream_refused"},
		{"upstream asks for its own payment", func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusPaymentRequired)
		}, http.StatusBadGateway, "upstream_refused"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			hs := newHarness(t, func(c *x402gateway.Config) { c.UpstreamTimeout = 300 * time.Millisecond })
			hs.up.Respond(tc.respond)
			w, p := hs.paid(req{method: http.MethodGet, target: "/pay/quote"}, hs.quoteOffer(), x402.StyleV2)
			if w.Code != tc.status || errorCode(t, w) != tc.code {
				t.Fatalf("status %d body %s", w.Code, w.Body)
			}
			if strings.Contains(w.Body.String(), "10.0.0.3") || w.Header().Get(x402.HeaderPaymentResponse) != "" {
				t.Fatalf("upstream detail or a receipt leaked: %v %s", w.Header(), w.Body)
			}
			if hs.okx.Accepted("settle") != 0 {
				t.Fatal("settled a failed delivery")
			}
			for _, r := range hs.rows() {
				if r.Status == ledger.StatusSettled {
					t.Fatalf("row settled: %+v", r)
				}
			}
			if n := len(hs.up.Calls()); n != 1 {
				t.Fatalf("upstream called %d times (redirect followed?)", n)
			}

			// The upstream recovers: the same authorization pays, once.
			hs.up.Respond(nil)
			h := http.Header{}
			h.Set(p.Header(), p.Encode(t))
			again := hs.do(req{method: http.MethodGet, target: "/pay/quote", header: h})
			if again.Code != http.StatusOK || !settlementOf(t, again).Success {
				t.Fatalf("re-presented: %d %s", again.Code, again.Body)
			}
			rows := hs.rows()
			if hs.okx.Accepted("settle") != 1 || len(rows) != 1 || rows[0].Status != ledger.StatusSettled || rows[0].Endpoint != "GET /pay/quote" {
				t.Fatalf("settles %d rows %+v", hs.okx.Accepted("settle"), rows)
			}
		})
	}
}

// A 4xx about the caller's own request is relayed, and not charged.
func TestUpstreamClientErrorIsRelayedAndNotCharged(t *testing.T) {
	hs := newHarness(t)
	hs.up.Respond(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusNotFound)
		_, _ = w.Write([]byte(`{"error":"no such item"}`))
	})
	w, _ := hs.paid(req{method: http.MethodGet, target: "/pay/items/404"}, hs.offer("2", "Read an item", "application/json"), x402.StyleV2)
	if w.Code != http.StatusNotFound || w.Body.String() != `{"error":"no such item"}` || hs.okx.Accepted("settle") != 0 {
		t.Fatalf("status %d body %s settles %d", w.Code, w.Body, hs.okx.Accepted("settle"))
	}
}

// A delivered payment is never served again, in any encoding: 402 with the
// original receipt, no facilitator call, no upstream call.
func TestReplayOfADeliveredPaymentIsRefusedWithoutCalls(t *testing.T) {
	hs := newHarness(t)
	o := hs.quoteOffer()
	w, p := hs.paid(req{method: http.MethodGet, target: "/pay/quote"}, o, x402.StyleV2)
	if w.Code != http.StatusOK {
		t.Fatalf("first: %d %s", w.Code, w.Body)
	}
	tx := settlementOf(t, w).Transaction
	verifies := hs.okx.Accepted("verify")
	v1 := *p
	v1.Style = x402.StyleV1
	v1.Payload.X402Version, v1.Payload.Accepted, v1.Payload.Resource = 1, nil, nil
	v1.Payload.Scheme, v1.Payload.Network = x402.SchemeExact, x402test.Network
	for _, replay := range []*x402test.Payment{p, &v1} {
		h := http.Header{}
		h.Set(replay.Header(), replay.Encode(t))
		r := hs.do(req{method: http.MethodGet, target: "/pay/quote", header: h})
		if pr := challenge(t, r); pr.Error != x402.ReasonNonceUsed {
			t.Fatalf("replay reason %q", pr.Error)
		}
		name := replay.Style.ResponseHeader()
		s, err := x402.DecodeSettlementResponse(name, r.Header().Get(name))
		if err != nil || s.Transaction != tx {
			t.Fatalf("replay receipt %+v %v", s, err)
		}
	}
	// Presented on another route it buys nothing there either.
	other := http.Header{}
	other.Set(p.Header(), p.Encode(t))
	r := hs.do(req{method: http.MethodGet, target: "/pay/items/1", header: other})
	if r.Code != http.StatusPaymentRequired {
		t.Fatalf("other route: %d", r.Code)
	}
	if hs.okx.Accepted("verify") != verifies || hs.okx.Accepted("settle") != 1 || len(hs.up.Calls()) != 1 {
		t.Fatalf("replays cost calls: verify %d→%d settle %d upstream %d", verifies, hs.okx.Accepted("verify"),
			hs.okx.Accepted("settle"), len(hs.up.Calls()))
	}
}

// Concurrent copies of one payment call the upstream once and settle once.
func TestConcurrentCopiesCallTheUpstreamOnce(t *testing.T) {
	hs := newHarness(t)
	hs.up.Respond(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(50 * time.Millisecond)
		_, _ = w.Write([]byte(`{}`))
	})
	p := hs.payer.Pay(t, hs.quoteOffer(), x402.StyleV2, time.Now())
	header := p.Encode(t)
	const n = 10
	codes := make([]int, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			h := http.Header{}
			h.Set(p.Header(), header)
			codes[i] = hs.do(req{method: http.MethodGet, target: "/pay/quote", header: h}).Code
		}()
	}
	wg.Wait()
	ok := 0
	for _, c := range codes {
		switch c {
		case http.StatusOK:
			ok++
		case http.StatusAccepted, http.StatusPaymentRequired:
		default:
			t.Fatalf("codes %v", codes)
		}
	}
	if ok != 1 || len(hs.up.Calls()) != 1 || hs.okx.Accepted("settle") != 1 {
		t.Fatalf("codes %v upstream %d settles %d", codes, len(hs.up.Calls()), hs.okx.Accepted("settle"))
	}
}

// The abuse bounds are the function's, not each route's: a payer over its
// per-minute budget is refused on every route, before any facilitator call.
func TestAbuseBoundsAreSharedAcrossRoutes(t *testing.T) {
	hs := newHarness(t, func(c *x402gateway.Config) { c.Paywall.PayerPerMinute = 2 })
	items := hs.offer("2", "Read an item", "application/json")
	for i, step := range []struct {
		target string
		offer  *x402.Offer
		want   int
	}{
		{"/pay/quote", hs.quoteOffer(), http.StatusOK},
		{"/pay/items/1", items, http.StatusOK},
		{"/pay/items/2", items, http.StatusTooManyRequests},
	} {
		w, _ := hs.paid(req{method: http.MethodGet, target: step.target}, step.offer, x402.StyleV2)
		if w.Code != step.want {
			t.Fatalf("step %d %s: %d %s", i, step.target, w.Code, w.Body)
		}
	}
	if hs.okx.Accepted("verify") != 2 || len(hs.up.Calls()) != 2 {
		t.Fatalf("verify %d upstream %d", hs.okx.Accepted("verify"), len(hs.up.Calls()))
	}
}

// The upstream's time comes from the invocation: its deadline minus the settle
// reserve. Too little left means no upstream call at all; a slow upstream is cut
// at the derived bound, well before the configured timeout.
func TestUpstreamTimeIsDerivedFromTheInvocationDeadline(t *testing.T) {
	hs := newHarness(t, func(c *x402gateway.Config) { c.UpstreamTimeout = 10 * time.Second })
	hs.up.Respond(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-time.After(8 * time.Second):
		}
	})
	do := func(left time.Duration) (*httptest.ResponseRecorder, time.Duration) {
		ctx, cancel := context.WithTimeout(context.Background(), left)
		defer cancel()
		p := hs.payer.Pay(t, hs.quoteOffer(), x402.StyleV2, time.Now())
		r := httptest.NewRequest(http.MethodGet, "http://localhost/pay/quote", nil).WithContext(ctx)
		r.Header.Set(p.Header(), p.Encode(t))
		w := httptest.NewRecorder()
		began := time.Now()
		hs.h.ServeHTTP(w, r)
		return w, time.Since(began)
	}
	// Reserve 5 s: with 5.2 s left nothing is worth starting.
	w, _ := do(5200 * time.Millisecond)
	if w.Code != http.StatusServiceUnavailable || errorCode(t, w) != "insufficient_time" || len(hs.up.Calls()) != 0 {
		t.Fatalf("short deadline: %d %s upstream %d", w.Code, w.Body, len(hs.up.Calls()))
	}
	// With 6.5 s left the upstream gets about 1.5 s, not 10 s.
	w, took := do(6500 * time.Millisecond)
	if w.Code != http.StatusGatewayTimeout || took > 4*time.Second || len(hs.up.Calls()) != 1 {
		t.Fatalf("derived bound: %d after %s, upstream %d", w.Code, took, len(hs.up.Calls()))
	}
	if hs.okx.Accepted("settle") != 0 {
		t.Fatal("settled without a delivery")
	}
	for _, r := range hs.rows() {
		if r.Status == ledger.StatusSettled || r.Status == ledger.StatusPending {
			t.Fatalf("row left %s: %+v", r.Status, r)
		}
	}
}

// Logs name what happened (route, upstream status, error codes) but never the
// gateway's credential, the receipt, its key or the payment header.
func TestLogsCarryNoSecretsOrPaymentHeaders(t *testing.T) {
	hs := newHarness(t)
	w, p := hs.paid(req{method: http.MethodGet, target: "/pay/quote"}, hs.quoteOffer(), x402.StyleV2)
	if w.Code != http.StatusOK {
		t.Fatalf("paid: %d", w.Code)
	}
	hs.up.Respond(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusInternalServerError) })
	if w, _ := hs.paid(req{method: http.MethodGet, target: "/pay/quote"}, hs.quoteOffer(), x402.StyleV2); w.Code != http.StatusBadGateway {
		t.Fatalf("failing: %d", w.Code)
	}
	logs := hs.logs.String()
	for _, want := range []string{`"msg":"upstream answered"`, `"route":"GET /pay/quote"`, `"upstream_status":200`,
		`"upstream_status":500`, `"code":"upstream_error"`} {
		if !strings.Contains(logs, want) {
			t.Fatalf("logs lack %s:\n%s", want, logs)
		}
	}
	receipt := hs.up.Calls()[0].Header.Get(x402gateway.HeaderReceipt)
	for name, secret := range map[string]string{"credential": upstreamKey, "receipt key": receiptKey, "receipt": receipt,
		"payment header": p.Encode(t), "signature": p.Payload.Payload.Signature} {
		if secret == "" || strings.Contains(logs, secret) {
			t.Fatalf("logs contain the %s (or it is empty)", name)
		}
	}
}

// A settlement with an unknown outcome is answered 202 and the upstream's answer
// is dropped; once the row settles (the reconciler's job, done by hand here) the
// same payment gets its one delivery: the upstream is called again with the
// same payment_id, a "settled" receipt carrying the transaction. Afterwards the
// payment is spent.
func TestDeliveryAfterAPendingSettlementCallsTheUpstreamWithASettledReceipt(t *testing.T) {
	hs := newHarness(t)
	hs.okx.SettleStatus("pending")
	w, p := hs.paid(req{method: http.MethodGet, target: "/pay/quote"}, hs.quoteOffer(), x402.StyleV2)
	if w.Code != http.StatusAccepted || len(hs.up.Calls()) != 1 {
		t.Fatalf("pending: %d %s upstream %d", w.Code, w.Body, len(hs.up.Calls()))
	}
	rows := hs.rows()
	if len(rows) != 1 || rows[0].Status != ledger.StatusPending || rows[0].Tx() == "" {
		t.Fatalf("rows %+v", rows)
	}
	if err := hs.ledger.Settle(context.Background(), rows[0].ID, rows[0].Tx(), false); err != nil {
		t.Fatal(err)
	}
	h := http.Header{}
	h.Set(p.Header(), p.Encode(t))
	w = hs.do(req{method: http.MethodGet, target: "/pay/quote", header: h})
	if w.Code != http.StatusOK || settlementOf(t, w).Transaction != rows[0].Tx() {
		t.Fatalf("delivery: %d %s", w.Code, w.Body)
	}
	calls := hs.up.Calls()
	if len(calls) != 2 || calls[1].ReceiptErr != nil {
		t.Fatalf("upstream calls %d (%v)", len(calls), calls[len(calls)-1].ReceiptErr)
	}
	first, second := calls[0].Receipt, calls[1].Receipt
	if first.Status != x402gateway.ReceiptStatusVerified || first.Transaction != "" ||
		second.Status != x402gateway.ReceiptStatusSettled || second.Transaction != rows[0].Tx() || second.PaymentID != first.PaymentID {
		t.Fatalf("receipts %+v / %+v", first, second)
	}
	if w := hs.do(req{method: http.MethodGet, target: "/pay/quote", header: h}); w.Code != http.StatusPaymentRequired || len(hs.up.Calls()) != 2 {
		t.Fatalf("after delivery: %d upstream %d", w.Code, len(hs.up.Calls()))
	}
	if hs.okx.Accepted("settle") != 1 {
		t.Fatalf("settles %d", hs.okx.Accepted("settle"))
	}
}

// A gzip answer is decoded by the transport (and capped decoded) before it is
// relayed; the caller gets plain bytes without a stale Content-Encoding.
func TestGzipAnswersAreDecodedAndCappedDecoded(t *testing.T) {
	hs := newHarness(t)
	gz := func(plain string) []byte {
		var b bytes.Buffer
		zw := gzip.NewWriter(&b)
		_, _ = zw.Write([]byte(plain))
		_ = zw.Close()
		return b.Bytes()
	}
	small, big := gz(`{"ok":true}`), gz(strings.Repeat("a", 10*testMaxBytes))
	body := small
	hs.up.Respond(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Accept-Encoding") != "gzip" {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Encoding", "gzip")
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(body)
	})
	w, _ := hs.paid(req{method: http.MethodGet, target: "/pay/quote", header: http.Header{"Accept-Encoding": {"br"}}}, hs.quoteOffer(), x402.StyleV2)
	if w.Code != http.StatusOK || w.Body.String() != `{"ok":true}` || w.Header().Get("Content-Encoding") != "" {
		t.Fatalf("small: %d %v %q", w.Code, w.Header(), w.Body)
	}
	if len(big) > testMaxBytes {
		t.Fatal("the compressed answer must fit the cap for this test to mean anything")
	}
	body = big
	w, _ = hs.paid(req{method: http.MethodGet, target: "/pay/quote"}, hs.quoteOffer(), x402.StyleV2)
	if w.Code != http.StatusBadGateway || errorCode(t, w) != "upstream_response_too_large" || hs.okx.Accepted("settle") != 1 {
		t.Fatalf("big: %d %s settles %d", w.Code, w.Body, hs.okx.Accepted("settle"))
	}
}
