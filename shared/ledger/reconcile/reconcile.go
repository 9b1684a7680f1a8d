// Package reconcile resolves pending x402_payments rows: the settlements whose
// outcome the paywall could not confirm (facilitator timeout or 5xx, ledger
// update failing after settle, a Lambda dying mid-settle). It asks the
// facilitator's settle status by transaction hash and, when an RPC is
// configured, the token's authorizationState(from, nonce). It only moves rows
// out of pending, guarded by status=pending, so running it twice is harmless.
package reconcile

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/ethereum/go-ethereum/common"

	"github.com/insforge/edge-functions-go/shared/facilitator"
	"github.com/insforge/edge-functions-go/shared/ledger"
)

// Store is the ledger part the reconciler uses.
type Store interface {
	Pending(ctx context.Context, before time.Time, limit int) ([]ledger.Payment, error)
	Settle(ctx context.Context, id, txHash string, mock bool) error
	Fail(ctx context.Context, id, reason string) error
}

// StatusSource looks settlements up by hash (facilitator.Facilitator fits).
type StatusSource interface {
	Status(ctx context.Context, txHash string) (*facilitator.SettleResult, error)
}

// Chain reads EIP-3009 authorization state (true = used).
type Chain interface {
	AuthorizationState(ctx context.Context, token, from common.Address, nonce common.Hash) (bool, error)
}

// Reconciler resolves pending rows older than After.
type Reconciler struct {
	Store       Store
	Facilitator StatusSource
	Chain       Chain // optional (XLAYER_RPC_URL)
	// After is how old a pending row must be before it is examined; it must
	// exceed the paywall's settle timeout so in-flight payments are left alone.
	After time.Duration
	// ExpiryGrace is how long after validBefore an unused authorization is
	// declared failed (default 2 min: covers clock skew and block inclusion).
	ExpiryGrace time.Duration
	Limit       int // rows per run (default 100)
	Now         func() time.Time
	Log         *slog.Logger
}

// Report counts what one run did.
type Report struct {
	Checked, Settled, Failed, Unresolved int
	// OldestUnresolved is the age of the oldest row this run left pending (0: none).
	OldestUnresolved time.Duration
}

// Metric names (namespace metrics.Namespace), emitted once per run (Record).
const (
	// MetricOldestPendingMinutes is the age in minutes of the oldest payment a run
	// left pending (0 when none): the alarm on payments pending too long reads it.
	MetricOldestPendingMinutes = "OldestPendingMinutes"
	// MetricUnresolved counts the rows a run examined and left pending.
	MetricUnresolved = "PaymentsUnresolved"
	// MetricRunsFailed counts runs that ended with an error (InsForge, facilitator
	// or chain unreachable, or a ledger update refused).
	MetricRunsFailed = "ReconcileRunsFailed"
)

// Run examines one batch of pending rows.
func (r *Reconciler) Run(ctx context.Context) (Report, error) {
	now := time.Now()
	if r.Now != nil {
		now = r.Now()
	}
	limit, grace, log := r.Limit, r.ExpiryGrace, r.Log
	if limit <= 0 {
		limit = 100
	}
	if grace <= 0 {
		grace = 2 * time.Minute
	}
	if log == nil {
		log = slog.Default()
	}
	rows, err := r.Store.Pending(ctx, now.Add(-r.After), limit)
	if err != nil {
		return Report{}, err
	}
	var rep Report
	var errs []error
	for i := range rows {
		p := &rows[i]
		rep.Checked++
		outcome, reason, tx, err := r.decide(ctx, p, now, grace)
		if err != nil {
			errs = append(errs, fmt.Errorf("payment %s: %w", p.ID, err))
		}
		switch outcome {
		case ledger.StatusSettled:
			err = r.Store.Settle(ctx, p.ID, tx, p.Mock)
		case ledger.StatusFailed:
			err = r.Store.Fail(ctx, p.ID, reason)
		default:
			rep.unresolved(now.Sub(p.CreatedAt))
			log.Warn("pending payment still unresolved", slog.String("payment_id", p.ID), slog.String("why", reason))
			continue
		}
		switch {
		case err == nil:
			if outcome == ledger.StatusSettled {
				rep.Settled++
			} else {
				rep.Failed++
			}
			log.Info("pending payment resolved", slog.String("payment_id", p.ID), slog.String("status", outcome), slog.String("tx", tx))
		case errors.Is(err, ledger.ErrNotPending):
			// Resolved concurrently (paywall retry or another run): nothing to do.
		default:
			rep.unresolved(now.Sub(p.CreatedAt))
			errs = append(errs, fmt.Errorf("payment %s: %w", p.ID, err))
		}
	}
	return rep, errors.Join(errs...)
}

func (rep *Report) unresolved(age time.Duration) {
	rep.Unresolved++
	if age > rep.OldestUnresolved {
		rep.OldestUnresolved = age
	}
}

// decide returns settled/failed (with tx or reason) or "" to leave the row.
func (r *Reconciler) decide(ctx context.Context, p *ledger.Payment, now time.Time, grace time.Duration) (status, reason, tx string, err error) {
	tx = p.Tx()
	// 1. The facilitator knows the transaction.
	if tx != "" && r.Facilitator != nil {
		st, serr := r.Facilitator.Status(ctx, tx)
		switch {
		case serr == nil && st.Settled():
			return ledger.StatusSettled, "", tx, nil
		case serr == nil && st.Status == facilitator.StatusFailed:
			return ledger.StatusFailed, "settlement failed on-chain: " + st.Reason, "", nil
		case serr != nil && !errors.Is(serr, facilitator.ErrStatusUnsupported):
			err = serr // fall through to the chain
		}
	}
	if p.Mock {
		// No money ever moves in mock mode; a mock row without a confirmed
		// "transaction" is closed as failed.
		return ledger.StatusFailed, "mock payment was never confirmed", "", err
	}
	// 2. The chain is the ground truth for whether the authorization was used.
	if r.Chain != nil {
		used, cerr := r.Chain.AuthorizationState(ctx, common.HexToAddress(p.Asset), common.HexToAddress(p.PayerAddress), common.HexToHash(p.Nonce))
		switch {
		case cerr != nil:
			return "", "chain unreachable", "", errors.Join(err, cerr)
		case used:
			return ledger.StatusSettled, "", tx, nil
		case now.After(time.Unix(p.ValidBefore, 0).Add(grace)):
			// Past validBefore an unused authorization can never be executed.
			return ledger.StatusFailed, "authorization expired unused", "", nil
		}
		return "", "authorization not used yet and still valid", "", err
	}
	return "", "needs XLAYER_RPC_URL or a facilitator status to decide", "", err
}
