package paywall

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/ethereum/go-ethereum/common"

	"github.com/insforge/edge-functions-go/shared/facilitator"
	"github.com/insforge/edge-functions-go/shared/httpapi"
	"github.com/insforge/edge-functions-go/shared/ledger"
	"github.com/insforge/edge-functions-go/shared/x402"
)

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
		return p.notCharged(a, claimed.ID, "verify unavailable", StageVerifyError, verr,
			"the payment facilitator could not verify the payment; nothing was charged")
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

// sourceIP is the client address (API Gateway's sourceIp on Lambda).
func sourceIP(r *http.Request) string {
	if h, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		return h
	}
	return r.RemoteAddr
}
