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

// SettleDeliveredGrant is SettleDelivered for a pass: in one transaction the
// pending row becomes settled and delivered and its entitlement is granted
// (x402_pass_settle_deliver). ErrNotPending when the row is not pending for
// g.Endpoint; ErrTxHashConflict when another row holds txHash (nothing written).
// Safe to repeat: a repeat after a lost answer finds the row no longer pending.
func (l *Ledger) SettleDeliveredGrant(ctx context.Context, id, txHash string, mock bool, at time.Time, g Grant) (*Entitlement, error) {
	return l.grant(ctx, "x402_pass_settle_deliver", id, map[string]any{"p_id": id, "p_tx_hash": strings.ToLower(txHash),
		"p_mock": mock, "p_at": at.UTC().Format(time.RFC3339Nano), "p_endpoint": g.Endpoint, "p_product": g.Product,
		"p_duration_seconds": int64(g.Duration / time.Second)})
}

// DeliverGrant is Deliver for a pass settled earlier (answered 202, resolved
// by the reconciler): delivered and granted in one transaction
// (x402_pass_deliver). ErrNotPending when it was delivered already, is not
// settled, or is for another endpoint: exactly one caller wins.
func (l *Ledger) DeliverGrant(ctx context.Context, id string, at time.Time, g Grant) (*Entitlement, error) {
	return l.grant(ctx, "x402_pass_deliver", id, map[string]any{"p_id": id, "p_at": at.UTC().Format(time.RFC3339Nano),
		"p_endpoint": g.Endpoint, "p_product": g.Product, "p_duration_seconds": int64(g.Duration / time.Second)})
}

func (l *Ledger) grant(ctx context.Context, fn, id string, args map[string]any) (*Entitlement, error) {
	if d, _ := args["p_duration_seconds"].(int64); d <= 0 {
		return nil, errors.New("ledger: a pass lasts at least one second")
	}
	cctx, cancel := l.ctx(ctx)
	defer cancel()
	var row *entitlementRow
	if err := l.c.RPC(cctx, fn, args, &row, insforge.Idempotent()); err != nil {
		if errors.Is(err, insforge.ErrUniqueViolation) {
			return nil, ErrTxHashConflict
		}
		return nil, fmt.Errorf("%w: %s %s: %w", ErrUnavailable, fn, id, err)
	}
	e, ok := row.get()
	if !ok {
		return nil, ErrNotPending
	}
	return e, nil
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
