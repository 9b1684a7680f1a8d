package paywall_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"

	"github.com/insforge/edge-functions-go/shared/facilitator"
	"github.com/insforge/edge-functions-go/shared/facilitator/okxtest"
	"github.com/insforge/edge-functions-go/shared/insforge"
	"github.com/insforge/edge-functions-go/shared/insforge/insforgetest"
	"github.com/insforge/edge-functions-go/shared/internal/faultnet"
	"github.com/insforge/edge-functions-go/shared/ledger"
	"github.com/insforge/edge-functions-go/shared/ledger/inmem"
	"github.com/insforge/edge-functions-go/shared/ledger/ledgertest"
	"github.com/insforge/edge-functions-go/shared/localchain"
	"github.com/insforge/edge-functions-go/shared/paywall"
	"github.com/insforge/edge-functions-go/shared/x402"
	"github.com/insforge/edge-functions-go/shared/x402/onchain"
	"github.com/insforge/edge-functions-go/shared/x402/onchain/onchaintest"
	"github.com/insforge/edge-functions-go/shared/x402/x402test"
	"github.com/insforge/edge-functions-go/shared/x402reconcile"
)

// The fault matrix: every upstream call of the money path fails in each of
// faultnet's three ways, at the transport, under the real InsForge and OKX
// clients, on real PostgreSQL, with the facilitator emulator settling on the
// local X Layer (Anvil, shared/localchain): its settle sends the real
// transferWithAuthorization. The client then re-presents the same payment
// (after the lease, with the reconciler running between presentations on the
// receipts and logs of the devnet), and each cell must hold:
//
//   - charged ⇒ delivered exactly once (and the row says delivered);
//   - delivered ⇒ charged;
//   - charged at most once;
//   - at most one paid response reaches the client;
//   - a presentation after the lease is answered "pending" only when the
//     settlement was sent.
//
// "Charged" is read from the chain: the payer's token balance, the token's
// AuthorizationUsed and Transfer logs, and the payee's balance over the whole
// matrix; the facilitator's status of the transaction must agree. The scenario
// speaks only of paywall.Ledger and the rows, so the same cells also run on
// the in-memory ledger with the faults at its interface (ledgertest.Faults):
// there a failed call is one the ledger could not resolve (as when its
// re-reads are lost too), the harder case for the paywall.

// step is one upstream call of the money path, and how to reach it.
type step struct {
	name string
	// okx: the fault is on the facilitator's transport, else the ledger's.
	okx   bool
	match faultnet.Match
	// method is the paywall.Ledger method failed at the in-memory ledger's
	// interface (interfaceSteps); modes, when set, the only modes it is failed in.
	method string
	modes  []faultnet.Mode
	// handlerFailsFirst: the paid handler fails the first presentation (so the
	// claim is released); redelivery: the first presentation's settlement stays
	// unconfirmed (202), the reconciler settles it, and the fault hits the
	// re-delivery.
	handlerFailsFirst, redelivery bool
	// rereadLost: the ledger's re-read after the faulty call fails too (every
	// try), so the presentation cannot know what committed; the client then
	// re-presents once at once (inside the lease) before waiting it out.
	rereadLost bool
	// uncharged: for which modes nothing can be charged in the end (the
	// settlement never reached the facilitator after it was marked sent).
	// A settle that reaches the facilitator is a transaction on the devnet,
	// whatever becomes of its reply.
	uncharged map[faultnet.Mode]bool
}

func ledgerCall(method string, body ...string) faultnet.Match {
	return func(r *http.Request, b []byte) bool {
		if r.Method != method || !strings.HasSuffix(r.URL.Path, "/records/"+ledger.Table) {
			return false
		}
		for _, want := range body {
			neg := strings.HasPrefix(want, "!")
			if strings.Contains(string(b), strings.TrimPrefix(want, "!")) == neg {
				return false
			}
		}
		return true
	}
}

func okxCall(suffix string) faultnet.Match {
	return func(r *http.Request, _ []byte) bool { return strings.HasSuffix(r.URL.Path, suffix) }
}

var faultSteps = []step{
	{name: "ledger lookup", match: func(r *http.Request, b []byte) bool {
		return ledgerCall(http.MethodGet)(r, b) && strings.Contains(r.URL.RawQuery, "nonce=")
	}},
	{name: "ledger claim", match: ledgerCall(http.MethodPost)},
	{name: "ledger claim+re-read", match: ledgerCall(http.MethodPost), rereadLost: true},
	{name: "okx verify", okx: true, match: okxCall("/verify")},
	{name: "ledger release", match: ledgerCall(http.MethodPatch, `"status":"released"`), handlerFailsFirst: true},
	{name: "ledger settle-sent mark", match: ledgerCall(http.MethodPatch, `"settle_sent_at":"`)},
	{name: "okx settle", okx: true, match: okxCall("/settle"), uncharged: map[faultnet.Mode]bool{faultnet.Drop: true}},
	{name: "ledger record settled", match: ledgerCall(http.MethodPatch, `"delivered_by":"`, `"status":"settled"`)},
	{name: "ledger delivery lease", match: ledgerCall(http.MethodPatch, `"lease_by":"`, `!"status"`), redelivery: true},
	{name: "ledger deliver", match: ledgerCall(http.MethodPatch, `"delivered_by":"`, `!"status"`), redelivery: true},
}

// interfaceSteps are the cells of the in-memory ledger: each ledger step
// fails its paywall.Ledger method (so a claim's failure is the transport
// matrix's "claim+re-read"), the facilitator steps are faultSteps'.
var interfaceSteps = []step{
	{name: "ledger lookup", method: "Lookup"},
	{name: "ledger claim", method: "Claim", rereadLost: true},
	faultSteps[3], // okx verify
	{name: "ledger release", method: "Release", handlerFailsFirst: true},
	{name: "ledger settle-sent mark", method: "SendSettle"},
	faultSteps[6], // okx settle
	{name: "ledger record settled", method: "SettleDelivered"},
	{name: "ledger delivery lease", method: "LeaseDelivery", redelivery: true},
	// A delivery that committed and whose outcome the ledger cannot learn is
	// the open case of docs/x402.md ("What is left"): the row says delivered,
	// the payer got a 503. Only its failure before acting is a cell.
	{name: "ledger deliver", method: "Deliver", redelivery: true, modes: []faultnet.Mode{faultnet.Drop}},
}

// clock is the paywall's clock: real time plus what the test skipped.
type clock struct{ skew atomic.Int64 }

func (c *clock) now() time.Time                     { return time.Now().Add(time.Duration(c.skew.Load())) }
func (c *clock) advance(d time.Duration)            { c.skew.Add(int64(d)) }
func (c *clock) reconcilerNow() time.Time           { return c.now().Add(time.Second) }
func (c *clock) after(t time.Time) func() time.Time { return func() time.Time { return t } }

// faultRig is the paywall with faulty transports under its ledger and facilitator.
type faultRig struct {
	t         *testing.T
	stack     *insforgetest.Stack
	okx       *okxtest.Server
	devnet    *localchain.Devnet
	chain     onchain.Reader
	ledgerNet *faultnet.Transport
	// faults fails ledger calls at the in-memory ledger's interface (nil on PostgreSQL).
	faults    *ledgertest.Faults
	okxNet    *faultnet.Transport
	ledger    paywall.Ledger
	store     x402reconcile.Store // the same ledger, for the reconciler
	inspect   paywall.Ledger      // the rows, read without faults
	status    *facilitator.OKX
	offer     *x402.Offer
	clock     *clock
	budget    time.Duration
	h         http.Handler
	runs      atomic.Int32
	failFirst atomic.Bool
}

// funds is what each payer holds on the devnet: three prices, so that a
// payment charged twice shows in the balance.
var funds = 3 * price()

func price() int64 {
	v, err := strconv.ParseInt(x402test.Price, 10, 64)
	if err != nil {
		panic(err)
	}
	return v
}

// newFaultRig is the paywall over the PostgreSQL ledger with faults at its
// transport, or, when inMemory, over the in-memory ledger with faults at its
// interface.
func newFaultRig(t *testing.T, inMemory bool) *faultRig {
	rg := &faultRig{t: t, okx: okxtest.New(t, facilitator.APIV2), offer: x402test.Offer(t),
		clock: &clock{}, budget: 4 * time.Second,
		ledgerNet: &faultnet.Transport{}, okxNet: &faultnet.Transport{}}
	if !inMemory {
		rg.stack = insforgetest.New(t)
	}
	// x402test's offer is USDG on chain 196, which the devnet's USDG is.
	rg.devnet = onchaintest.New(t)
	if rg.devnet.USDG != common.HexToAddress(x402test.Asset) {
		t.Fatalf("devnet USDG %s, offer asset %s", rg.devnet.USDG, x402test.Asset)
	}
	rg.okx.SettleOn(rg.devnet)
	rg.chain = onchain.Reader{Caller: rg.devnet.Client()}
	if inMemory {
		l := inmem.New()
		rg.faults = ledgertest.NewFaults(l)
		rg.ledger, rg.store, rg.inspect = rg.faults, rg.faults, l
	} else {
		// The production client settings (INSFORGE_MAX_RETRIES=2), short deadlines.
		ic, err := insforge.New(insforge.Options{BaseURL: rg.stack.URL, Token: rg.stack.ServiceKey, MaxRetries: 2,
			Backoff: time.Millisecond, MaxBackoff: 5 * time.Millisecond, HTTPClient: &http.Client{Transport: rg.ledgerNet}})
		if err != nil {
			t.Fatal(err)
		}
		l := ledger.New(ic)
		l.CallTimeout = 300 * time.Millisecond
		rg.ledger, rg.store = l, l
		rg.inspect = ledger.New(rg.stack.ServiceClient())
	}
	okxOpts := facilitator.OKXOptions{BaseURL: rg.okx.URL, APIKey: okxtest.Key, SecretKey: okxtest.Secret,
		Passphrase: okxtest.Passphrase, API: facilitator.APIV2, VerifyTimeout: 300 * time.Millisecond, SettleTimeout: 300 * time.Millisecond}
	var err error
	rg.status, err = facilitator.NewOKX(okxOpts)
	if err != nil {
		t.Fatal(err)
	}
	okxOpts.HTTPClient = &http.Client{Transport: rg.okxNet}
	fac, err := facilitator.NewOKX(okxOpts)
	if err != nil {
		t.Fatal(err)
	}
	pw, err := paywall.New(paywall.Options{Offer: rg.offer, Facilitator: fac, Ledger: rg.ledger, Endpoint: "/x402/report",
		Summary: "test report", Now: rg.clock.now, Budget: rg.budget, SettleTimeout: 500 * time.Millisecond,
		RecordTimeout: time.Second, SettleRecordBackoff: time.Millisecond, PayerPerMinute: -1, IPPerMinute: -1})
	if err != nil {
		t.Fatal(err)
	}
	rg.h = pw.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rg.runs.Add(1)
		if rg.failFirst.CompareAndSwap(true, false) {
			http.Error(w, `{"error":"upstream_failed","message":"the upstream failed"}`, http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"content":"paid"}`)
	}))
	return rg
}

func (rg *faultRig) present(p *x402test.Payment) *httptest.ResponseRecorder {
	r := httptest.NewRequest(http.MethodPost, "http://localhost/x402/report", nil)
	r.Header.Set(p.Header(), p.Encode(rg.t))
	w := httptest.NewRecorder()
	rg.h.ServeHTTP(w, r)
	return w
}

// newPayer is a payer holding funds on the devnet.
func (rg *faultRig) newPayer() *x402test.Payer {
	p := x402test.NewPayer(rg.t)
	onchaintest.Mint(rg.t, rg.devnet, rg.devnet.USDG, p.Address, funds)
	return p
}

// balance reads holder's USDG balance on the devnet.
func (rg *faultRig) balance(holder string) int64 {
	b, err := rg.chain.BalanceOf(context.Background(), rg.devnet.USDG, common.HexToAddress(holder))
	if err != nil {
		rg.t.Fatal(err)
	}
	return b.Int64()
}

// charges reads from the chain how many times p's payer paid the price, and
// checks that the token's logs and the facilitator's status tell the same:
// paid once ⇔ AuthorizationUsed and Transfer in a successful transaction,
// which the facilitator reports settled. Disagreements are returned.
func (rg *faultRig) charges(p *x402test.Payment) (n int, disagree []string) {
	ctx := context.Background()
	a := p.Payload.Payload.Authorization
	spent := funds - rg.balance(a.From)
	if spent%price() != 0 || spent < 0 {
		return int(spent / price()), []string{fmt.Sprintf("the payer's balance moved by %d, not a multiple of the price", spent)}
	}
	n = int(spent / price())
	pay := onchain.Payment{Token: rg.devnet.USDG, From: common.HexToAddress(a.From), To: common.HexToAddress(x402test.PayTo),
		Value: big.NewInt(price()), Nonce: common.HexToHash(a.Nonce)}
	// The whole chain: from block 0.
	ev, tx, err := rg.chain.AuthorizationEvidence(ctx, pay, ^uint64(0))
	if err != nil {
		rg.t.Fatal(err)
	}
	if ev == onchain.Transferred {
		// The transaction that used the authorization carries the Transfer.
		if ev, err = rg.chain.TxEvidence(ctx, tx, pay); err != nil {
			rg.t.Fatal(err)
		}
	}
	if (ev == onchain.Transferred) != (n > 0) {
		disagree = append(disagree, fmt.Sprintf("balance says %d charges, the logs say %q", n, ev))
	}
	if ev == onchain.Transferred {
		if st, err := rg.status.Status(ctx, strings.ToLower(tx.Hex())); err != nil || !st.Settled() {
			disagree = append(disagree, fmt.Sprintf("the chain holds the transfer, the facilitator's status says %+v (%v)", st, err))
		}
	}
	return n, disagree
}

// charged tells from the chain whether p's payer paid (see charges).
func (rg *faultRig) charged(p *x402test.Payment) bool {
	n, disagree := rg.charges(p)
	if len(disagree) > 0 {
		rg.t.Errorf("chain and facilitator disagree: %v", disagree)
	}
	return n > 0
}

func (rg *faultRig) reconcile(now func() time.Time) {
	r := x402reconcile.New(x402reconcile.Config{}, x402reconcile.Deps{Store: rg.store, Facilitator: rg.status,
		Chain: rg.chain, Now: now, Logger: slog.New(slog.DiscardHandler)})
	if _, err := r.Run(context.Background()); err != nil {
		rg.t.Errorf("reconciler: %v", err)
	}
}

func (rg *faultRig) row(p *x402test.Payment) *ledger.Payment {
	a := p.Payload.Payload.Authorization
	row, err := rg.inspect.Lookup(context.Background(), ledger.Key{Network: x402test.Network, Asset: x402test.Asset,
		Payer: a.From, Nonce: a.Nonce})
	if err != nil {
		rg.t.Fatal(err)
	}
	return row
}

// cell is one outcome of the matrix.
type cell struct {
	step, mode        string
	fired             int
	answers           []string
	runs, served      int
	charged, reconcil bool
	final             string
	violations        []string
}

func delivers(w *httptest.ResponseRecorder) bool {
	return w.Code == http.StatusOK && strings.Contains(w.Body.String(), `"content":"paid"`)
}

// run plays one cell: the first presentation meets the fault, then the client
// re-presents until it is served or refused for good.
func (rg *faultRig) run(s step, mode faultnet.Mode) cell {
	c := cell{step: s.name, mode: mode.String()}
	payer := rg.newPayer()
	p := payer.Pay(rg.t, rg.offer, x402.StyleV2, rg.clock.now())
	rg.runs.Store(0)
	net := rg.ledgerNet
	if s.okx {
		net = rg.okxNet
	}
	name := s.name + "/" + mode.String()
	record := func(w *httptest.ResponseRecorder) {
		a := strconv.Itoa(w.Code)
		if delivers(w) {
			c.served++
			a += "+content"
		} else if w.Code == http.StatusPaymentRequired {
			var b struct{ Error string }
			_ = json.Unmarshal(w.Body.Bytes(), &b)
			a += ":" + b.Error
		}
		c.answers = append(c.answers, a)
	}
	if s.redelivery {
		// The transaction is mined; the facilitator answers "timeout" with its
		// hash, and its status endpoint then reads the receipt.
		rg.okx.SettleStatus("timeout")
		record(rg.present(p))
		rg.okx.SettleStatus("")
		rg.clock.advance(rg.budget + time.Second)
		rg.reconcile(rg.clock.reconcilerNow)
		c.reconcil = true
	}
	rg.failFirst.Store(s.handlerFailsFirst)
	atInterface := !s.okx && rg.faults != nil
	if atInterface {
		rg.faults.Arm(name, ledgertest.Method(s.method), mode, 1)
	} else {
		net.Arm(name, s.match, mode, 1)
	}
	if s.rereadLost && !atInterface {
		// Every re-read of the row by its key once the faulty call has failed
		// (the client's own tries included).
		net.Arm(name+"/re-read", func(r *http.Request, b []byte) bool {
			return net.Fired(name) == 1 && faultSteps[0].match(r, b)
		}, faultnet.Drop, 3)
	}
	record(rg.present(p))
	if s.rereadLost {
		before := rg.row(p)
		w := rg.present(p)
		record(w)
		if before != nil && before.Status == ledger.StatusPending && !before.SettleSent() && w.Code != http.StatusAccepted {
			c.violations = append(c.violations, fmt.Sprintf("a claim inside its lease was not left to its holder (%d)", w.Code))
		}
		if ra, _ := strconv.Atoi(w.Header().Get("Retry-After")); before != nil && (ra < 1 || ra > int(rg.budget/time.Second)) {
			c.violations = append(c.violations, "Retry-After "+w.Header().Get("Retry-After")+" is not the lease's remaining time")
		}
	}
	for i := 0; i < 6 && c.served == 0; i++ {
		last := c.answers[len(c.answers)-1]
		if strings.HasPrefix(last, "402") {
			break
		}
		// The client comes back after the lease; the reconciler ran meanwhile.
		rg.clock.advance(rg.budget + time.Second)
		before := rg.row(p)
		if before != nil && before.Status == ledger.StatusPending && before.SettleSent() {
			rg.reconcile(rg.clock.reconcilerNow)
			c.reconcil = true
			before = rg.row(p)
		}
		w := rg.present(p)
		record(w)
		if w.Code == http.StatusAccepted && before != nil && before.Status == ledger.StatusPending && !before.SettleSent() {
			c.violations = append(c.violations, "pending after the lease though settle was never sent")
		}
	}
	c.fired = net.Fired(name)
	if atInterface {
		c.fired = rg.faults.Fired(name)
	}
	rg.failFirst.Store(false)
	row := rg.row(p)
	if row != nil && row.Status == ledger.StatusPending && row.SettleSent() && !rg.charged(p) {
		// Sent but never reached the facilitator: resolved when the
		// authorization expires unused.
		rg.reconcile(rg.clock.after(time.Unix(row.ValidBefore, 0).Add(3 * time.Minute)))
		c.reconcil = true
		row = rg.row(p)
	}
	c.runs = int(rg.runs.Load())
	n, disagree := rg.charges(p)
	c.charged = n > 0
	c.violations = append(c.violations, disagree...)
	if n > 1 {
		c.violations = append(c.violations, fmt.Sprintf("charged %d times", n))
	}
	c.final = "none"
	if row != nil {
		c.final = row.Status
		if row.Delivered() {
			c.final += "+delivered"
		}
	}
	switch {
	case c.charged && c.served != 1:
		c.violations = append(c.violations, fmt.Sprintf("charged, served %d times", c.served))
	case c.charged && (row == nil || !row.Delivered() || row.Status != ledger.StatusSettled):
		c.violations = append(c.violations, "charged, row not settled and delivered")
	case !c.charged && c.served > 0:
		c.violations = append(c.violations, "served without being charged")
	}
	if c.served > 1 {
		c.violations = append(c.violations, "more than one paid response reached the client")
	}
	if want := !s.uncharged[mode]; c.charged != want {
		c.violations = append(c.violations, fmt.Sprintf("charged = %v, want %v", c.charged, want))
	}
	if !c.charged && row != nil && row.Status == ledger.StatusPending {
		c.violations = append(c.violations, "uncharged row still pending")
	}
	return c
}

func TestFaultMatrixEveryUpstreamCallFailingEveryWayStillServesEachPaymentOnce(t *testing.T) {
	t.Run("PostgreSQL ledger, faults at its transport", func(t *testing.T) { faultMatrix(t, newFaultRig(t, false), faultSteps) })
	t.Run("in-memory ledger, faults at its interface", func(t *testing.T) { faultMatrix(t, newFaultRig(t, true), interfaceSteps) })
}

func faultMatrix(t *testing.T, rg *faultRig, steps []step) {
	rg.okx.AllowRejections() // a late settle of a settled authorization is refused by design
	var cells []cell
	charged := 0
	for _, s := range steps {
		modes := faultnet.Modes
		if s.modes != nil {
			modes = s.modes
		}
		for _, m := range modes {
			c := rg.run(s, m)
			if c.fired != 1 {
				c.violations = append(c.violations, fmt.Sprintf("the fault fired %d times", c.fired))
			}
			if c.charged {
				charged++
			}
			cells = append(cells, c)
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "\n%-24s | %-28s | %-44s | %4s | %6s | %7s | %5s | %-18s | %s\n", "step", "fault", "answers (first, then re-presentations)",
		"runs", "served", "charged", "recon", "final row", "invariants")
	b.WriteString(strings.Repeat("-", 170) + "\n")
	for _, c := range cells {
		verdict := "ok"
		if len(c.violations) > 0 {
			verdict = "VIOLATED: " + strings.Join(c.violations, "; ")
			t.Errorf("%s / %s: %s (answers %v)", c.step, c.mode, verdict, c.answers)
		}
		fmt.Fprintf(&b, "%-24s | %-28s | %-44s | %4d | %6d | %7v | %5v | %-18s | %s\n", c.step, c.mode, strings.Join(c.answers, " → "),
			c.runs, c.served, c.charged, c.reconcil, c.final, verdict)
	}
	fmt.Fprintf(&b, "payee balance on-chain: %d (%d charged cells × %d)\n", rg.balance(x402test.PayTo), charged, price())
	t.Log(b.String())
	if got := rg.balance(x402test.PayTo); got != int64(charged)*price() {
		t.Errorf("the payee received %d on-chain, want %d charged cells × %d", got, charged, price())
	}
}

func TestTwoInstancesRedeliveringOnePaymentRunTheHandlerOnce(t *testing.T) {
	hs := newHarness(t, facilitator.APIV2)
	hs.okx.SettleStatus("timeout")
	p := hs.payer.Pay(t, hs.offer, x402.StyleV2, time.Now())
	if w := hs.pay(p); w.Code != http.StatusAccepted {
		t.Fatalf("first: %d %s", w.Code, w.Body)
	}
	row := hs.rows()[0]
	if err := hs.ledger.Settle(context.Background(), row.ID, row.Tx(), false); err != nil {
		t.Fatal(err)
	}
	// A second instance over the same ledger, with a slow paid handler in both.
	var runs atomic.Int32
	slow := func(w http.ResponseWriter, _ *http.Request) {
		runs.Add(1)
		time.Sleep(100 * time.Millisecond)
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"content":"paid"}`)
	}
	var hs2 []http.Handler
	for range 2 {
		pw, err := paywall.New(paywall.Options{Offer: hs.offer, Facilitator: facilitator.Mock{}, Ledger: hs.ledger,
			Endpoint: "/x402/report", Summary: "test report"})
		if err != nil {
			t.Fatal(err)
		}
		hs2 = append(hs2, pw.Wrap(http.HandlerFunc(slow)))
	}
	header, value := p.Header(), p.Encode(t)
	ws := make([]*httptest.ResponseRecorder, 6)
	var wg sync.WaitGroup
	for i := range ws {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := httptest.NewRequest(http.MethodPost, "http://localhost/x402/report", nil)
			r.Header.Set(header, value)
			ws[i] = httptest.NewRecorder()
			hs2[i%2].ServeHTTP(ws[i], r)
		}()
	}
	wg.Wait()
	served := 0
	for _, w := range ws {
		switch {
		case delivers(w):
			served++
		case w.Code == http.StatusAccepted, w.Code == http.StatusPaymentRequired:
		default:
			t.Fatalf("unexpected answer %d %s", w.Code, w.Body)
		}
	}
	if runs.Load() != 1 || served != 1 {
		t.Fatalf("paid handler ran %d times, served %d, want 1 and 1", runs.Load(), served)
	}
	if r := hs.rows()[0]; !r.Delivered() {
		t.Fatalf("row %+v", r)
	}
}

func TestLostRepliesAtRandomLeaveNoChargedPayerUnserved(t *testing.T) {
	rg := newFaultRig(t, false)
	rg.okx.AllowRejections()
	// 35 % of ledger writes commit and lose their reply; 20 % of settlements
	// reach the facilitator and lose theirs. Seeded: the same run every time.
	var mu sync.Mutex
	rng := rand.New(rand.NewPCG(21, 35))
	draw := func(p float64) bool { mu.Lock(); defer mu.Unlock(); return rng.Float64() < p }
	rg.ledgerNet.Arm("writes", func(r *http.Request, _ []byte) bool {
		return (r.Method == http.MethodPost || r.Method == http.MethodPatch) && draw(0.35)
	}, faultnet.LoseReply, 1<<30)
	rg.okxNet.Arm("settles", func(r *http.Request, b []byte) bool { return okxCall("/settle")(r, b) && draw(0.2) }, faultnet.LoseReply, 1<<30)
	const payers = 24
	var charged, served, unserved, twice, answers int
	for range payers {
		p := rg.newPayer().Pay(t, rg.offer, x402.StyleV2, rg.clock.now())
		n := 0
		for try := 0; try < 8; try++ {
			if try > 0 {
				rg.clock.advance(rg.budget + time.Second)
				rg.reconcile(rg.clock.reconcilerNow)
			}
			w := rg.present(p)
			answers++
			if delivers(w) {
				n++
			}
			if n > 0 && w.Code == http.StatusPaymentRequired {
				break
			}
		}
		k, disagree := rg.charges(p)
		if len(disagree) > 0 {
			t.Errorf("chain and facilitator disagree: %v", disagree)
		}
		if k > 1 {
			t.Errorf("payer charged %d times", k)
		}
		c := k > 0
		switch {
		case c && n == 1:
			charged++
			served++
		case c && n == 0:
			charged++
			unserved++
		case n > 1:
			twice++
		case n > 0:
			t.Errorf("served without being charged")
		}
	}
	t.Logf("%d payers, %d presentations, %d ledger writes and %d settlements lost their reply: %d charged, %d served once, %d charged and never served, %d served twice",
		payers, answers, rg.ledgerNet.Fired("writes"), rg.okxNet.Fired("settles"), charged, served, unserved, twice)
	if unserved != 0 || twice != 0 || rg.ledgerNet.Fired("writes") == 0 || rg.okxNet.Fired("settles") == 0 {
		t.Fatal("a charged payer was not served exactly once (or no fault was injected)")
	}
	if got := rg.balance(x402test.PayTo); got != int64(charged)*price() {
		t.Fatalf("the payee received %d on-chain, want %d payers × %d", got, charged, price())
	}
}
