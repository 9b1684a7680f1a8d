package ledger

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/insforge/edge-functions-go/shared/insforge"
)

// Ledger records x402 payments through the InsForge records API with the
// service key.
type Ledger struct {
	c *insforge.Client
	// CallTimeout bounds each ledger call (default 5 s).
	CallTimeout time.Duration
}

// New returns a ledger over c (a service-key client).
func New(c *insforge.Client) *Ledger { return &Ledger{c: c, CallTimeout: 5 * time.Second} }

// FromConfig returns the ledger over a service-key client built from ic.
func FromConfig(ic insforge.Config) (*Ledger, error) {
	c, err := insforge.FromConfig(ic)
	if err != nil {
		return nil, err
	}
	return New(c), nil
}

func (l *Ledger) ctx(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, l.CallTimeout)
}

type claimRow struct {
	PayerAddress    string  `json:"payer_address"`
	Endpoint        string  `json:"endpoint"`
	Amount          string  `json:"amount"`
	Chain           string  `json:"chain"`
	Status          string  `json:"status"`
	ResponseSummary *string `json:"response_summary"`
	Network         string  `json:"network"`
	Asset           string  `json:"asset"`
	PayTo           string  `json:"pay_to"`
	Nonce           string  `json:"nonce"`
	ValidBefore     int64   `json:"valid_before"`
	Mock            bool    `json:"mock"`
}

// chainName keeps the guide's chain column meaningful for its explorer links.
func chainName(network string) string {
	if network == "eip155:196" {
		return "xlayer"
	}
	return network
}

// Claim inserts a pending row for the authorization. When the authorization was
// claimed before (UNIQUE (network, asset, payer_address, nonce)), it returns the
// existing row with replay=true: the caller must not settle again.
func (l *Ledger) Claim(ctx context.Context, c Claim) (*Payment, bool, error) {
	row := claimRow{
		PayerAddress: strings.ToLower(c.PayerAddress), Endpoint: c.Endpoint, Amount: c.Amount,
		Chain: chainName(c.Network), Status: StatusPending, Network: c.Network,
		Asset: strings.ToLower(c.Asset), PayTo: strings.ToLower(c.PayTo), Nonce: strings.ToLower(c.Nonce),
		ValidBefore: c.ValidBefore, Mock: c.Mock,
	}
	if c.ResponseSummary != "" {
		row.ResponseSummary = &c.ResponseSummary
	}
	cctx, cancel := l.ctx(ctx)
	defer cancel()
	var out []Payment
	// Not retried by the client (an insert is not idempotent): a lost response
	// surfaces as an error, the caller answers 503 without settling, and the
	// orphan pending row expires unused (the reconciler marks it failed).
	err := l.c.Insert(cctx, Table, []claimRow{row}, &out)
	switch {
	case err == nil && len(out) == 1:
		return &out[0], false, nil
	case err == nil:
		return nil, false, fmt.Errorf("%w: insert returned %d rows", ErrUnavailable, len(out))
	case !errors.Is(err, insforge.ErrUniqueViolation):
		return nil, false, fmt.Errorf("%w: claim: %w", ErrUnavailable, err)
	}
	existing, err := l.byAuthorization(ctx, row.Network, row.Asset, row.PayerAddress, row.Nonce)
	if err != nil {
		return nil, false, err
	}
	return existing, true, nil
}

// Lookup returns the row of an authorization, or nil when it was never claimed.
// It reads every column (the caller compares the row with its own offer).
func (l *Ledger) Lookup(ctx context.Context, k Key) (*Payment, error) {
	cctx, cancel := l.ctx(ctx)
	defer cancel()
	var rows []Payment
	q := insforge.NewQuery().Eq("network", k.Network).Eq("asset", strings.ToLower(k.Asset)).
		Eq("payer_address", strings.ToLower(k.Payer)).Eq("nonce", strings.ToLower(k.Nonce)).Limit(1)
	if err := l.c.Select(cctx, Table, q, &rows); err != nil {
		return nil, fmt.Errorf("%w: look up payment: %w", ErrUnavailable, err)
	}
	if len(rows) == 0 {
		return nil, nil
	}
	return &rows[0], nil
}

func (l *Ledger) byAuthorization(ctx context.Context, network, asset, payer, nonce string) (*Payment, error) {
	p, err := l.Lookup(ctx, Key{Network: network, Asset: asset, Payer: payer, Nonce: nonce})
	if err != nil {
		return nil, err
	}
	if p == nil {
		return nil, fmt.Errorf("%w: claimed payment not found after a unique violation", ErrUnavailable)
	}
	return p, nil
}

// transition changes a row in status from; ErrNotPending when no row in that
// status matched. The filter on status makes it safe to repeat and to race a
// concurrent writer (paywall retry, reconciler).
func (l *Ledger) transition(ctx context.Context, id, from string, extra *insforge.Query, patch map[string]any) error {
	cctx, cancel := l.ctx(ctx)
	defer cancel()
	var out []Payment
	q := insforge.NewQuery().Eq("id", id).Eq("status", from)
	if extra != nil {
		q = extra.Eq("id", id).Eq("status", from)
	}
	if err := l.c.Update(cctx, Table, q.Select("id"), patch, &out, insforge.Idempotent()); err != nil {
		if _, ok := patch["tx_hash"]; ok && errors.Is(err, insforge.ErrUniqueViolation) {
			return ErrTxHashConflict
		}
		return fmt.Errorf("%w: update payment %s: %w", ErrUnavailable, id, err)
	}
	if len(out) == 0 {
		return ErrNotPending
	}
	return nil
}

// resolve changes a pending row.
func (l *Ledger) resolve(ctx context.Context, id string, patch map[string]any) error {
	return l.transition(ctx, id, StatusPending, nil, patch)
}

// Settle marks a pending row settled (not delivered: the reconciler's path; the
// payer gets the content once when re-presenting the authorization). txHash may
// be "" only for rows settled by on-chain evidence without a known hash.
func (l *Ledger) Settle(ctx context.Context, id, txHash string, mock bool) error {
	patch := map[string]any{"status": StatusSettled, "mock": mock, "error": nil}
	if txHash != "" {
		patch["tx_hash"] = strings.ToLower(txHash)
	} else {
		patch["error"] = "settled on-chain; transaction hash unknown"
	}
	return l.resolve(ctx, id, patch)
}

// SettleDelivered records, in one write, that a pending row settled with txHash
// and that its content is being served. ErrTxHashConflict when another row holds
// txHash.
func (l *Ledger) SettleDelivered(ctx context.Context, id, txHash string, mock bool, at time.Time) error {
	return l.resolve(ctx, id, map[string]any{"status": StatusSettled, "mock": mock, "error": nil,
		"tx_hash": strings.ToLower(txHash), "delivered_at": at.UTC().Format(time.RFC3339Nano)})
}

// Deliver marks a settled, undelivered row delivered. ErrNotPending when it was
// delivered already (or is not settled): exactly one caller wins.
func (l *Ledger) Deliver(ctx context.Context, id string, at time.Time) error {
	return l.transition(ctx, id, StatusSettled, insforge.NewQuery().IsNull("delivered_at"),
		map[string]any{"delivered_at": at.UTC().Format(time.RFC3339Nano)})
}

// Fail marks a pending row failed with a reason.
func (l *Ledger) Fail(ctx context.Context, id, reason string) error {
	return l.resolve(ctx, id, map[string]any{"status": StatusFailed, "error": reason})
}

// Release gives a pending claim back: nothing was settled, and the same
// authorization may be presented again.
func (l *Ledger) Release(ctx context.Context, id, reason string) error {
	return l.resolve(ctx, id, map[string]any{"status": StatusReleased, "error": reason, "tx_hash": nil})
}

// Review moves a pending row to needs_review (money may have moved; a person decides).
func (l *Ledger) Review(ctx context.Context, id, reason string) error {
	return l.resolve(ctx, id, map[string]any{"status": StatusNeedsReview, "error": reason})
}

// Reclaim turns a released row back into a pending claim for c (the same
// authorization, possibly for another offer of ours). ErrNotPending when it is
// not released anymore (a concurrent presentation won).
func (l *Ledger) Reclaim(ctx context.Context, id string, c Claim) (*Payment, error) {
	cctx, cancel := l.ctx(ctx)
	defer cancel()
	patch := map[string]any{"status": StatusPending, "error": nil, "endpoint": c.Endpoint, "amount": c.Amount,
		"pay_to": strings.ToLower(c.PayTo), "valid_before": c.ValidBefore, "mock": c.Mock,
		"response_summary": nil, "delivered_at": nil, "tx_hash": nil}
	if c.ResponseSummary != "" {
		patch["response_summary"] = c.ResponseSummary
	}
	var out []Payment
	q := insforge.NewQuery().Eq("id", id).Eq("status", StatusReleased)
	if err := l.c.Update(cctx, Table, q, patch, &out); err != nil {
		return nil, fmt.Errorf("%w: reclaim payment %s: %w", ErrUnavailable, id, err)
	}
	if len(out) == 0 {
		return nil, ErrNotPending
	}
	return &out[0], nil
}

// RecordTx stores the transaction of a row whose settlement is unconfirmed.
func (l *Ledger) RecordTx(ctx context.Context, id, txHash string) error {
	return l.resolve(ctx, id, map[string]any{"tx_hash": strings.ToLower(txHash)})
}

// Confirm records that the reconciler found on-chain evidence for a settled row.
func (l *Ledger) Confirm(ctx context.Context, id string, at time.Time) error {
	return l.transition(ctx, id, StatusSettled, nil, map[string]any{"confirmed_at": at.UTC().Format(time.RFC3339Nano)})
}

// Demote moves a settled row whose settlement the chain contradicts to status
// (reverted, needs_review, cancelled) with a reason.
func (l *Ledger) Demote(ctx context.Context, id, status, reason string) error {
	return l.transition(ctx, id, StatusSettled, nil, map[string]any{"status": status, "error": reason})
}

// Mark moves a pending row to status (needs_review, cancelled, reverted) with a reason.
func (l *Ledger) Mark(ctx context.Context, id, status, reason string) error {
	return l.resolve(ctx, id, map[string]any{"status": status, "error": reason})
}

// Unconfirmed lists real (non-mock) settled rows not yet confirmed on-chain and
// last changed before before, oldest first.
func (l *Ledger) Unconfirmed(ctx context.Context, before time.Time, limit int) ([]Payment, error) {
	cctx, cancel := l.ctx(ctx)
	defer cancel()
	var rows []Payment
	q := insforge.NewQuery().Eq("status", StatusSettled).Eq("mock", false).IsNull("confirmed_at").
		Lt("updated_at", before.UTC().Format(time.RFC3339Nano)).Order("updated_at", insforge.Asc).Limit(limit)
	if err := l.c.Select(cctx, Table, q, &rows); err != nil {
		return nil, fmt.Errorf("%w: list unconfirmed: %w", ErrUnavailable, err)
	}
	return rows, nil
}

// Pending lists pending rows created before before, oldest first.
func (l *Ledger) Pending(ctx context.Context, before time.Time, limit int) ([]Payment, error) {
	cctx, cancel := l.ctx(ctx)
	defer cancel()
	var rows []Payment
	q := insforge.NewQuery().Eq("status", StatusPending).Lt("created_at", before.UTC().Format(time.RFC3339Nano)).
		Order("created_at", insforge.Asc).Limit(limit)
	if err := l.c.Select(cctx, Table, q, &rows); err != nil {
		return nil, fmt.Errorf("%w: list pending: %w", ErrUnavailable, err)
	}
	return rows, nil
}

// List returns the latest n rows, newest first, public columns only (no error).
func (l *Ledger) List(ctx context.Context, n int) ([]Payment, error) {
	cctx, cancel := l.ctx(ctx)
	defer cancel()
	rows := []Payment{}
	q := insforge.NewQuery().Select(PublicColumns).Order("created_at", insforge.Desc).Limit(n)
	if err := l.c.Select(cctx, Table, q, &rows); err != nil {
		return nil, fmt.Errorf("%w: list: %w", ErrUnavailable, err)
	}
	return rows, nil
}

// Stats returns totals over settled rows, overall, per endpoint
// (x402_payment_stats() over the trigger-kept x402_payment_totals, migration 0005)
// and per asset (x402_payment_asset_stats(), migration 0009).
func (l *Ledger) Stats(ctx context.Context) (Stats, error) {
	cctx, cancel := l.ctx(ctx)
	defer cancel()
	var raw json.RawMessage
	if err := l.c.RPC(cctx, "x402_payment_stats", nil, &raw, insforge.Idempotent()); err != nil {
		return Stats{}, fmt.Errorf("%w: stats: %w", ErrUnavailable, err)
	}
	var s Stats
	if err := json.Unmarshal(raw, &s); err != nil {
		return Stats{}, fmt.Errorf("%w: stats: %w", ErrUnavailable, err)
	}
	if s.Endpoints == nil {
		s.Endpoints = []EndpointStats{}
	}
	// Per asset (migration 0009), from its own totals table.
	var assets json.RawMessage
	if err := l.c.RPC(cctx, "x402_payment_asset_stats", nil, &assets, insforge.Idempotent()); err != nil {
		return Stats{}, fmt.Errorf("%w: asset stats: %w", ErrUnavailable, err)
	}
	if err := json.Unmarshal(assets, &s.Assets); err != nil {
		return Stats{}, fmt.Errorf("%w: asset stats: %w", ErrUnavailable, err)
	}
	if s.Assets == nil {
		s.Assets = []AssetStats{}
	}
	return s, nil
}

// Get returns one row with every column (operators and tests; the service key
// reads error too).
func (l *Ledger) Get(ctx context.Context, id string) (*Payment, error) {
	cctx, cancel := l.ctx(ctx)
	defer cancel()
	var rows []Payment
	if err := l.c.Select(cctx, Table, insforge.NewQuery().Eq("id", id).Limit(1), &rows); err != nil {
		return nil, fmt.Errorf("%w: get payment: %w", ErrUnavailable, err)
	}
	if len(rows) == 0 {
		return nil, fmt.Errorf("ledger: payment %s not found", id)
	}
	return &rows[0], nil
}
