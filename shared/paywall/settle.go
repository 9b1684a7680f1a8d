package paywall

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"regexp"
	"strings"
	"time"

	"github.com/insforge/edge-functions-go/shared/facilitator"
	"github.com/insforge/edge-functions-go/shared/httpapi"
	"github.com/insforge/edge-functions-go/shared/internal/text"
	"github.com/insforge/edge-functions-go/shared/ledger"
	"github.com/insforge/edge-functions-go/shared/x402"
)

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
		return p.notCharged(a, row.ID, "settle refused", StageSettleRefused, err,
			"the payment facilitator refused the settlement; nothing was charged")
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

// notCharged answers a facilitator call that did not act: the claim goes back
// (why), the failure is counted at stage, and the client may retry — with
// Retry-After when the facilitator was rate limiting (facilitator_busy).
func (p *Paywall) notCharged(a *attempt, id, why, stage string, err error, message string) error {
	p.release(a, id, why)
	p.count(MetricFailed, 1, stage)
	if isRateLimited(err) {
		e := httpapi.FacilitatorBusy.Cause(err)
		e.Header = http.Header{"Retry-After": {"5"}}
		return e
	}
	return httpapi.FacilitatorUnavailable.Wrap(message, err)
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
