package paywall_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/insforge/edge-functions-go/shared/facilitator"
	"github.com/insforge/edge-functions-go/shared/facilitator/okxtest"
	"github.com/insforge/edge-functions-go/shared/httpapi"
	"github.com/insforge/edge-functions-go/shared/insforge"
	"github.com/insforge/edge-functions-go/shared/insforge/insforgetest"
	"github.com/insforge/edge-functions-go/shared/ledger"
	"github.com/insforge/edge-functions-go/shared/ledger/ledgertest"
	"github.com/insforge/edge-functions-go/shared/paywall"
	"github.com/insforge/edge-functions-go/shared/x402"
	"github.com/insforge/edge-functions-go/shared/x402/x402test"
)

func TestMain(m *testing.M) { insforgetest.Main(m) }

type harness struct {
	t      *testing.T
	okx    *okxtest.Server
	ledger ledgertest.Ledger
	// stack is the local InsForge under the ledger, nil on the in-memory ledger.
	stack  *insforgetest.Stack
	offer  *x402.Offer
	payer  *x402test.Payer
	h      http.Handler
	served atomic.Int32
	// fail, when set, is the status the paid handler answers with (an httpapi error).
	fail atomic.Int32
}

type option func(*paywall.Options, *harness)

func newHarness(t *testing.T, api string, opts ...option) *harness {
	hs := &harness{t: t, okx: okxtest.New(t, api), offer: x402test.Offer(t), payer: x402test.NewPayer(t)}
	hs.ledger, hs.stack = ledgertest.NewWithStack(t)
	fac, err := facilitator.NewOKX(facilitator.OKXOptions{
		BaseURL: hs.okx.URL, APIKey: okxtest.Key, SecretKey: okxtest.Secret, Passphrase: okxtest.Passphrase, API: api,
		VerifyTimeout: 2 * time.Second, SettleTimeout: 2 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	cfg := paywall.Options{
		Offer: hs.offer, Facilitator: fac, Ledger: hs.ledger, Endpoint: "/x402/report", Summary: "test report",
		SettleRecordBackoff: time.Millisecond,
	}
	for _, o := range opts {
		o(&cfg, hs)
	}
	pw, err := paywall.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	hs.h = pw.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hs.served.Add(1)
		if f, ok := r.Context().Value(upstreamKey{}).(*atomic.Bool); ok {
			f.Store(true)
		}
		p, ok := paywall.PaymentFrom(r.Context())
		if !ok {
			t.Error("handler ran without a payment")
		}
		if code := int(hs.fail.Load()); code != 0 {
			// The paid handler's own error, with any status: not one of the codes of httpapi.
			w.Header().Set("Cache-Control", "no-store")
			httpapi.WriteJSON(w, code, httpapi.ErrorBody{Error: "upstream_failed", Message: "the upstream failed"})
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"content": "paid", "tx": p.Transaction, "replay": p.Replay})
	}))
	return hs
}

// upstreamKey marks a request's context with the flag the stand-in handler
// sets when it answers, so concurrent requests each know who answered.
type upstreamKey struct{}

// exchange is one request through the paywall.
type exchange struct {
	r        *http.Request
	w        *httptest.ResponseRecorder
	upstream bool // the stand-in handler answered, not the paywall itself
}

// serve sends one request. It never fails the test, so any goroutine may call
// it; the test goroutine then passes the result to check.
func (hs *harness) serve(header, value string) exchange {
	var answered atomic.Bool
	r := httptest.NewRequest(http.MethodPost, "http://localhost/x402/report", nil)
	r = r.WithContext(context.WithValue(r.Context(), upstreamKey{}, &answered))
	if header != "" {
		r.Header.Set(header, value)
	}
	w := httptest.NewRecorder()
	hs.h.ServeHTTP(w, r)
	return exchange{r: r, w: w, upstream: answered.Load()}
}

// check proves every answer of the paywall itself against docs/openapi.yaml;
// what this harness's stand-in handler writes is not the report the spec
// describes. Test goroutine only (it may t.Fatal).
func (hs *harness) check(x exchange) *httptest.ResponseRecorder {
	if !x.upstream {
		checkContract(hs.t, x.r, x.w)
	}
	return x.w
}

// do serves one request and checks it. Test goroutine only.
func (hs *harness) do(header, value string) *httptest.ResponseRecorder {
	return hs.check(hs.serve(header, value))
}

func (hs *harness) pay(p *x402test.Payment) *httptest.ResponseRecorder {
	return hs.do(p.Header(), p.Encode(hs.t))
}

func (hs *harness) rows() []ledger.Payment {
	rows, err := hs.ledger.List(context.Background(), 100)
	if err != nil {
		hs.t.Fatal(err)
	}
	return rows
}

func challengeReason(t *testing.T, w *httptest.ResponseRecorder) string {
	t.Helper()
	if w.Code != http.StatusPaymentRequired {
		t.Fatalf("status = %d, body %s", w.Code, w.Body)
	}
	pr, err := x402.DecodePaymentRequired(w.Header().Get(x402.HeaderPaymentRequired))
	if err != nil {
		t.Fatalf("PAYMENT-REQUIRED: %v", err)
	}
	var body x402.PaymentRequiredV1
	if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil || body.X402Version != 1 || len(body.Accepts) != 1 || body.Error != pr.Error {
		t.Fatalf("v1 body %s (%v)", w.Body, err)
	}
	return pr.Error
}

func settlement(t *testing.T, w *httptest.ResponseRecorder, name string) *x402.SettlementResponse {
	t.Helper()
	h := w.Header().Get(name)
	if h == "" {
		t.Fatalf("no %s header; headers %v", name, w.Header())
	}
	if _, err := base64.StdEncoding.DecodeString(h); err != nil {
		t.Fatalf("%s is not std padded base64: %v", name, err)
	}
	s, err := x402.DecodeSettlementResponse(name, h)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestRequestWithoutPaymentGetsAChallengeForEveryClientStyle(t *testing.T) {
	hs := newHarness(t, facilitator.APIV2)
	w := hs.do("", "")
	if reason := challengeReason(t, w); reason != "payment_required" {
		t.Fatalf("reason %q", reason)
	}
	pr, _ := x402.DecodePaymentRequired(w.Header().Get(x402.HeaderPaymentRequired))
	if pr.X402Version != 2 || pr.Resource == nil || pr.Resource.URL != "http://localhost/x402/report" ||
		pr.Accepts[0].Amount != x402test.Price || pr.Accepts[0].MaxAmountRequired != x402test.Price {
		t.Fatalf("challenge %+v", pr)
	}
	if len(hs.okx.Calls("")) != 0 || hs.served.Load() != 0 {
		t.Fatal("facilitator called or content served")
	}
}

func TestHappyPathForEveryClientStyleAndAPIFamily(t *testing.T) {
	cases := []struct {
		name    string
		style   x402.Style
		version int
		header  string
	}{
		{"v2", x402.StyleV2, 2, x402.HeaderPaymentResponse},
		{"v1", x402.StyleV1, 1, x402.HeaderXPaymentResponse},
		{"hybrid copying our v2 header", x402.StyleHybrid, 2, x402.HeaderPaymentResponse},
		{"hybrid against the guide's v1 header", x402.StyleHybrid, 1, x402.HeaderPaymentResponse},
	}
	for _, api := range []string{facilitator.APIV2, facilitator.APIV1} {
		for _, tc := range cases {
			t.Run(api+"/"+tc.name, func(t *testing.T) {
				hs := newHarness(t, api)
				p := hs.payer.Pay(t, hs.offer, tc.style, time.Now())
				p.Payload.X402Version = tc.version
				w := hs.pay(p)
				if w.Code != http.StatusOK || hs.served.Load() != 1 {
					t.Fatalf("status %d served %d body %s", w.Code, hs.served.Load(), w.Body)
				}
				a := p.Payload.Payload.Authorization
				wantTx := okxtest.TxHash(a.From, a.Nonce)
				s := settlement(t, w, tc.header)
				if !s.Success || s.Transaction != wantTx || s.Network != x402test.Network || !strings.EqualFold(s.Payer, a.From) {
					t.Fatalf("settlement %+v, want tx %s", s, wantTx)
				}
				other := map[string]string{x402.HeaderPaymentResponse: x402.HeaderXPaymentResponse, x402.HeaderXPaymentResponse: x402.HeaderPaymentResponse}[tc.header]
				if w.Header().Get(other) != "" {
					t.Fatalf("both response headers set")
				}
				rows := hs.rows()
				if len(rows) != 1 || rows[0].Status != ledger.StatusSettled || rows[0].Tx() != wantTx || rows[0].Mock ||
					rows[0].Amount != x402test.Price || rows[0].Nonce != strings.ToLower(a.Nonce) || rows[0].Endpoint != "/x402/report" {
					t.Fatalf("rows %+v", rows)
				}
				if hs.okx.Accepted("verify") != 1 || hs.okx.Accepted("settle") != 1 {
					t.Fatalf("okx calls %+v", hs.okx.Calls(""))
				}
			})
		}
	}
}

func TestMalformedPaymentHeadersAre400WithoutAnyCall(t *testing.T) {
	hs := newHarness(t, facilitator.APIV2)
	valid := hs.payer.Pay(t, hs.offer, x402.StyleV2, time.Now()).Encode(t)
	cases := map[string]func(r *http.Request){
		"not base64": func(r *http.Request) { r.Header.Set(x402.HeaderPaymentSignature, "%%%") },
		"not json": func(r *http.Request) {
			r.Header.Set(x402.HeaderXPayment, base64.StdEncoding.EncodeToString([]byte("hi")))
		},
		"oversized": func(r *http.Request) {
			r.Header.Set(x402.HeaderPaymentSignature, strings.Repeat("A", x402.MaxHeaderLen+4))
		},
		"both headers": func(r *http.Request) {
			r.Header.Set(x402.HeaderPaymentSignature, valid)
			r.Header.Set(x402.HeaderXPayment, valid)
		},
	}
	for name, set := range cases {
		t.Run(name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodPost, "http://localhost/x402/report", nil)
			set(r)
			w := httptest.NewRecorder()
			hs.h.ServeHTTP(w, r)
			checkContract(t, r, w)
			var body map[string]string
			_ = json.Unmarshal(w.Body.Bytes(), &body)
			if w.Code != http.StatusBadRequest || body["error"] != "invalid_payment_header" || body["message"] == "" {
				t.Fatalf("status %d body %s", w.Code, w.Body)
			}
		})
	}
	if len(hs.okx.Calls("")) != 0 || len(hs.rows()) != 0 || hs.served.Load() != 0 {
		t.Fatal("a malformed header reached the facilitator, the ledger or the handler")
	}
}

func TestEachLocalCheckFailsOnItsOwnWithoutAFacilitatorCall(t *testing.T) {
	hs := newHarness(t, facilitator.APIV2)
	other := x402test.NewPayer(t)
	now := time.Now()
	resign := func(change func(*x402.TransferMessage)) func(*x402test.Payment) {
		return hs.payer.Resigned(t, hs.offer, now, change)
	}
	cases := []struct {
		name   string
		style  x402.Style
		mutate func(*x402test.Payment)
		reason string
	}{
		{"version", x402.StyleV1, func(p *x402test.Payment) { p.Payload.X402Version = 2 }, x402.ReasonInvalidVersion},
		{"scheme", x402.StyleV2, func(p *x402test.Payment) { p.Payload.Accepted.Scheme = "upto" }, x402.ReasonUnsupportedScheme},
		{"network", x402.StyleV2, func(p *x402test.Payment) { p.Payload.Accepted.Network = "eip155:1" }, x402.ReasonInvalidNetwork},
		{"asset", x402.StyleV2, func(p *x402test.Payment) { p.Payload.Accepted.Asset = other.Address.Hex() }, x402.ReasonInvalidRequirements},
		{"payTo", x402.StyleV2, resign(func(m *x402.TransferMessage) { m.To = other.Address }), x402.ReasonRecipientMismatch},
		{"value", x402.StyleV2, resign(func(m *x402.TransferMessage) { m.Value = big.NewInt(1) }), x402.ReasonValueMismatch},
		{"validAfter", x402.StyleV2, resign(func(m *x402.TransferMessage) { m.ValidAfter = big.NewInt(now.Unix() + 60) }), x402.ReasonValidAfter},
		{"validBefore too soon", x402.StyleV2, resign(func(m *x402.TransferMessage) { m.ValidBefore = big.NewInt(now.Unix() + 3) }), x402.ReasonValidBefore},
		{"validBefore too far", x402.StyleV2, resign(func(m *x402.TransferMessage) { m.ValidBefore = big.NewInt(now.Unix() + 3600) }), x402.ReasonValidBefore},
		{"nonce length", x402.StyleV2, func(p *x402test.Payment) { p.Payload.Payload.Authorization.Nonce = "0x01" }, x402.ReasonInvalidPayload},
		{"signature length", x402.StyleV2, func(p *x402test.Payment) { p.Payload.Payload.Signature = "0xdeadbeef" }, x402.ReasonSignature},
		{"high s", x402.StyleV2, func(p *x402test.Payment) { p.Payload.Payload.Signature = x402test.HighS(p.Payload.Payload.Signature) }, x402.ReasonSignature},
		{"signer is not from", x402.StyleHybrid, func(p *x402test.Payment) {
			*p = *other.Sign(t, hs.offer, x402.StyleHybrid, hs.payer.Message(hs.offer, now))
		}, x402.ReasonSignature},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := hs.payer.Pay(t, hs.offer, tc.style, now)
			tc.mutate(p)
			if got := challengeReason(t, hs.pay(p)); got != tc.reason {
				t.Fatalf("reason %q, want %q", got, tc.reason)
			}
			if n := len(hs.okx.Calls("")); n != 0 {
				t.Fatalf("%d facilitator calls", n)
			}
		})
	}
	if len(hs.rows()) != 0 || hs.served.Load() != 0 {
		t.Fatal("a rejected payment left a row or was served")
	}
}

func TestASettledPaymentIsDeliveredOnceAndItsReplayGetsTheReceipt(t *testing.T) {
	hs := newHarness(t, facilitator.APIV2)
	p := hs.payer.Pay(t, hs.offer, x402.StyleV2, time.Now())
	first := hs.pay(p)
	second := hs.pay(p)
	if first.Code != 200 {
		t.Fatalf("first: status %d %s", first.Code, first.Body)
	}
	if r := challengeReason(t, second); r != x402.ReasonNonceUsed {
		t.Fatalf("replay reason %q", r)
	}
	s1, s2 := settlement(t, first, x402.HeaderPaymentResponse), settlement(t, second, x402.HeaderPaymentResponse)
	if !s2.Success || s1.Transaction != s2.Transaction || strings.Contains(second.Body.String(), "paid") {
		t.Fatalf("replay receipt %+v vs %+v, body %s", s2, s1, second.Body)
	}
	if hs.okx.Accepted("settle") != 1 || len(hs.okx.Calls("verify")) != 1 || hs.served.Load() != 1 || len(hs.rows()) != 1 {
		t.Fatalf("settles %d verifies %d served %d rows %d", hs.okx.Accepted("settle"), len(hs.okx.Calls("verify")), hs.served.Load(), len(hs.rows()))
	}
}

func TestFiftyConcurrentSubmissionsOfOnePayloadSettleAndDeliverOnce(t *testing.T) {
	hs := newHarness(t, facilitator.APIV2, func(c *paywall.Options, _ *harness) {
		c.PayerPerMinute, c.IPPerMinute, c.MaxConcurrentUpstream = 1000, 1000, 100
	})
	hs.okx.Delay("settle", 100*time.Millisecond) // keep the winner in flight while the others arrive
	header := hs.payer.Pay(t, hs.offer, x402.StyleV2, time.Now()).Encode(t)
	var wg sync.WaitGroup
	xs := make([]exchange, 50)
	for i := range xs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			xs[i] = hs.serve(x402.HeaderPaymentSignature, header)
		}()
	}
	wg.Wait()
	codes := make([]int, len(xs))
	for i, x := range xs {
		codes[i] = hs.check(x).Code
	}
	ok := 0
	for _, c := range codes {
		switch c {
		case http.StatusOK:
			ok++
		case http.StatusAccepted, http.StatusPaymentRequired: // in flight, or already delivered: no content
		default:
			t.Fatalf("unexpected status %d", c)
		}
	}
	rows := hs.rows()
	if len(hs.okx.Calls("settle")) != 1 || len(rows) != 1 || rows[0].Status != ledger.StatusSettled || !rows[0].Delivered() {
		t.Fatalf("settle calls %d, rows %+v", len(hs.okx.Calls("settle")), rows)
	}
	if ok != 1 {
		t.Fatalf("200s %d, want exactly one delivery (codes %v)", ok, codes)
	}
}

func slicesIndex(s []int, v int) int {
	for i, x := range s {
		if x == v {
			return i
		}
	}
	return -1
}

func TestFacilitatorFailures(t *testing.T) {
	cases := []struct {
		name      string
		script    func(*okxtest.Server)
		status    int
		rowStatus string // "" = no row
		withTx    bool
		check     func(t *testing.T, w *httptest.ResponseRecorder)
	}{
		{"verify false", func(s *okxtest.Server) { s.VerifyInvalid("insufficient_funds") }, 402, ledger.StatusReleased, false,
			func(t *testing.T, w *httptest.ResponseRecorder) {
				if r := challengeReason(t, w); r != "insufficient_funds" {
					t.Fatalf("reason %q", r)
				}
			}},
		{"verify 5xx", func(s *okxtest.Server) { s.HTTPError("verify", 503) }, 502, ledger.StatusReleased, false, nil},
		{"settle false", func(s *okxtest.Server) { s.SettleFail("insufficient_funds") }, 402, ledger.StatusFailed, false,
			func(t *testing.T, w *httptest.ResponseRecorder) {
				if s := settlement(t, w, x402.HeaderPaymentResponse); s.Success || s.Transaction != "" || s.ErrorReason != "insufficient_funds" {
					t.Fatalf("settlement %+v", s)
				}
			}},
		{"settle timeout", func(s *okxtest.Server) { s.SettleStatus("timeout") }, 202, ledger.StatusPending, true,
			func(t *testing.T, w *httptest.ResponseRecorder) {
				if s := settlement(t, w, x402.HeaderPaymentResponse); s.Success || s.Transaction == "" || w.Header().Get("Retry-After") == "" {
					t.Fatalf("settlement %+v", s)
				}
			}},
		{"settle 5xx", func(s *okxtest.Server) { s.HTTPError("settle", 500) }, 202, ledger.StatusPending, false, nil},
		{"settle rejected credentials", func(s *okxtest.Server) { s.Code("settle", "50113") }, 502, ledger.StatusReleased, false, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			hs := newHarness(t, facilitator.APIV2)
			tc.script(hs.okx)
			p := hs.payer.Pay(t, hs.offer, x402.StyleV2, time.Now())
			w := hs.pay(p)
			if w.Code != tc.status {
				t.Fatalf("status %d, want %d; body %s", w.Code, tc.status, w.Body)
			}
			if tc.check != nil {
				tc.check(t, w)
			}
			if strings.Contains(w.Body.String(), `"content"`) {
				t.Fatal("content served without a confirmed settlement")
			}
			rows := hs.rows()
			if len(rows) != 1 || rows[0].Status != tc.rowStatus || (rows[0].Tx() != "") != tc.withTx {
				t.Fatalf("rows %+v", rows)
			}
			if tc.rowStatus == ledger.StatusReleased {
				if hs.okx.Accepted("settle") != 0 && tc.name != "settle rejected credentials" {
					t.Fatalf("settle calls %d", hs.okx.Accepted("settle"))
				}
				return
			}
			// Re-sending the same payment never settles twice, nor calls the facilitator.
			before := len(hs.okx.Calls(""))
			again := hs.pay(p)
			if len(hs.okx.Calls("")) != before || strings.Contains(again.Body.String(), `"content"`) {
				t.Fatalf("replay: status %d, facilitator calls %d → %d", again.Code, before, len(hs.okx.Calls("")))
			}
		})
	}
}

func TestLedgerDownBeforeSettleIs503AndNothingSettles(t *testing.T) {
	down, err := insforge.New(insforge.Options{BaseURL: "http://127.0.0.1:1", Token: "ik_x", MaxRetries: -1})
	if err != nil {
		t.Fatal(err)
	}
	hs := newHarness(t, facilitator.APIV2, func(c *paywall.Options, _ *harness) { c.Ledger = ledger.New(down) })
	w := hs.pay(hs.payer.Pay(t, hs.offer, x402.StyleV2, time.Now()))
	var body map[string]string
	_ = json.Unmarshal(w.Body.Bytes(), &body)
	if w.Code != http.StatusServiceUnavailable || body["error"] != "ledger_unavailable" || w.Header().Get("Retry-After") == "" {
		t.Fatalf("status %d body %s", w.Code, w.Body)
	}
	if len(hs.okx.Calls("settle")) != 0 || hs.served.Load() != 0 {
		t.Fatal("settled or served without a ledger row")
	}
}

// settleFails is the real ledger whose post-settle update always fails, as when
// InsForge goes down between the claim and the update.
type settleFails struct {
	ledgertest.Ledger
	tries atomic.Int32
}

func (s *settleFails) SettleDelivered(context.Context, string, string, string, bool, time.Time) error {
	s.tries.Add(1)
	return errors.New("insforge: unavailable")
}

func TestLedgerDownAfterSettleAnswers202AndLeavesAResolvableRow(t *testing.T) {
	var sf *settleFails
	hs := newHarness(t, facilitator.APIV2, func(c *paywall.Options, h *harness) {
		sf = &settleFails{Ledger: h.ledger}
		c.Ledger = sf
		c.SettleRecordAttempts = 3
	})
	p := hs.payer.Pay(t, hs.offer, x402.StyleV1, time.Now())
	w := hs.pay(p)
	if w.Code != http.StatusAccepted || strings.Contains(w.Body.String(), `"content"`) || sf.tries.Load() != 3 {
		t.Fatalf("status %d body %s tries %d", w.Code, w.Body, sf.tries.Load())
	}
	a := p.Payload.Payload.Authorization
	if s := settlement(t, w, x402.HeaderXPaymentResponse); s.Success || s.Transaction != okxtest.TxHash(a.From, a.Nonce) {
		t.Fatalf("settlement %+v", s)
	}
	rows := hs.rows()
	if len(rows) != 1 || rows[0].Status != ledger.StatusPending || rows[0].PayerAddress != strings.ToLower(a.From) ||
		rows[0].Nonce != strings.ToLower(a.Nonce) || rows[0].Asset != strings.ToLower(x402test.Asset) || rows[0].ValidBefore == 0 {
		t.Fatalf("pending row lacks what the reconciler needs: %+v", rows)
	}
}

func TestMockModeMarksRowsAndStillRunsLocalChecks(t *testing.T) {
	hs := newHarness(t, facilitator.APIV2, func(c *paywall.Options, _ *harness) {
		c.Facilitator = facilitator.Mock{}
		c.Mock = true
	})
	bad := hs.payer.Pay(t, hs.offer, x402.StyleV2, time.Now())
	bad.Payload.Payload.Signature = x402test.HighS(bad.Payload.Payload.Signature)
	if r := challengeReason(t, hs.pay(bad)); r != x402.ReasonSignature {
		t.Fatalf("mock skipped local checks: %q", r)
	}
	w := hs.pay(hs.payer.Pay(t, hs.offer, x402.StyleV2, time.Now()))
	if w.Code != 200 {
		t.Fatalf("status %d", w.Code)
	}
	rows := hs.rows()
	if len(rows) != 1 || !rows[0].Mock || rows[0].Status != ledger.StatusSettled {
		t.Fatalf("rows %+v", rows)
	}
	st, err := hs.ledger.Stats(context.Background())
	if err != nil || st.TotalRevenue != "0" || st.TotalRequests != 1 {
		t.Fatalf("stats %+v %v", st, err)
	}
}

// resolvedFirst is the real ledger where the reconciler resolves the row
// (settles it, or moves it to review) just before the paywall records its own
// settlement, so that write finds the row no longer pending.
type resolvedFirst struct {
	ledgertest.Ledger
	to string
}

func (r resolvedFirst) SettleDelivered(ctx context.Context, id, holder, tx string, mock bool, at time.Time) error {
	var err error
	if r.to == ledger.StatusSettled {
		err = r.Settle(ctx, id, tx, mock)
	} else {
		err = r.Review(ctx, id, "authorization used on-chain without a transfer log")
	}
	if err != nil {
		return err
	}
	return r.Ledger.SettleDelivered(ctx, id, holder, tx, mock, at)
}

func TestASettlementResolvedMeanwhileIsDeliveredOnceOrHeldForReview(t *testing.T) {
	for _, c := range []struct {
		to        string
		code      int
		delivered bool
	}{
		{ledger.StatusSettled, http.StatusOK, true},
		{ledger.StatusNeedsReview, http.StatusAccepted, false},
	} {
		t.Run(c.to, func(t *testing.T) {
			hs := newHarness(t, facilitator.APIV2, func(o *paywall.Options, h *harness) { o.Ledger = resolvedFirst{h.ledger, c.to} })
			p := hs.payer.Pay(t, hs.offer, x402.StyleV2, time.Now())
			w := hs.pay(p)
			if w.Code != c.code || delivered(w) != c.delivered {
				t.Fatalf("status %d body %s", w.Code, w.Body)
			}
			rows := hs.rows()
			if len(rows) != 1 || rows[0].Status != c.to || rows[0].Delivered() != c.delivered {
				t.Fatalf("rows %+v", rows)
			}
			// Re-presented: never a second delivery, never a second settlement.
			again := hs.pay(p)
			if delivered(again) {
				t.Fatal("delivered twice")
			}
			if c.delivered && challengeReason(t, again) != x402.ReasonNonceUsed || !c.delivered && again.Code != http.StatusAccepted {
				t.Fatalf("re-presented: %d %s", again.Code, again.Body)
			}
			if got, want := hs.tally(0), (tally{0, 1, 1}); got != want || hs.served.Load() != 1 {
				t.Fatalf("tally %+v served %d", got, hs.served.Load())
			}
		})
	}
}

func TestASettlementAnsweredPendingServesNothingUntilItIsSettled(t *testing.T) {
	for _, status := range []string{"pending", "timeout"} {
		t.Run(status, func(t *testing.T) {
			hs := newHarness(t, facilitator.APIV2)
			hs.okx.SettleStatus(status)
			p := hs.payer.Pay(t, hs.offer, x402.StyleV2, time.Now())
			w := hs.pay(p)
			if w.Code != http.StatusAccepted || delivered(w) || strings.Contains(w.Body.String(), `"content"`) {
				t.Fatalf("status %d body %s", w.Code, w.Body)
			}
			rows := hs.rows()
			if len(rows) != 1 || rows[0].Status != ledger.StatusPending || rows[0].Tx() == "" || !rows[0].SettleSent() || rows[0].Delivered() {
				t.Fatalf("rows %+v", rows)
			}
			if again := hs.pay(p); again.Code != http.StatusAccepted || delivered(again) {
				t.Fatalf("re-presented: %d %s", again.Code, again.Body)
			}
			if got, want := hs.tally(0), (tally{0, 1, 1}); got != want || hs.served.Load() != 1 {
				t.Fatalf("tally %+v served %d", got, hs.served.Load())
			}
		})
	}
}

func TestAPaidHandler4xxIsPassedOnAndNeverSettled(t *testing.T) {
	for _, code := range []int{http.StatusBadRequest, http.StatusNotFound, http.StatusConflict, http.StatusUnprocessableEntity} {
		t.Run(strconv.Itoa(code), func(t *testing.T) {
			hs := newHarness(t, facilitator.APIV2)
			hs.fail.Store(int32(code))
			w := hs.pay(hs.payer.Pay(t, hs.offer, x402.StyleV2, time.Now()))
			if w.Code != code || !strings.Contains(w.Body.String(), `"error":"upstream_failed"`) ||
				w.Header().Get(x402.HeaderPaymentResponse) != "" {
				t.Fatalf("status %d body %s headers %v", w.Code, w.Body, w.Header())
			}
			if rows := hs.rows(); len(rows) != 1 || rows[0].Status != ledger.StatusReleased || rows[0].SettleSent() {
				t.Fatalf("rows %+v", rows)
			}
			if n := len(hs.okx.Calls("settle")); n != 0 {
				t.Fatalf("%d settle calls", n)
			}
		})
	}
}
