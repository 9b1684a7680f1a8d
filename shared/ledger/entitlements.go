package ledger

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/insforge/edge-functions-go/shared/insforge"
)

// Grant is what a pass payment buys: an entitlement to Product for Duration,
// for the payer's wallet (x402_entitlements, infra/migrations/0008).
type Grant struct {
	// Endpoint is the pass's paid route; a payment recorded for another
	// endpoint grants nothing.
	Endpoint string
	Product  string
	Duration time.Duration
}

// EntitlementsTable holds one entitlement per pass payment.
const EntitlementsTable = "x402_entitlements"

// Entitlement is one x402_entitlements row.
type Entitlement struct {
	ID        string    `json:"id"`
	Subject   string    `json:"subject"`
	Product   string    `json:"product"`
	StartsAt  time.Time `json:"starts_at"`
	EndsAt    time.Time `json:"ends_at"`
	PaymentID string    `json:"payment_id"`
	Mock      bool      `json:"mock"`
}

// entitlementRow decodes an RPC answer that may be a NULL row (all fields null).
type entitlementRow struct {
	ID        *string    `json:"id"`
	Subject   *string    `json:"subject"`
	Product   *string    `json:"product"`
	StartsAt  *time.Time `json:"starts_at"`
	EndsAt    *time.Time `json:"ends_at"`
	PaymentID *string    `json:"payment_id"`
	Mock      *bool      `json:"mock"`
}

func (r *entitlementRow) get() (*Entitlement, bool) {
	if r == nil || r.PaymentID == nil || r.ID == nil || r.Subject == nil || r.StartsAt == nil || r.EndsAt == nil {
		return nil, false
	}
	e := &Entitlement{ID: *r.ID, Subject: *r.Subject, StartsAt: *r.StartsAt, EndsAt: *r.EndsAt, PaymentID: *r.PaymentID}
	if r.Product != nil {
		e.Product = *r.Product
	}
	if r.Mock != nil {
		e.Mock = *r.Mock
	}
	return e, true
}

// SettleDeliveredGrant is SettleDelivered for a pass: in one transaction
// holder's pending claim becomes settled and delivered by holder and its
// entitlement is granted (x402_pass_settle_deliver), under SettleDelivered's
// conditions and lost-reply rules. ErrNotPending when the row is not holder's
// pending claim for g.Endpoint; ErrTxHashConflict when another row holds txHash
// (nothing written).
func (l *Ledger) SettleDeliveredGrant(ctx context.Context, id, holder, txHash string, mock bool, at time.Time, g Grant) (*Entitlement, error) {
	return l.grant(ctx, "x402_pass_settle_deliver", id, holder, g, true, map[string]any{"p_id": id, "p_holder": holder,
		"p_tx_hash": strings.ToLower(txHash), "p_mock": mock, "p_at": stamp(at), "p_endpoint": g.Endpoint,
		"p_product": g.Product, "p_duration_seconds": int64(g.Duration / time.Second)},
		func(p *Payment) bool { return p.Status == StatusSettled && p.DeliveredTo() == holder })
}

// DeliverGrant is Deliver for a pass settled earlier (answered 202, resolved
// by the reconciler): delivered by holder, who holds its delivery lease, and
// granted in one transaction (x402_pass_deliver), under Deliver's conditions
// and lost-reply rules. ErrNotPending when it was delivered already, is not
// settled, is leased to another presentation, or is for another endpoint:
// exactly one caller wins.
func (l *Ledger) DeliverGrant(ctx context.Context, id, holder string, at time.Time, g Grant) (*Entitlement, error) {
	return l.grant(ctx, "x402_pass_deliver", id, holder, g, false, map[string]any{"p_id": id, "p_holder": holder,
		"p_at": stamp(at), "p_endpoint": g.Endpoint, "p_product": g.Product,
		"p_duration_seconds": int64(g.Duration / time.Second)},
		func(p *Payment) bool { return p.DeliveredTo() == holder })
}

// grant runs one of the pass functions as a conditional write of row id: like
// every ledger write, a call whose answer is lost is not repeated blindly (the
// client does not retry it either); the row is re-read, and delivered_by =
// holder, with the entitlement of the payment, tells that this call committed.
func (l *Ledger) grant(ctx context.Context, fn, id, holder string, g Grant, setsTx bool, args map[string]any,
	done func(*Payment) bool) (*Entitlement, error) {
	if g.Duration < time.Second {
		return nil, errors.New("ledger: a pass lasts at least one second")
	}
	if holder == "" {
		return nil, errors.New("ledger: a pass is delivered by a named holder")
	}
	var e *Entitlement
	_, err := l.apply(ctx, write{id: id, setsTx: setsTx, done: done,
		send: func(cctx context.Context) (*Payment, bool, error) {
			var row *entitlementRow
			if err := l.c.RPC(cctx, fn, args, &row); err != nil {
				return nil, false, err
			}
			got, ok := row.get()
			e = got
			return nil, ok, nil
		},
		confirm: func(ctx context.Context, _ *Payment) error {
			got, err := l.entitlementOf(ctx, id)
			e = got
			return err
		}})
	if err != nil {
		return nil, err
	}
	return e, nil
}

// entitlementOf reads the entitlement payment id bought.
func (l *Ledger) entitlementOf(ctx context.Context, id string) (*Entitlement, error) {
	e, err := first[Entitlement](ctx, l, EntitlementsTable, insforge.NewQuery().Eq("payment_id", id), "entitlement of payment "+id)
	if err == nil && e == nil {
		// The pass functions write both in one transaction.
		return nil, fmt.Errorf("%w: payment %s delivered without its entitlement", ErrUnavailable, id)
	}
	return e, err
}

// PassStats are the passes sold and active per product (x402_pass_stats).
type PassStats struct {
	Product string `json:"product"`
	// Sold counts real (non-mock) passes; SoldMock those bought through the mock facilitator.
	Sold     int64 `json:"sold"`
	SoldMock int64 `json:"sold_mock"`
	// Active is how many wallets hold a pass of the product now.
	Active int64 `json:"active"`
}

// PassStats reads the pass counts per product.
func (l *Ledger) PassStats(ctx context.Context) ([]PassStats, error) {
	cctx, cancel := l.ctx(ctx)
	defer cancel()
	var out []PassStats
	if err := l.c.RPC(cctx, "x402_pass_stats", nil, &out, insforge.Idempotent()); err != nil {
		return nil, fmt.Errorf("%w: pass stats: %w", ErrUnavailable, err)
	}
	return out, nil
}
