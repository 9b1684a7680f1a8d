package x402pass_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/insforge/edge-functions-go/shared/config"
	"github.com/insforge/edge-functions-go/shared/facilitator"
	"github.com/insforge/edge-functions-go/shared/facilitator/okxtest"
	"github.com/insforge/edge-functions-go/shared/httpapi/openapitest"
	"github.com/insforge/edge-functions-go/shared/insforge"
	"github.com/insforge/edge-functions-go/shared/insforge/insforgetest"
	"github.com/insforge/edge-functions-go/shared/internal/faultnet"
	"github.com/insforge/edge-functions-go/shared/ledger"
	"github.com/insforge/edge-functions-go/shared/paywall"
	"github.com/insforge/edge-functions-go/shared/signer"
	"github.com/insforge/edge-functions-go/shared/x402"
	"github.com/insforge/edge-functions-go/shared/x402/x402test"
	"github.com/insforge/edge-functions-go/shared/x402pass"
)

func TestMain(m *testing.M) { insforgetest.Main(m) }

const products = `[{"id":"pro","price":"1000","duration":"1h","description":"Pro reports for an hour"},
	{"id":"day","price":"5000","duration":"24h","description":"Pro reports for a day"}]`

// fault is what the record step's InsForge call does (the three ways an
// upstream call fails: before acting, acting and losing its reply, hanging).
type fault int32

const (
	faultNone fault = iota
	faultBefore
	faultLoseReply
	faultHang
)

// faultTransport injects f into the calls to one RPC; everything else passes
// to next (faultnet, for the faults of the other ledger calls).
type faultTransport struct {
	rpc   string
	f     atomic.Int32
	calls atomic.Int32
	next  http.RoundTripper
}

func (ft *faultTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if !strings.HasSuffix(r.URL.Path, "/rpc/"+ft.rpc) {
		return ft.next.RoundTrip(r)
	}
	ft.calls.Add(1)
	switch fault(ft.f.Load()) {
	case faultBefore:
		return nil, errors.New("connection refused (injected)")
	case faultLoseReply:
		resp, err := ft.next.RoundTrip(r)
		if err == nil {
			resp.Body.Close()
		}
		return nil, errors.New("connection reset after the request was sent (injected)")
	case faultHang:
		<-r.Context().Done()
		return nil, r.Context().Err()
	}
	return ft.next.RoundTrip(r)
}

type harness struct {
	t      *testing.T
	stack  *insforgetest.Stack
	okx    *okxtest.Server
	ledger *ledger.Ledger
	signer *signer.Signer
	fault  *faultTransport
	net    *faultnet.Transport
	h      http.Handler
	c      x402pass.Config
}

// pastLease lets every lease taken so far run out (a lease lasts until its
// presentation's deadline, the paywall's Budget of 25 s here) without waiting
// for it: their ends move into the past.
func (hs *harness) pastLease() {
	hs.t.Helper()
	if _, err := hs.stack.Pool.Exec(context.Background(),
		`UPDATE public.x402_payments SET lease_until = now() - interval '1 second' WHERE lease_until >= now()`); err != nil {
		hs.t.Fatal(err)
	}
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	hs := &harness{t: t, stack: insforgetest.New(t), okx: okxtest.New(t, "v2"), net: &faultnet.Transport{}}
	hs.fault = &faultTransport{rpc: "x402_pass_settle_deliver", next: hs.net}
	ic, err := insforge.New(insforge.Options{BaseURL: hs.stack.URL, Token: hs.stack.ServiceKey, MaxRetries: 0,
		HTTPClient: &http.Client{Transport: hs.fault, Timeout: 5 * time.Second}})
	if err != nil {
		t.Fatal(err)
	}
	hs.ledger = ledger.New(ic)
	hs.ledger.CallTimeout = 300 * time.Millisecond
	hs.signer, _ = signer.New(signer.Config{Secret: hs.stack.JWTSecret, TTL: 30 * time.Minute}, signer.Options{})
	fac, err := facilitator.NewOKX(facilitator.OKXOptions{BaseURL: hs.okx.URL, APIKey: okxtest.Key, SecretKey: okxtest.Secret,
		Passphrase: okxtest.Passphrase, API: "v2", VerifyTimeout: 2 * time.Second, SettleTimeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	p := x402test.Params()
	hs.c = x402pass.Config{AllowedOrigins: config.CSV{"*"}, Products: products}
	hs.c.Paywall = paywall.Config{PaymentRecipient: p.PayTo, Network: p.Network, Asset: p.Asset,
		AssetName: p.AssetName, AssetVersion: p.AssetVersion, MaxTimeoutSeconds: 300, PayerPerMinute: 1000, IPPerMinute: 1000,
		MaxConcurrentUpstream: 16}
	hs.h, err = x402pass.New(hs.c, x402pass.Deps{Facilitator: fac, Ledger: hs.ledger, Signer: hs.signer,
		Tune: func(o *paywall.Options) { o.SettleRecordBackoff = time.Millisecond; o.SettleTimeout = time.Second }})
	if err != nil {
		t.Fatal(err)
	}
	return hs
}

// offer is the offer of a product as the function builds it.
func (hs *harness) offer(price, description string) *x402.Offer {
	o, err := hs.c.Paywall.Offer(price, description, "")
	if err != nil {
		hs.t.Fatal(err)
	}
	return o
}

func (hs *harness) buy(product string, pay *x402test.Payment) *httptest.ResponseRecorder {
	r := httptest.NewRequest(http.MethodPost, "http://localhost"+x402pass.Prefix+product, nil)
	if pay != nil {
		r.Header.Set(pay.Header(), pay.Encode(hs.t))
	}
	w := httptest.NewRecorder()
	hs.h.ServeHTTP(w, r)
	openapitest.CheckRecorder(hs.t, r, w) // every answer also proves docs/openapi.yaml
	return w
}

func (hs *harness) entitlements(subject string) []ledger.Entitlement {
	var out []ledger.Entitlement
	if err := hs.stack.ServiceClient().Select(context.Background(), "x402_entitlements",
		insforge.NewQuery().Eq("subject", subject).Order("starts_at", insforge.Asc), &out); err != nil {
		hs.t.Fatal(err)
	}
	return out
}

func (hs *harness) reports(token string) int {
	var rows []map[string]any
	if err := hs.stack.ServiceClient().WithToken(token).Select(context.Background(), "premium_reports", insforge.NewQuery(), &rows); err != nil {
		hs.t.Fatal(err)
	}
	return len(rows)
}

func account(p *x402test.Payer) string { return "eip155:196:" + strings.ToLower(p.Address.Hex()) }

func TestBuyingAPassGrantsTheWalletAndItsTokenReadsPremiumReports(t *testing.T) {
	hs := newHarness(t)
	payer := x402test.NewPayer(t)
	offer := hs.offer("1000", "Pro reports for an hour")
	if w := hs.buy("pro", nil); w.Code != http.StatusPaymentRequired {
		t.Fatalf("no payment: %d", w.Code)
	}
	pay := payer.Pay(t, offer, x402.StyleV1, time.Now())
	before := time.Now()
	w := hs.buy("pro", pay)
	if w.Code != http.StatusOK || w.Header().Get(x402.HeaderXPaymentResponse) == "" {
		t.Fatalf("%d %s", w.Code, w.Body)
	}
	var b x402pass.Body
	_ = json.Unmarshal(w.Body.Bytes(), &b)
	c, err := hs.signer.Verify(b.Token)
	if err != nil || c.Subject != account(payer) || c.Email != "" || b.Pass.Product != "pro" || b.Pass.DurationSeconds != 3600 || b.Pass.Mock {
		t.Fatalf("token %+v %v, body %+v", c, err, b)
	}
	es := hs.entitlements(account(payer))
	if len(es) != 1 || es[0].PaymentID != b.Pass.PaymentID || es[0].StartsAt.Before(before.Add(-time.Second)) ||
		es[0].EndsAt.Sub(es[0].StartsAt) != time.Hour || c.ExpiresAt.After(es[0].EndsAt) {
		t.Fatalf("entitlements %+v, token exp %v", es, c.ExpiresAt)
	}
	if n := hs.reports(b.Token); n != 2 {
		t.Fatalf("the pass holder reads %d reports", n)
	}
	other, _ := hs.stack.UserToken(account(x402test.NewPayer(t)), "")
	if n := hs.reports(other); n != 0 {
		t.Fatalf("a wallet without a pass reads %d reports", n)
	}
	// The same payment again: the receipt, no second pass.
	if w := hs.buy("pro", pay); w.Code != http.StatusPaymentRequired || len(hs.entitlements(account(payer))) != 1 {
		t.Fatalf("replay: %d, %d entitlements", w.Code, len(hs.entitlements(account(payer))))
	}
	// A payment for one product never buys another (its offer differs).
	if w := hs.buy("day", payer.Pay(t, offer, x402.StyleV1, time.Now())); w.Code != http.StatusPaymentRequired {
		t.Fatalf("pro's price for day: %d %s", w.Code, w.Body)
	}
	// A renewal extends the pass.
	w = hs.buy("pro", payer.Pay(t, offer, x402.StyleV2, time.Now()))
	es = hs.entitlements(account(payer))
	if w.Code != http.StatusOK || len(es) != 2 || !es[1].StartsAt.Equal(es[0].EndsAt) {
		t.Fatalf("renewal: %d %+v", w.Code, es)
	}
}

func TestUnknownPassIs404AndCostsNothing(t *testing.T) {
	hs := newHarness(t)
	w := hs.buy("platinum", x402test.NewPayer(t).Pay(t, hs.offer("1000", "x"), x402.StyleV1, time.Now()))
	if w.Code != http.StatusNotFound || !strings.Contains(w.Body.String(), `"unknown_pass"`) || hs.okx.Accepted("verify") != 0 {
		t.Fatalf("%d %s", w.Code, w.Body)
	}
}

// The fault matrix of the pass's delivery: the record step (payment settled +
// delivered + entitlement, one transaction) fails before acting, acts and loses
// its reply, or hangs; the settlement itself fails or its outcome is unknown.
// In every case the entitlement exists exactly when the ledger says the payment
// settled and was delivered, and a re-presentation never grants twice.
func TestPassDeliveryFaultMatrix(t *testing.T) {
	cases := []struct {
		name        string
		setup       func(hs *harness)
		status      int
		granted     int
		rowStatus   string
		delivered   bool
		thenResolve bool // the reconciler settles the row; the re-presentation delivers once
		paid        bool // the answer carries the pass's token
	}{
		{name: "record fails before acting", setup: func(hs *harness) { hs.fault.f.Store(int32(faultBefore)) },
			status: http.StatusAccepted, granted: 0, rowStatus: ledger.StatusPending, thenResolve: true},
		// The row, re-read, shows this presentation's own delivery: it serves the pass.
		{name: "record acts and loses its reply", setup: func(hs *harness) { hs.fault.f.Store(int32(faultLoseReply)) },
			status: http.StatusOK, granted: 1, rowStatus: ledger.StatusSettled, delivered: true, paid: true},
		// The ledger unreachable for the rest of the invocation (docs/x402.md, "Fault
		// matrix"): an unknown outcome, answered 202; what committed stays consistent.
		{name: "record acts and loses its reply, and its re-reads fail", setup: func(hs *harness) {
			hs.fault.f.Store(int32(faultLoseReply))
			hs.net.Arm("re-read", func(r *http.Request, _ []byte) bool {
				return r.Method == http.MethodGet && strings.HasSuffix(r.URL.Path, "/records/"+ledger.Table) &&
					strings.Contains(r.URL.RawQuery, "id=eq.") && fault(hs.fault.f.Load()) != faultNone
			}, faultnet.Drop, 1000)
		}, status: http.StatusAccepted, granted: 1, rowStatus: ledger.StatusSettled, delivered: true},
		{name: "record hangs", setup: func(hs *harness) { hs.fault.f.Store(int32(faultHang)) },
			status: http.StatusAccepted, granted: 0, rowStatus: ledger.StatusPending, thenResolve: true},
		{name: "settlement refused", setup: func(hs *harness) { hs.okx.SettleFail("insufficient_funds") },
			status: http.StatusPaymentRequired, granted: 0, rowStatus: ledger.StatusFailed},
		{name: "settlement outcome unknown", setup: func(hs *harness) { hs.okx.Delay("settle", 3*time.Second) },
			status: http.StatusAccepted, granted: 0, rowStatus: ledger.StatusPending, thenResolve: true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			hs := newHarness(t)
			payer := x402test.NewPayer(t)
			pay := payer.Pay(t, hs.offer("1000", "Pro reports for an hour"), x402.StyleV1, time.Now())
			c.setup(hs)
			w := hs.buy("pro", pay)
			if w.Code != c.status || strings.Contains(w.Body.String(), `"token"`) != c.paid {
				t.Fatalf("status %d %s, want %d and a token: %v", w.Code, w.Body, c.status, c.paid)
			}
			rows, _ := hs.ledger.List(context.Background(), 10)
			if len(rows) != 1 || rows[0].Status != c.rowStatus || rows[0].Delivered() != c.delivered {
				t.Fatalf("rows %+v", rows)
			}
			if n := len(hs.entitlements(account(payer))); n != c.granted {
				t.Fatalf("%d entitlements, want %d", n, c.granted)
			}
			hs.fault.f.Store(int32(faultNone))
			if !c.thenResolve {
				if w := hs.buy("pro", pay); w.Code != http.StatusPaymentRequired || len(hs.entitlements(account(payer))) != c.granted {
					t.Fatalf("re-presented: %d, %d entitlements", w.Code, len(hs.entitlements(account(payer))))
				}
				return
			}
			// The reconciler finds the settlement on chain; the payer re-presents the same payment.
			if err := hs.ledger.Settle(context.Background(), rows[0].ID, "0x"+strings.Repeat("cd", 32), false); err != nil {
				t.Fatal(err)
			}
			w = hs.buy("pro", pay)
			var b x402pass.Body
			_ = json.Unmarshal(w.Body.Bytes(), &b)
			if w.Code != http.StatusOK || hs.reports(b.Token) != 2 || len(hs.entitlements(account(payer))) != 1 {
				t.Fatalf("delivery after resolution: %d %s", w.Code, w.Body)
			}
			if w := hs.buy("pro", pay); w.Code != http.StatusPaymentRequired || len(hs.entitlements(account(payer))) != 1 {
				t.Fatalf("second re-presentation: %d", w.Code)
			}
		})
	}
}

func TestProductsConfigFailsNamingTheVariable(t *testing.T) {
	for name, raw := range map[string]string{
		"not json":       `pro`,
		"empty":          `[]`,
		"duplicate id":   `[{"id":"pro","price":"1","duration":"1h"},{"id":"pro","price":"1","duration":"1h"}]`,
		"bad id":         `[{"id":"Pro!","price":"1","duration":"1h"}]`,
		"zero price":     `[{"id":"pro","price":"0","duration":"1h"}]`,
		"decimal price":  `[{"id":"pro","price":"1.5","duration":"1h"}]`,
		"short duration": `[{"id":"pro","price":"1","duration":"1s"}]`,
		"long duration":  `[{"id":"pro","price":"1","duration":"10000h"}]`,
		"unknown field":  `[{"id":"pro","price":"1","duration":"1h","tier":"gold"}]`,
	} {
		var ve *config.VarError
		if _, err := x402pass.ParseProducts(raw); !errors.As(err, &ve) || ve.Var != x402pass.VarProducts {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// The one delivery of a payment settled after a 202 fails at its write: no
// entitlement, the row stays settled and undelivered, and the next
// re-presentation delivers and grants once.
func TestLatePassDeliveryThatFailsGrantsNothingUntilItSucceeds(t *testing.T) {
	for _, f := range []fault{faultBefore, faultHang} {
		hs := newHarness(t)
		payer := x402test.NewPayer(t)
		pay := payer.Pay(t, hs.offer("1000", "Pro reports for an hour"), x402.StyleV1, time.Now())
		hs.fault.f.Store(int32(faultBefore))
		if w := hs.buy("pro", pay); w.Code != http.StatusAccepted {
			t.Fatalf("first: %d %s", w.Code, w.Body)
		}
		rows, _ := hs.ledger.List(context.Background(), 10)
		if err := hs.ledger.Settle(context.Background(), rows[0].ID, "0x"+strings.Repeat("ef", 32), false); err != nil {
			t.Fatal(err)
		}
		hs.fault.rpc = "x402_pass_deliver" // only the late delivery's write fails now
		hs.fault.f.Store(int32(f))
		if w := hs.buy("pro", pay); w.Code != http.StatusServiceUnavailable || strings.Contains(w.Body.String(), `"token"`) {
			t.Fatalf("fault %d: %d %s", f, w.Code, w.Body)
		}
		if n := len(hs.entitlements(account(payer))); n != 0 {
			t.Fatalf("fault %d: %d entitlements", f, n)
		}
		hs.fault.f.Store(int32(faultNone))
		// The failed delivery's outcome was unknown: its lease runs to its end.
		hs.pastLease()
		if w := hs.buy("pro", pay); w.Code != http.StatusOK || len(hs.entitlements(account(payer))) != 1 {
			t.Fatalf("fault %d, then healed: %d %s", f, w.Code, w.Body)
		}
	}
}

// records matches the calls to the payments table with method whose body
// contains every part.
func records(method string, parts ...string) faultnet.Match {
	return func(r *http.Request, b []byte) bool {
		if r.Method != method || !strings.HasSuffix(r.URL.Path, "/records/"+ledger.Table) {
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

func rpcCall(fn string) faultnet.Match {
	return func(r *http.Request, _ []byte) bool { return strings.HasSuffix(r.URL.Path, "/rpc/"+fn) }
}

// The lease cells of the paywall's fault matrix (docs/x402.md, "States and
// leases"), for a pass: each ledger call fails before acting, acts and loses
// its reply, or outlasts its deadline. Every cell ends with the payer charged
// once, served once, and granted exactly one entitlement, recorded by the
// presentation that served it.
func TestPassLeaseFaultMatrix(t *testing.T) {
	served := func(t *testing.T, hs *harness, payer *x402test.Payer, w *httptest.ResponseRecorder) {
		t.Helper()
		var b x402pass.Body
		_ = json.Unmarshal(w.Body.Bytes(), &b)
		if w.Code != http.StatusOK || b.Token == "" || hs.reports(b.Token) != 2 {
			t.Fatalf("not served: %d %s", w.Code, w.Body)
		}
		rows, _ := hs.ledger.List(context.Background(), 10)
		got, err := hs.ledger.Get(context.Background(), rows[0].ID)
		if err != nil || len(rows) != 1 || got.Status != ledger.StatusSettled || got.DeliveredTo() == "" ||
			got.DeliveredTo() != got.Holder() {
			t.Fatalf("row %+v %v", got, err)
		}
		if es := hs.entitlements(account(payer)); len(es) != 1 || es[0].PaymentID != got.ID {
			t.Fatalf("entitlements %+v", es)
		}
		if n := hs.okx.Accepted("settle"); n != 1 {
			t.Fatalf("%d settlements", n)
		}
	}
	// settledAfter202 leaves the payment settled by the reconciler after its
	// record failed (answered 202): the next presentation delivers it.
	settledAfter202 := func(t *testing.T, hs *harness, pay *x402test.Payment) {
		t.Helper()
		hs.fault.f.Store(int32(faultBefore))
		if w := hs.buy("pro", pay); w.Code != http.StatusAccepted {
			t.Fatalf("first presentation: %d %s", w.Code, w.Body)
		}
		hs.fault.f.Store(int32(faultNone))
		rows, _ := hs.ledger.List(context.Background(), 10)
		if err := hs.ledger.Settle(context.Background(), rows[0].ID, "0x"+strings.Repeat("ab", 32), false); err != nil {
			t.Fatal(err)
		}
	}
	for _, mode := range faultnet.Modes {
		t.Run("claim, its re-read lost too: "+mode.String(), func(t *testing.T) {
			hs := newHarness(t)
			payer := x402test.NewPayer(t)
			pay := payer.Pay(t, hs.offer("1000", "Pro reports for an hour"), x402.StyleV1, time.Now())
			hs.net.Arm("claim", records(http.MethodPost), mode, 1)
			hs.net.Arm("claim re-read", func(r *http.Request, _ []byte) bool {
				return r.Method == http.MethodGet && hs.net.Fired("claim") == 1 && strings.HasSuffix(r.URL.Path, "/records/"+ledger.Table)
			}, faultnet.Drop, 1)
			if w := hs.buy("pro", pay); w.Code != http.StatusServiceUnavailable || strings.Contains(w.Body.String(), `"token"`) {
				t.Fatalf("claim lost: %d %s", w.Code, w.Body)
			}
			rows, _ := hs.ledger.List(context.Background(), 10)
			if mode == faultnet.Drop {
				if len(rows) != 0 {
					t.Fatalf("a dropped claim wrote %+v", rows)
				}
			} else {
				// The claim committed; its lease runs to the first presentation's deadline.
				if len(rows) != 1 || rows[0].Status != ledger.StatusPending || rows[0].SettleSent() {
					t.Fatalf("rows %+v", rows)
				}
				verified := hs.okx.Accepted("verify")
				if w := hs.buy("pro", pay); w.Code != http.StatusAccepted || hs.okx.Accepted("verify") != verified {
					t.Fatalf("inside the lease: %d %s, %d verifications", w.Code, w.Body, hs.okx.Accepted("verify")-verified)
				}
				hs.pastLease()
			}
			// Taken over (or claimed afresh) and recorded by the new holder.
			served(t, hs, payer, hs.buy("pro", pay))
			if w := hs.buy("pro", pay); w.Code != http.StatusPaymentRequired || len(hs.entitlements(account(payer))) != 1 {
				t.Fatalf("re-presented after delivery: %d", w.Code)
			}
		})
		t.Run("delivery lease: "+mode.String(), func(t *testing.T) {
			hs := newHarness(t)
			payer := x402test.NewPayer(t)
			pay := payer.Pay(t, hs.offer("1000", "Pro reports for an hour"), x402.StyleV1, time.Now())
			settledAfter202(t, hs, pay)
			// LeaseDelivery's patch names the holder and the lease's end, and nothing else.
			hs.net.Arm("lease", func(r *http.Request, b []byte) bool {
				return records(http.MethodPatch, `"lease_by"`, `"lease_until"`)(r, b) && !strings.Contains(string(b), `"status"`)
			}, mode, 1)
			served(t, hs, payer, hs.buy("pro", pay))
			if hs.net.Fired("lease") != 1 {
				t.Fatal("the delivery lease was not taken")
			}
		})
		t.Run("deliver: "+mode.String(), func(t *testing.T) {
			hs := newHarness(t)
			payer := x402test.NewPayer(t)
			pay := payer.Pay(t, hs.offer("1000", "Pro reports for an hour"), x402.StyleV1, time.Now())
			settledAfter202(t, hs, pay)
			hs.net.Arm("deliver", rpcCall("x402_pass_deliver"), mode, 1)
			served(t, hs, payer, hs.buy("pro", pay))
			if hs.net.Fired("deliver") != 1 {
				t.Fatal("the delivery was not recorded through x402_pass_deliver")
			}
		})
	}
	// While one presentation holds the delivery lease, another is told the
	// payment is being delivered: nothing is granted twice.
	t.Run("delivery lease held by another presentation", func(t *testing.T) {
		hs := newHarness(t)
		payer := x402test.NewPayer(t)
		pay := payer.Pay(t, hs.offer("1000", "Pro reports for an hour"), x402.StyleV1, time.Now())
		settledAfter202(t, hs, pay)
		rows, _ := hs.ledger.List(context.Background(), 10)
		now := time.Now()
		if err := hs.ledger.LeaseDelivery(context.Background(), rows[0].ID, "another-presentation", now.Add(10*time.Second), now); err != nil {
			t.Fatal(err)
		}
		if w := hs.buy("pro", pay); w.Code != http.StatusAccepted || strings.Contains(w.Body.String(), `"token"`) ||
			len(hs.entitlements(account(payer))) != 0 {
			t.Fatalf("inside another's delivery lease: %d %s", w.Code, w.Body)
		}
		hs.pastLease()
		served(t, hs, payer, hs.buy("pro", pay))
	})
}

// Listings name every product, in order, at its route, with the offer its 402
// makes (the same accepts, description and MIME type).
func TestListingsOfferWhatEachPassChallengeAsks(t *testing.T) {
	hs := newHarness(t)
	ls, err := x402pass.Listings(hs.c.Paywall, products)
	if err != nil {
		t.Fatal(err)
	}
	if len(ls) != 2 || ls[0].Path != x402pass.Prefix+"pro" || ls[1].Path != x402pass.Prefix+"day" {
		t.Fatalf("listings %+v", ls)
	}
	for _, l := range ls {
		w := hs.buy(strings.TrimPrefix(l.Path, x402pass.Prefix), nil)
		challenge, err := x402.DecodePaymentRequired(w.Header().Get(x402.HeaderPaymentRequired))
		if w.Code != http.StatusPaymentRequired || err != nil {
			t.Fatalf("%s: %d %v", l.Path, w.Code, err)
		}
		listed, _ := json.Marshal(l.Offer.Accepts())
		var reqs []x402.Requirements
		for _, a := range challenge.Accepts {
			reqs = append(reqs, a.Requirements)
		}
		offered, _ := json.Marshal(reqs)
		res := l.Offer.Resource("http://localhost" + l.Path)
		if l.Method != http.MethodPost || string(listed) != string(offered) || *res != *challenge.Resource ||
			res.MimeType != "application/json" || len(l.OutputSchema) == 0 {
			t.Errorf("%s: listed %s %+v, the 402 offers %s %+v", l.Path, listed, res, offered, challenge.Resource)
		}
	}
	var ve *config.VarError
	if _, err := x402pass.Listings(hs.c.Paywall, `[]`); !errors.As(err, &ve) || ve.Var != x402pass.VarProducts {
		t.Fatalf("empty products: %v", err)
	}
}
