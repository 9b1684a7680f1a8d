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

func (l *Ledger) byAuthorization(ctx context.Context, network, asset, payer, nonce string) (*Payment, error) {
	cctx, cancel := l.ctx(ctx)
	defer cancel()
	var rows []Payment
	q := insforge.NewQuery().Eq("network", network).Eq("asset", asset).Eq("payer_address", payer).Eq("nonce", nonce).Limit(1)
	if err := l.c.Select(cctx, Table, q, &rows); err != nil {
		return nil, fmt.Errorf("%w: read claimed payment: %w", ErrUnavailable, err)
	}
	if len(rows) != 1 {
		return nil, fmt.Errorf("%w: claimed payment not found after a unique violation", ErrUnavailable)
	}
	return &rows[0], nil
}

// resolve changes a pending row; ErrNotPending when it is not pending anymore.
// The filter on status makes it safe to repeat (and to race a reconciler).
func (l *Ledger) resolve(ctx context.Context, id string, patch map[string]any) error {
	cctx, cancel := l.ctx(ctx)
	defer cancel()
	var out []Payment
	q := insforge.NewQuery().Eq("id", id).Eq("status", StatusPending)
	if err := l.c.Update(cctx, Table, q, patch, &out, insforge.Idempotent()); err != nil {
		return fmt.Errorf("%w: update payment %s: %w", ErrUnavailable, id, err)
	}
	if len(out) == 0 {
		return ErrNotPending
	}
	return nil
}

// Settle marks a pending row settled. txHash may be "" when the settlement is
// known only from the chain (authorizationState), which is then noted in error.
func (l *Ledger) Settle(ctx context.Context, id, txHash string, mock bool) error {
	patch := map[string]any{"status": StatusSettled, "mock": mock, "error": nil}
	if txHash != "" {
		patch["tx_hash"] = strings.ToLower(txHash)
	} else {
		patch["error"] = "settled on-chain (authorizationState); transaction hash unknown"
	}
	return l.resolve(ctx, id, patch)
}

// Fail marks a pending row failed with a reason.
func (l *Ledger) Fail(ctx context.Context, id, reason string) error {
	return l.resolve(ctx, id, map[string]any{"status": StatusFailed, "error": reason})
}

// RecordTx stores the transaction of a row whose settlement is unconfirmed.
func (l *Ledger) RecordTx(ctx context.Context, id, txHash string) error {
	return l.resolve(ctx, id, map[string]any{"tx_hash": strings.ToLower(txHash)})
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

// List returns the latest n rows, newest first.
func (l *Ledger) List(ctx context.Context, n int) ([]Payment, error) {
	cctx, cancel := l.ctx(ctx)
	defer cancel()
	rows := []Payment{}
	q := insforge.NewQuery().Order("created_at", insforge.Desc).Limit(n)
	if err := l.c.Select(cctx, Table, q, &rows); err != nil {
		return nil, fmt.Errorf("%w: list: %w", ErrUnavailable, err)
	}
	return rows, nil
}

// Stats returns totals over settled rows (x402_payment_stats(), migration 0003).
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
	return s, nil
}
