// Package paywall is the net/http middleware that charges for a handler with
// x402. One authorization buys one delivery. The money path, Paywall.serve, reads
// top to bottom: decode → local checks → ledger lookup (anything known is
// answered from the ledger, with no facilitator call) → abuse bounds → facilitator
// verify concurrently with the ledger claim → the paid handler into a bounded
// buffer → release the claim if it did not succeed, else mark the settlement sent
// and settle (never retried) → record settled and delivered in one write → the
// buffered response. Every ledger write names this presentation (its holder
// token) and holds only while it holds the row's lease (docs/x402.md, "States and
// leases").
package paywall

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/ethereum/go-ethereum/common"

	"github.com/insforge/edge-functions-go/shared/config"
	"github.com/insforge/edge-functions-go/shared/facilitator"
	"github.com/insforge/edge-functions-go/shared/httpapi"
	"github.com/insforge/edge-functions-go/shared/internal/text"
	"github.com/insforge/edge-functions-go/shared/ledger"
	"github.com/insforge/edge-functions-go/shared/metrics"
	"github.com/insforge/edge-functions-go/shared/x402"
)

// Ledger is what the paywall needs from the payment ledger (*ledger.Ledger).
// Writes that name a holder apply only while that presentation holds the row;
// a write whose answer is lost is resolved by the ledger by re-reading the row
// (the holder tells whose write committed), never by repeating it blindly.
type Ledger interface {
	// Lookup returns the row of an authorization, nil when unknown.
	Lookup(ctx context.Context, k ledger.Key) (*ledger.Payment, error)
	// Claim inserts a pending row held by c.Holder until c.LeaseUntil; replay
	// is true (with the existing row) when another presentation claimed it.
	Claim(ctx context.Context, c ledger.Claim) (row *ledger.Payment, replay bool, err error)
	// Reclaim turns a released row back into a pending claim.
	Reclaim(ctx context.Context, id string, c ledger.Claim) (*ledger.Payment, error)
	// TakeOver takes a pending claim whose holder never sent the settlement
	// and whose lease ended before now.
	TakeOver(ctx context.Context, id string, c ledger.Claim, now time.Time) (*ledger.Payment, error)
	// Release gives holder's pending claim back (nothing settled).
	Release(ctx context.Context, id, holder, reason string) error
	// SendSettle marks holder's claim as about to be settled: from then on it
	// cannot be taken over. ErrNotPending when holder lost the claim.
	SendSettle(ctx context.Context, id, holder string, at time.Time) error
	// SettleDelivered marks holder's pending row settled and delivered in one write.
	SettleDelivered(ctx context.Context, id, holder, txHash string, mock bool, at time.Time) error
	// LeaseDelivery makes holder the one presentation re-delivering a settled,
	// undelivered row, until until.
	LeaseDelivery(ctx context.Context, id, holder string, until, now time.Time) error
	// EndLease ends holder's lease early: it is done with the row without
	// delivering it.
	EndLease(ctx context.Context, id, holder string, at time.Time) error
	// Deliver marks a settled, undelivered row delivered by its lease holder
	// (exactly one caller wins).
	Deliver(ctx context.Context, id, holder string, at time.Time) error
	// Fail marks a pending row failed.
	Fail(ctx context.Context, id, reason string) error
	// Review moves a pending row to needs_review.
	Review(ctx context.Context, id, reason string) error
	// RecordTx stores the transaction of a still-pending row.
	RecordTx(ctx context.Context, id, txHash string) error
}

// BalanceReader reads an ERC-20 balance (onchain.Reader fits).
type BalanceReader interface {
	BalanceOf(ctx context.Context, token, holder common.Address) (*big.Int, error)
}

// Options wire a paywall: its collaborators and tuning (zero fields take the defaults).
type Options struct {
	Offer       *x402.Offer
	Facilitator facilitator.Facilitator
	Ledger      Ledger
	// Endpoint and Summary are recorded in each row (endpoint, response_summary).
	Endpoint string
	Summary  string
	// Mock marks rows as mock (MOCK_OKX_FACILITATOR=true). A row proves payment
	// only to a paywall of the same mode.
	Mock bool
	// Now is the clock (nil = time.Now).
	Now func() time.Time
	// SettleRecordAttempts bounds the tries to record a settlement (default 3),
	// within the invocation's deadline. A failure leaves the pending row for the
	// reconciler and answers 202: the content is delivered once, later.
	SettleRecordAttempts int
	// SettleRecordBackoff is the first pause between those tries (default 100 ms).
	SettleRecordBackoff time.Duration
	// PendingRetryAfter is sent with 202 "settlement pending" answers (default 10 s).
	PendingRetryAfter time.Duration
	// Metrics receives the payment outcomes (CloudWatch EMF); nil records nothing.
	Metrics *metrics.Recorder

	// Abuse bounds, all before any upstream call. PayerPerMinute and
	// IPPerMinute are token-bucket rates for new authorizations per payer and per
	// source IP (0 = default, negative = off); bursts default to the rate.
	PayerPerMinute, PayerBurst int
	IPPerMinute, IPBurst       int
	// MaxConcurrentUpstream bounds facilitator calls in flight in this
	// instance (default 16): a verify past it is refused (503 + Retry-After),
	// a settle waits for a slot within its deadline.
	MaxConcurrentUpstream int
	// Balances, when set (XLAYER_RPC_URL), refuses payers whose token balance is
	// below the price before verify; answers are cached for BalanceCacheTTL (default 15 s).
	Balances        BalanceReader
	BalanceCacheTTL time.Duration

	// Deadlines. Every step runs under the invocation's deadline (the request
	// context's, i.e. the Lambda's remaining time); Budget is used when the
	// request has none (default 25 s). SettleTimeout and RecordTimeout are what
	// settle and its record may take (defaults 20 s and 3 s): when less is left,
	// the claim is released and the answer is 503 before settling.
	Budget        time.Duration
	SettleTimeout time.Duration
	RecordTimeout time.Duration
	// MaxResponseBytes bounds the buffered paid response (default 6 MiB).
	MaxResponseBytes int
}

// Metric names (namespace metrics.Namespace), all dimensioned by endpoint.
// PaymentsFailed also carries the stage that failed (a fixed set, below).
const (
	MetricSettled = "PaymentsSettled"
	MetricFailed  = "PaymentsFailed"
	MetricPending = "PaymentsPending"
	// MetricLedgerRetries counts extra attempts to record a settled payment;
	// MetricLedgerRecordFailed counts settled payments left pending for the reconciler.
	MetricLedgerRetries      = "LedgerRetries"
	MetricLedgerRecordFailed = "LedgerRecordFailed"
	// MetricDelivered counts paid responses served (one per authorization).
	MetricDelivered = "PaymentsDelivered"
	// MetricReleased counts claims given back unsettled (verify refused, handler
	// failed, no time left to settle, facilitator refused to settle).
	MetricReleased = "PaymentsReleased"
	// MetricReplayRefused counts re-presentations of a delivered or spent
	// authorization (402 with the original receipt, no facilitator call).
	MetricReplayRefused = "PaymentReplaysRefused"
	// MetricRowMismatch counts ledger rows that do not match this paywall's
	// offer (mock mode, pay_to, asset, network, amount, endpoint): refused.
	MetricRowMismatch = "PaymentRowMismatch"
	// MetricRateLimited counts 429s from the per-payer / per-IP bounds, and
	// MetricBusy 503s from the per-instance upstream concurrency bound.
	MetricRateLimited = "PaymentsRateLimited"
	MetricBusy        = "PaymentsBusy"
	// MetricDeadline counts claims released because the invocation had too
	// little time left to settle and record.
	MetricDeadline = "PaymentsDeadlineRefused"
	// MetricTxHashConflict counts settlements whose transaction hash another
	// row already holds (row → needs_review); MetricInvalidTxHash settlements
	// reported successful with a malformed hash (row → needs_review).
	MetricTxHashConflict = "TxHashConflict"
	MetricInvalidTxHash  = "FacilitatorInvalidTxHash"
)

// Stages of MetricFailed.
const (
	StageVerify        = "verify"         // the facilitator rejected the payment
	StageVerifyError   = "verify_error"   // the facilitator could not be reached
	StageLedgerClaim   = "ledger_claim"   // no ledger row could be written; nothing settled
	StageSettleRefused = "settle_refused" // the facilitator refused before moving money
	StageSettle        = "settle"         // the settlement failed
	StageBalance       = "balance"        // the payer's on-chain balance is below the price
	StageLedgerLookup  = "ledger_lookup"  // the ledger could not be read; nothing called, nothing settled
)

// Reason codes of our own (402 bodies carry only these and x402's).
const (
	ReasonRowMismatch  = "payment_recorded_for_another_offer"
	ReasonUnderReview  = "payment_under_review"
	ReasonInsufficient = "insufficient_funds"
)

func (p *Paywall) count(name string, value float64, stage string) {
	if p.cfg.Metrics == nil {
		return
	}
	dims := map[string]string{"endpoint": p.cfg.Endpoint}
	if stage != "" {
		dims["stage"] = stage
	}
	p.cfg.Metrics.Add(name, value, "Count", dims)
}

// Paywall is the middleware.
type Paywall struct {
	cfg      Options
	verifier *x402.Verifier
	payers   *limiter
	ips      *limiter
	upstream chan struct{}
	balances *balanceCache
	inflight sync.Map // ledger.Key → struct{}: authorizations being processed here
}

// New validates cfg.
func New(cfg Options) (*Paywall, error) {
	if cfg.Offer == nil || cfg.Facilitator == nil || cfg.Ledger == nil {
		return nil, errors.New("paywall: Offer, Facilitator and Ledger are required")
	}
	if cfg.Endpoint == "" {
		return nil, errors.New("paywall: Endpoint is required")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	defInt := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	defDur := func(v *time.Duration, d time.Duration) {
		if *v <= 0 {
			*v = d
		}
	}
	defInt(&cfg.SettleRecordAttempts, 3)
	defDur(&cfg.SettleRecordBackoff, 100*time.Millisecond)
	defDur(&cfg.PendingRetryAfter, 10*time.Second)
	defInt(&cfg.PayerPerMinute, 20)
	defInt(&cfg.IPPerMinute, 60)
	defInt(&cfg.MaxConcurrentUpstream, 16)
	defDur(&cfg.BalanceCacheTTL, 15*time.Second)
	defDur(&cfg.Budget, 25*time.Second)
	defDur(&cfg.SettleTimeout, 20*time.Second)
	defDur(&cfg.RecordTimeout, 3*time.Second)
	defInt(&cfg.MaxResponseBytes, DefaultMaxResponseBytes)
	p := &Paywall{
		cfg: cfg, verifier: &x402.Verifier{Offer: cfg.Offer, Now: cfg.Now},
		payers:   newLimiter(cfg.PayerPerMinute, cfg.PayerBurst, 10000),
		ips:      newLimiter(cfg.IPPerMinute, cfg.IPBurst, 10000),
		upstream: make(chan struct{}, max(1, cfg.MaxConcurrentUpstream)),
	}
	if cfg.Balances != nil {
		p.balances = &balanceCache{r: cfg.Balances, ttl: cfg.BalanceCacheTTL, m: map[string]balanceEntry{}}
	}
	return p, nil
}

// Payment is what a paid handler learns about the payment (PaymentFrom). The
// handler runs before the settlement: Transaction is empty then, except when
// the payment settled earlier (a 202 "pending" answer re-presented later).
type Payment struct {
	Transaction string
	Payer       string
	Amount      string
	Network     string
	Asset       string
	Nonce       string
	// PaymentID is the ledger row (x402_payments.id).
	PaymentID string
	Mock      bool
	// Replay is true when the payment settled before this request (the
	// one delivery of a payment first answered 202).
	Replay bool
}

type paymentKey struct{}

// PaymentFrom returns the payment of a request served by the paywall.
func PaymentFrom(ctx context.Context) (Payment, bool) {
	p, ok := ctx.Value(paymentKey{}).(Payment)
	return p, ok
}

// Wrap returns next behind the paywall.
func (p *Paywall) Wrap(next http.Handler) http.Handler {
	return httpapi.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		return p.serve(w, r, next)
	})
}

// Middleware adapts Wrap to httpapi.Chain.
func (p *Paywall) Middleware() httpapi.Middleware { return p.Wrap }

// attempt is one presentation of an authorization on its way through serve.
type attempt struct {
	r           *http.Request
	w           http.ResponseWriter
	next        http.Handler
	log         *slog.Logger
	resourceURL string
	v           *x402.Verified
	payer       string
	key         ledger.Key
	// holder is this presentation's token in the ledger (lease_by,
	// delivered_by): its leases last until deadline.
	holder string
	// ctx outlives the client (a settlement in flight must be recorded) but
	// keeps the invocation's deadline.
	ctx      context.Context
	deadline time.Time
}

// serve is the money path.
func (p *Paywall) serve(w http.ResponseWriter, r *http.Request, next http.Handler) error {
	a := &attempt{r: r, w: w, next: next, log: httpapi.Logger(r.Context()), resourceURL: resourceURL(r), holder: ledger.NewHolder()}

	// 1. Which client style, and is there a payment at all?
	header, value, err := paymentHeader(r)
	if err != nil {
		return err
	}
	if value == "" {
		return p.challenge(w, a.resourceURL, "", "this resource costs "+p.cfg.Offer.PriceText()+
			"; pay with PAYMENT-SIGNATURE (x402 v2) or X-PAYMENT (x402 v1)")
	}

	// 2. Decode: a header that cannot be decoded is a malformed request (400).
	payload, err := x402.DecodePaymentPayload(header, value)
	if err != nil {
		return httpapi.InvalidPaymentHeader.Wrap(header+" is not base64-encoded x402 JSON", err)
	}

	// 3. Local checks against our own offer. Nothing leaves the process before they pass.
	a.v, err = p.verifier.Verify(styleOf(header, payload), payload)
	if err != nil {
		var ce *x402.CheckError
		if errors.As(err, &ce) {
			return p.challenge(w, a.resourceURL, ce.Reason, ce.Message)
		}
		return err
	}
	req := a.v.Accepted // the offer's requirement for the asset paid with
	a.payer = strings.ToLower(a.v.Msg.From.Hex())
	a.key = ledger.Key{Network: req.Network, Asset: strings.ToLower(req.Asset), Payer: a.payer,
		Nonce: strings.ToLower(a.v.Msg.Nonce.Hex())}

	// One presentation of an authorization at a time in this instance: a copy
	// arriving while another is in flight is told to come back, at no cost.
	if _, busy := p.inflight.LoadOrStore(a.key, struct{}{}); busy {
		return p.pending(w, a.v.Style, a.payer, "", "this payment is being processed")
	}
	defer p.inflight.Delete(a.key)

	// From here the work must finish even if the client goes away, within the
	// invocation's deadline.
	var cancel context.CancelFunc
	a.ctx, a.deadline, cancel = p.budget(r.Context())
	defer cancel()

	// 4. The ledger first: an authorization it knows is answered from its row,
	// whatever the encoding or spelling, with no facilitator call.
	row, err := p.cfg.Ledger.Lookup(a.ctx, a.key)
	if err != nil {
		p.count(MetricFailed, 1, StageLedgerLookup)
		return p.ledgerDown(err)
	}
	// A claim whose holder never sent the settlement and whose lease is over
	// (its presentation died, or lost the answer to its claim) is taken over.
	if row != nil && row.Status != ledger.StatusReleased && !row.Takeable(p.cfg.Now()) {
		return p.known(a, row)
	}

	// 5. Abuse bounds before any upstream call, and time enough to settle.
	if answered, err := p.admit(a); answered || err != nil {
		return err
	}
	if !p.timeToSettle(a) {
		return p.noTime()
	}
	// The per-instance bound on verify calls: refused at once when full (no claim yet).
	select {
	case p.upstream <- struct{}{}:
	default:
		p.count(MetricBusy, 1, "")
		e := httpapi.Busy.Err()
		e.Header = http.Header{"Retry-After": {"1"}}
		return e
	}

	// 6. Facilitator verify concurrently with the ledger claim.
	freq := facilitator.Request{Payment: a.v.Canonical(), Requirements: req, Resource: p.cfg.Offer.Resource(a.resourceURL)}
	claim := ledger.Claim{
		PayerAddress: a.payer, Endpoint: p.cfg.Endpoint, Amount: a.v.Msg.Value.String(), Network: a.key.Network,
		Asset: a.key.Asset, PayTo: strings.ToLower(req.PayTo), Nonce: a.key.Nonce,
		ValidBefore: a.v.Msg.ValidBefore.Int64(), ResponseSummary: p.cfg.Summary, Mock: p.cfg.Mock,
		Holder: a.holder, LeaseUntil: a.deadline,
	}
	var (
		wg      sync.WaitGroup
		vr      *facilitator.VerifyResult
		verr    error
		claimed *ledger.Payment
		replay  bool
		cerr    error
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		if row != nil { // released earlier, or abandoned before settling: take it back
			if row.Status == ledger.StatusReleased {
				claimed, cerr = p.cfg.Ledger.Reclaim(a.ctx, row.ID, claim)
			} else {
				claimed, cerr = p.cfg.Ledger.TakeOver(a.ctx, row.ID, claim, p.cfg.Now())
			}
			if errors.Is(cerr, ledger.ErrNotPending) { // a concurrent presentation took it
				claimed, cerr = p.cfg.Ledger.Lookup(a.ctx, a.key)
				replay = cerr == nil && claimed != nil
				if cerr == nil && claimed == nil {
					cerr = ledger.ErrUnavailable
				}
			}
			return
		}
		claimed, replay, cerr = p.cfg.Ledger.Claim(a.ctx, claim)
	}()
	vr, verr = p.cfg.Facilitator.Verify(a.ctx, freq)
	<-p.upstream
	wg.Wait()
	switch {
	case cerr != nil:
		p.count(MetricFailed, 1, StageLedgerClaim)
		return p.ledgerDown(cerr)
	case replay:
		// Claimed concurrently by another presentation of the same authorization.
		return p.known(a, claimed)
	case verr != nil:
		p.release(a, claimed.ID, "verify unavailable")
		p.count(MetricFailed, 1, StageVerifyError)
		if isRateLimited(verr) {
			e := httpapi.FacilitatorBusy.Cause(verr)
			e.Header = http.Header{"Retry-After": {"5"}}
			return e
		}
		return httpapi.FacilitatorUnavailable.Wrap("the payment facilitator could not verify the payment; nothing was charged", verr)
	case !vr.Valid:
		reason := boundedReason(vr.Reason, x402.ReasonUnexpectedVerify)
		a.log.Info("payment refused by the facilitator", slog.String("payment_id", claimed.ID), slog.String("reason", reason))
		p.release(a, claimed.ID, "verify refused: "+reason)
		p.count(MetricFailed, 1, StageVerify)
		return p.challenge(a.w, a.resourceURL, reason, "the facilitator rejected the payment ("+reason+")")
	}

	// 7. The paid handler, into a buffer: nothing reaches the client yet.
	pay := Payment{Payer: a.payer, Amount: claim.Amount, Network: claim.Network, Asset: claim.Asset,
		Nonce: claim.Nonce, PaymentID: claimed.ID, Mock: p.cfg.Mock}
	buf, err := p.produce(a, pay)
	if err != nil || !buf.succeeded() {
		// Not delivered, not charged: the same authorization can pay again.
		p.release(a, claimed.ID, fmt.Sprintf("handler answered %d", buf.code()))
		if err != nil {
			return err
		}
		if buf.overflow {
			return httpapi.ResponseTooLarge.Err()
		}
		buf.flush(a.w)
		return nil
	}

	// 8. Settle only if the invocation can still settle and record.
	if !p.timeToSettle(a) {
		p.release(a, claimed.ID, "not enough time left to settle")
		return p.noTime()
	}
	return p.settle(a, claimed, freq, buf)
}

// budget derives the money path's context from the invocation: detached from
// the client, bounded by the request's deadline (Lambda's remaining time) or Budget.
func (p *Paywall) budget(parent context.Context) (context.Context, time.Time, context.CancelFunc) {
	dl, ok := parent.Deadline()
	if !ok {
		dl = p.cfg.Now().Add(p.cfg.Budget)
	}
	ctx, cancel := context.WithDeadline(context.WithoutCancel(parent), dl)
	return ctx, dl, cancel
}

// timeToSettle reports whether the invocation's remaining time covers a
// settle and its record: past that point the function could be killed with
// money moved and nothing written.
func (p *Paywall) timeToSettle(a *attempt) bool {
	return a.deadline.Sub(p.cfg.Now()) >= p.cfg.SettleTimeout+p.cfg.RecordTimeout
}

func (p *Paywall) noTime() error {
	p.count(MetricDeadline, 1, "")
	e := httpapi.Deadline.Err()
	e.Header = http.Header{"Retry-After": {"1"}}
	return e
}

// admit applies the per-payer and per-IP bounds and the optional balance check.
// answered is true when it wrote the answer itself (a 402).
func (p *Paywall) admit(a *attempt) (answered bool, err error) {
	now := p.cfg.Now()
	for _, l := range []struct {
		lim *limiter
		key string
	}{{p.payers, "payer:" + a.payer}, {p.ips, "ip:" + sourceIP(a.r)}} {
		if ok, wait := l.lim.allow(l.key, now); !ok {
			p.count(MetricRateLimited, 1, "")
			e := httpapi.RateLimited.Err()
			e.Header = http.Header{"Retry-After": {strconv.Itoa(retryAfter(wait))}}
			return false, e
		}
	}
	if p.balances != nil {
		bal, err := p.balances.get(a.ctx, common.HexToAddress(a.v.Accepted.Asset), a.v.Msg.From, now)
		if err != nil {
			// The chain is an optional filter: without an answer, verify decides.
			a.log.Warn("balance check unavailable", slog.String("error", err.Error()))
		} else if bal.Cmp(a.v.Msg.Value) < 0 {
			p.count(MetricFailed, 1, StageBalance)
			return true, p.challenge(a.w, a.resourceURL, ReasonInsufficient, "the payer's token balance is below the price")
		}
	}
	return false, nil
}

// produce runs the paid handler into a bounded buffer. A panic releases the
// claim in the caller (it is reported as a 500).
func (p *Paywall) produce(a *attempt, pay Payment) (buf *buffer, err error) {
	buf = newBuffer(p.cfg.MaxResponseBytes)
	defer func() {
		if rec := recover(); rec != nil {
			if rec == http.ErrAbortHandler {
				panic(rec)
			}
			buf.status = http.StatusInternalServerError
			err = httpapi.Internal.Cause(fmt.Errorf("paid handler panicked: %v", rec))
		}
	}()
	a.next.ServeHTTP(buf, a.r.WithContext(context.WithValue(a.r.Context(), paymentKey{}, pay)))
	return buf, nil
}

// txHashRE is a transaction hash as the ledger stores it.
var txHashRE = regexp.MustCompile(`^0x[0-9a-f]{64}$`)

// settle runs once per authorization (the claim holder). It is never retried.
func (p *Paywall) settle(a *attempt, row *ledger.Payment, freq facilitator.Request, buf *buffer) error {
	style, network := a.v.Style, freq.Requirements.Network
	// The row says "settle sent" before the settlement leaves: a claim without
	// it is known uncharged and may be taken over once its lease ends; one with
	// it waits for evidence. Holding the claim is checked in the same write.
	switch err := p.cfg.Ledger.SendSettle(a.ctx, row.ID, a.holder, p.cfg.Now()); {
	case errors.Is(err, ledger.ErrNotPending):
		// Taken over (this presentation outlived its lease) or resolved: the
		// other presentation settles, this one must not.
		a.log.Warn("claim lost before settling; nothing settled", slog.String("payment_id", row.ID))
		return inFlight()
	case err != nil:
		p.release(a, row.ID, "could not mark the settlement as sent")
		p.count(MetricFailed, 1, StageLedgerClaim)
		return p.ledgerDown(err)
	}
	sctx, cancel := context.WithTimeout(a.ctx, p.cfg.SettleTimeout)
	// Settles share the bound but wait for a slot: this request holds a claim
	// and a produced response.
	var sr *facilitator.SettleResult
	var err error
	select {
	case p.upstream <- struct{}{}:
		sr, err = p.cfg.Facilitator.Settle(sctx, freq)
		<-p.upstream
	case <-sctx.Done():
		err = &facilitator.Error{Op: "settle", Message: "no upstream slot before the deadline", Definitive: true, Err: sctx.Err()}
	}
	cancel()
	switch {
	case err != nil && facilitator.IsDefinitive(err):
		// The facilitator refused before acting: no money moved, the claim goes back.
		p.release(a, row.ID, "settle refused")
		p.count(MetricFailed, 1, StageSettleRefused)
		if isRateLimited(err) {
			e := httpapi.FacilitatorBusy.Cause(err)
			e.Header = http.Header{"Retry-After": {"5"}}
			return e
		}
		return httpapi.FacilitatorUnavailable.Wrap("the payment facilitator refused the settlement; nothing was charged", err)
	case err != nil:
		// Outcome unknown (timeout, 5xx): the pending row holds everything the
		// reconciler needs. The content is delivered once it settles.
		a.log.Error("settle outcome unknown; row left pending", slog.String("payment_id", row.ID), slog.String("error", err.Error()))
		p.count(MetricPending, 1, "")
		p.endLease(a, row.ID)
		return p.pending(a.w, style, a.payer, "", "settlement outcome unknown")
	case sr.Status == facilitator.StatusFailed:
		reason := boundedReason(sr.Reason, x402.ReasonUnexpectedSettle)
		a.log.Warn("settlement failed", slog.String("payment_id", row.ID), slog.String("reason", reason))
		p.fail(a, row.ID, "settle failed: "+reason)
		p.count(MetricFailed, 1, StageSettle)
		p.setResponse(a.w, style, x402.SettlementResponse{Success: false, ErrorReason: reason, Payer: a.payer, Network: network})
		return p.challenge(a.w, a.resourceURL, reason, "settlement failed ("+reason+")")
	}
	tx := strings.ToLower(sr.Transaction)
	if tx != "" && !txHashRE.MatchString(tx) {
		// A "transaction" that cannot be one: money may have moved, but this is no receipt.
		a.log.Error("facilitator returned a malformed transaction hash; row needs review", slog.String("payment_id", row.ID))
		p.count(MetricInvalidTxHash, 1, "")
		p.review(a, row.ID, "facilitator returned a malformed transaction hash")
		return p.pending(a.w, style, a.payer, "", "settlement needs review")
	}
	if !sr.Settled() {
		// pending / timeout: broadcast but unconfirmed. Keep the hash for the reconciler.
		if tx != "" {
			if err := p.cfg.Ledger.RecordTx(a.ctx, row.ID, tx); errors.Is(err, ledger.ErrTxHashConflict) {
				return p.conflict(a, row.ID, tx)
			} else if err != nil {
				a.log.Error("could not record the pending transaction", slog.String("payment_id", row.ID),
					slog.String("tx", tx), slog.String("error", err.Error()))
			}
		}
		p.count(MetricPending, 1, "")
		a.log.Warn("settlement pending; row left for the reconciler", slog.String("payment_id", row.ID), slog.String("tx", tx),
			slog.String("status", sr.Status))
		p.endLease(a, row.ID)
		return p.pending(a.w, style, a.payer, tx, "settlement "+sr.Status)
	}

	// 9. Money moved: record settled + delivered in one write, then serve.
	p.count(MetricSettled, 1, "")
	retries, err := p.recordSettled(a, row.ID, tx, sr.Mock || p.cfg.Mock)
	if retries > 0 {
		p.count(MetricLedgerRetries, float64(retries), "")
	}
	switch {
	case errors.Is(err, ledger.ErrTxHashConflict):
		return p.conflict(a, row.ID, tx)
	case errors.Is(err, errUnderReview):
		a.log.Warn("settled payment moved to review meanwhile; not delivered", slog.String("payment_id", row.ID), slog.String("tx", tx))
		return p.pending(a.w, style, a.payer, tx, "this payment is under review")
	case err != nil:
		// Unrecorded, so undelivered: the reconciler settles the row and the
		// payer gets the content once by re-presenting the same payment.
		p.count(MetricLedgerRecordFailed, 1, "")
		a.log.Error("settled payment could not be recorded; row left pending for the reconciler",
			slog.String("payment_id", row.ID), slog.String("tx", tx), slog.String("error", err.Error()))
		p.endLease(a, row.ID)
		return p.pending(a.w, style, a.payer, tx, "settled; recording the payment")
	}
	p.count(MetricDelivered, 1, "")
	a.log.Info("payment settled and delivered", slog.String("payment_id", row.ID), slog.String("payer", a.payer), slog.String("tx", tx))
	p.setResponse(a.w, style, x402.SettlementResponse{Success: true, Payer: a.payer, Transaction: tx, Network: network})
	buf.flush(a.w)
	return nil
}

// known answers an authorization the ledger already holds, without any
// facilitator call.
func (p *Paywall) known(a *attempt, row *ledger.Payment) error {
	style := a.v.Style
	if field := p.mismatch(a.v.Accepted, row); field != "" {
		a.log.Warn("ledger row does not match this offer; refused", slog.String("payment_id", row.ID), slog.String("field", field))
		p.count(MetricRowMismatch, 1, "")
		return p.challenge(a.w, a.resourceURL, ReasonRowMismatch, "this payment authorization was recorded for another offer ("+field+")")
	}
	receipt := x402.SettlementResponse{Success: true, Payer: a.payer, Transaction: row.Tx(), Network: row.Network}
	switch row.Status {
	case ledger.StatusPending:
		if !row.SettleSent() {
			// Claimed by a presentation still within its lease; nothing sent yet.
			return p.pendingFor(a.w, style, a.payer, "", "this payment is being processed", p.leaseLeft(row))
		}
		return p.pending(a.w, style, a.payer, row.Tx(), "this payment is being settled")
	case ledger.StatusNeedsReview:
		return p.pending(a.w, style, a.payer, row.Tx(), "this payment is under review")
	case ledger.StatusReleased:
		// Released by a concurrent presentation between our lookup and claim.
		return inFlight()
	case ledger.StatusSettled:
		if row.Delivered() {
			p.count(MetricReplayRefused, 1, "")
			p.setResponse(a.w, style, receipt)
			return p.challenge(a.w, a.resourceURL, x402.ReasonNonceUsed, "this payment was already used; its receipt is in "+style.ResponseHeader())
		}
		// Settled after a 202: its one delivery, by the one presentation that
		// holds the delivery lease, taken before the paid handler runs.
		return p.redeliver(a, row, receipt)
	default: // failed, cancelled, reverted
		p.count(MetricReplayRefused, 1, "")
		p.setResponse(a.w, style, x402.SettlementResponse{Success: false, ErrorReason: x402.ReasonNonceUsed, Payer: a.payer,
			Transaction: row.Tx(), Network: row.Network})
		return p.challenge(a.w, a.resourceURL, x402.ReasonNonceUsed, "this payment authorization was already used and did not settle: sign a new one")
	}
}

// redeliver serves the one delivery of a payment settled after a 202 answer.
func (p *Paywall) redeliver(a *attempt, row *ledger.Payment, receipt x402.SettlementResponse) error {
	style := a.v.Style
	switch err := p.cfg.Ledger.LeaseDelivery(a.ctx, row.ID, a.holder, a.deadline, p.cfg.Now()); {
	case errors.Is(err, ledger.ErrNotPending):
		// Delivered meanwhile, or another presentation is delivering it.
		now, err := p.cfg.Ledger.Lookup(a.ctx, a.key)
		switch {
		case err != nil:
			return p.ledgerDown(err)
		case now == nil:
			return p.ledgerDown(ledger.ErrUnavailable)
		case now.Status == ledger.StatusSettled && !now.Delivered():
			return p.pendingFor(a.w, style, a.payer, now.Tx(), "this payment is being delivered", p.leaseLeft(now))
		}
		return p.known(a, now)
	case err != nil:
		return p.ledgerDown(err)
	}
	buf, err := p.produce(a, Payment{Transaction: row.Tx(), Payer: a.payer, Amount: row.Amount, Network: row.Network,
		Asset: row.Asset, Nonce: row.Nonce, PaymentID: row.ID, Mock: row.Mock, Replay: true})
	if err != nil || !buf.succeeded() {
		// Still undelivered: give the lease back so the payer may try again now.
		p.endLease(a, row.ID)
		if err != nil {
			return err
		}
		if buf.overflow {
			return httpapi.ResponseTooLarge.New("the paid response exceeds the size limit")
		}
		buf.flush(a.w)
		return nil
	}
	switch err := p.cfg.Ledger.Deliver(a.ctx, row.ID, a.holder, p.cfg.Now()); {
	case errors.Is(err, ledger.ErrNotPending):
		// The lease ran out and another presentation delivered it.
		p.count(MetricReplayRefused, 1, "")
		p.setResponse(a.w, style, receipt)
		return p.challenge(a.w, a.resourceURL, x402.ReasonNonceUsed, "this payment was already used; its receipt is in "+style.ResponseHeader())
	case err != nil:
		return p.ledgerDown(err)
	}
	p.count(MetricDelivered, 1, "")
	p.setResponse(a.w, style, receipt)
	buf.flush(a.w)
	return nil
}

// leaseLeft is how long until row's lease ends (at least a second).
func (p *Paywall) leaseLeft(row *ledger.Payment) time.Duration {
	if row.LeaseUntil == nil {
		return time.Second
	}
	return max(time.Second, row.LeaseUntil.Sub(p.cfg.Now()))
}

func inFlight() error {
	e := httpapi.PaymentInFlight.Err()
	e.Header = http.Header{"Retry-After": {"1"}}
	return e
}

// mismatch names the first field in which row differs from req, this
// paywall's requirement for the asset paid with, or "". A row proves payment
// only for exactly what we sell.
func (p *Paywall) mismatch(req x402.Requirements, row *ledger.Payment) string {
	switch {
	case row.Mock != p.cfg.Mock:
		return "mock"
	case !strings.EqualFold(row.PayTo, req.PayTo):
		return "pay_to"
	case !strings.EqualFold(row.Asset, req.Asset):
		return "asset"
	case row.Network != req.Network:
		return "network"
	case row.Amount != req.Amount:
		return "amount"
	case row.Endpoint != p.cfg.Endpoint:
		return "endpoint"
	}
	return ""
}

// conflict handles a transaction hash another row already holds: one
// transaction cannot pay for two authorizations. No retry, no content; the row
// goes to needs_review with a metric and an error log.
func (p *Paywall) conflict(a *attempt, id, tx string) error {
	a.log.Error("facilitator returned a transaction hash another payment holds; row needs review",
		slog.String("payment_id", id), slog.String("tx", tx))
	p.count(MetricTxHashConflict, 1, "")
	p.review(a, id, "transaction hash "+tx+" is recorded for another payment")
	return p.pending(a.w, a.v.Style, a.payer, "", "settlement needs review")
}

// errUnderReview: the settled payment was moved to needs_review meanwhile.
var errUnderReview = errors.New("paywall: payment under review")

// recordSettled marks the row settled and delivered, retrying within the
// deadline; it returns how many retries it took. A write whose answer was lost
// is resolved by the ledger from the row (delivered_by names this holder).
func (p *Paywall) recordSettled(a *attempt, id, tx string, mock bool) (int, error) {
	var err error
	wait := p.cfg.SettleRecordBackoff
	for i := 0; i < p.cfg.SettleRecordAttempts; i++ {
		if i > 0 {
			select {
			case <-a.ctx.Done():
				return i - 1, errors.Join(err, a.ctx.Err())
			case <-time.After(wait):
			}
			wait *= 2
		}
		err = p.cfg.Ledger.SettleDelivered(a.ctx, id, a.holder, tx, mock, p.cfg.Now())
		if err == nil || errors.Is(err, ledger.ErrTxHashConflict) {
			return i, err
		}
		if errors.Is(err, ledger.ErrNotPending) {
			return i, p.resolvedMeanwhile(a, id)
		}
	}
	return p.cfg.SettleRecordAttempts - 1, err
}

// resolvedMeanwhile decides from the row what to do when the settled payment
// was no longer pending: the reconciler settled it (deliver it once, still as
// its holder), or moved it to needs_review (no content: a person decides).
func (p *Paywall) resolvedMeanwhile(a *attempt, id string) error {
	row, err := p.cfg.Ledger.Lookup(a.ctx, a.key)
	switch {
	case err != nil:
		return err
	case row == nil || row.ID != id:
		return fmt.Errorf("%w: payment %s vanished", ledger.ErrUnavailable, id)
	case row.Status == ledger.StatusSettled && row.DeliveredTo() == a.holder:
		return nil
	case row.Status == ledger.StatusSettled && !row.Delivered():
		return p.cfg.Ledger.Deliver(a.ctx, id, a.holder, p.cfg.Now())
	case row.Status == ledger.StatusSettled:
		return fmt.Errorf("%w: payment %s delivered by another presentation", ledger.ErrNotPending, id)
	}
	return errUnderReview
}

func (p *Paywall) release(a *attempt, id, reason string) {
	p.count(MetricReleased, 1, "")
	if err := p.cfg.Ledger.Release(a.ctx, id, a.holder, reason); err != nil && !errors.Is(err, ledger.ErrNotPending) {
		a.log.Error("could not release the claim; row left pending", slog.String("payment_id", id), slog.String("error", err.Error()))
	}
}

// endLease gives up this presentation's lease on a row it leaves undelivered,
// so the next presentation need not wait for the deadline.
func (p *Paywall) endLease(a *attempt, id string) {
	if err := p.cfg.Ledger.EndLease(a.ctx, id, a.holder, p.cfg.Now()); err != nil && !errors.Is(err, ledger.ErrNotPending) {
		a.log.Warn("could not end the lease; it ends at the deadline", slog.String("payment_id", id), slog.String("error", err.Error()))
	}
}

func (p *Paywall) fail(a *attempt, id, reason string) {
	if err := p.cfg.Ledger.Fail(a.ctx, id, text.Clip(reason, 200)); err != nil && !errors.Is(err, ledger.ErrNotPending) {
		a.log.Error("could not mark payment failed; row left pending", slog.String("payment_id", id), slog.String("error", err.Error()))
	}
}

func (p *Paywall) review(a *attempt, id, reason string) {
	if err := p.cfg.Ledger.Review(a.ctx, id, text.Clip(reason, 200)); err != nil && !errors.Is(err, ledger.ErrNotPending) {
		a.log.Error("could not mark payment for review; row left pending", slog.String("payment_id", id), slog.String("error", err.Error()))
	}
}

func (p *Paywall) ledgerDown(err error) error {
	e := httpapi.LedgerUnavailable.Wrap("the payment ledger is unavailable; nothing was charged, retry later", err)
	e.Header = http.Header{"Retry-After": {"5"}}
	return e
}

// isRateLimited reports an upstream rate limit (OKX 50011 / HTTP 429).
func isRateLimited(err error) bool {
	var fe *facilitator.Error
	return errors.As(err, &fe) && (fe.Code == "50011" || fe.HTTPStatus == http.StatusTooManyRequests)
}

// boundedReason passes on x402's own reason codes and replaces anything else
// (upstream prose, unknown codes) with fallback.
func boundedReason(reason, fallback string) string {
	if x402.KnownReason(reason) || reason == ReasonInsufficient {
		return reason
	}
	return fallback
}

// sourceIP is the client address (API Gateway's sourceIp on Lambda).
func sourceIP(r *http.Request) string {
	if h, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		return h
	}
	return r.RemoteAddr
}

// balanceCache remembers balances briefly: a payer's repeated purchases cost one
// RPC call per TTL.
type balanceCache struct {
	r   BalanceReader
	ttl time.Duration
	mu  sync.Mutex
	m   map[string]balanceEntry
}

type balanceEntry struct {
	bal *big.Int
	at  time.Time
}

func (c *balanceCache) get(ctx context.Context, token, holder common.Address, now time.Time) (*big.Int, error) {
	k := token.Hex() + holder.Hex()
	c.mu.Lock()
	e, ok := c.m[k]
	c.mu.Unlock()
	if ok && now.Sub(e.at) < c.ttl {
		return e.bal, nil
	}
	bctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	bal, err := c.r.BalanceOf(bctx, token, holder)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	if len(c.m) > 10000 {
		c.m = map[string]balanceEntry{}
	}
	c.m[k] = balanceEntry{bal: bal, at: now}
	c.mu.Unlock()
	return bal, nil
}

// challenge writes a 402 that all three client styles can pay: the v2
// PAYMENT-REQUIRED header (also read by the guide's hybrid client) and the v1
// JSON body, which doubles as the project's {"error","message"} shape.
func (p *Paywall) challenge(w http.ResponseWriter, resourceURL, reason, message string) error {
	c, err := p.cfg.Offer.Challenge(resourceURL, reason, message)
	if err != nil {
		return err
	}
	w.Header().Set(x402.HeaderPaymentRequired, c.Header)
	w.Header().Set("Cache-Control", "no-store")
	httpapi.WriteJSON(w, http.StatusPaymentRequired, c.Body)
	return nil
}

// pendingBody is the 202 answer while a settlement is unconfirmed.
type pendingBody struct {
	Status      string `json:"status"`
	Message     string `json:"message"`
	Transaction string `json:"transaction,omitempty"`
}

// pending answers 202: the payment may have moved, so no new challenge (a client
// would sign and pay again), and no content until the settlement is confirmed.
// Re-sending the same payment later returns the content once it is settled.
func (p *Paywall) pending(w http.ResponseWriter, style x402.Style, payer, tx, why string) error {
	return p.pendingFor(w, style, payer, tx, why, p.cfg.PendingRetryAfter)
}

// pendingFor is pending with its own Retry-After (a lease's remaining time).
func (p *Paywall) pendingFor(w http.ResponseWriter, style x402.Style, payer, tx, why string, retry time.Duration) error {
	p.setResponse(w, style, x402.SettlementResponse{Success: false, ErrorReason: "settlement_pending", Payer: payer,
		Transaction: tx, Network: p.cfg.Offer.Requirements().Network})
	w.Header().Set("Retry-After", strconv.Itoa(int((retry+time.Second-1)/time.Second)))
	w.Header().Set("Cache-Control", "no-store")
	httpapi.WriteJSON(w, http.StatusAccepted, pendingBody{
		Status:      "pending",
		Message:     why + ": do not pay again; retry the same request with the same payment header later",
		Transaction: tx,
	})
	return nil
}

func (p *Paywall) setResponse(w http.ResponseWriter, style x402.Style, s x402.SettlementResponse) {
	if h, err := x402.EncodeHeader(s); err == nil {
		w.Header().Set(style.ResponseHeader(), h)
	}
}

// paymentHeader finds the payment header. Sending both is ambiguous: 400.
func paymentHeader(r *http.Request) (name, value string, err error) {
	sig := r.Header.Get(x402.HeaderPaymentSignature)
	xp := r.Header.Get(x402.HeaderXPayment)
	switch {
	case sig != "" && xp != "":
		return "", "", httpapi.InvalidPaymentHeader.New("send either PAYMENT-SIGNATURE or X-PAYMENT, not both")
	case xp != "":
		return x402.HeaderXPayment, xp, nil
	case sig != "":
		return x402.HeaderPaymentSignature, sig, nil
	}
	return "", "", nil
}

// styleOf classifies a decoded payment: X-PAYMENT is v1; in PAYMENT-SIGNATURE, v2
// echoes "accepted" while the guide's hybrid client sends a v1-shaped payload.
func styleOf(header string, p *x402.PaymentPayload) x402.Style {
	switch {
	case header == x402.HeaderXPayment:
		return x402.StyleV1
	case p.Accepted != nil || p.X402Version == 2 && p.Scheme == "" && p.Network == "":
		return x402.StyleV2
	}
	return x402.StyleHybrid
}

// resourceURL is the URL clients paid for: https, except plain http on loopback
// (local runner, tests).
func resourceURL(r *http.Request) string {
	scheme := "https"
	host := r.Host
	h := host
	if i := strings.LastIndex(h, ":"); i >= 0 && !strings.HasSuffix(h, "]") {
		h = h[:i]
	}
	if r.TLS == nil && config.IsLoopback(strings.Trim(h, "[]")) {
		scheme = "http"
	}
	return fmt.Sprintf("%s://%s%s", scheme, host, r.URL.Path)
}
