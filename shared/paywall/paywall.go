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
	"math/big"
	"net/http"
	"sync"
	"time"

	"github.com/ethereum/go-ethereum/common"

	"github.com/insforge/edge-functions-go/shared/httpapi"
	"github.com/insforge/edge-functions-go/shared/ledger"
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
