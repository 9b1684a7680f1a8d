// Package x402reconcile resolves x402_payments rows the paywall could not confirm
// (facilitator timeout or 5xx, ledger update failing after settle, a Lambda
// dying mid-settle) and confirms recently settled rows on-chain.
//
// Evidence, not bits: with an RPC (XLAYER_RPC_URL) a row is settled only when a
// successful transaction carries the token's Transfer(payer → pay_to, value) or
// AuthorizationUsed(payer, nonce) log — found by the row's tx_hash or by
// eth_getLogs. authorizationState == true alone is not revenue
// (cancelAuthorization sets the same bit): such rows go to needs_review. USDG
// does not revert a transferWithAuthorization on a used nonce (it emits
// AuthorizationAlreadyUsed and returns), so a successful receipt without the
// logs is no evidence either. A settled row whose transaction the chain no longer
// has (a reorg dropped its block) while the authorization is unused goes back to
// pending, where the same rules resolve it. Without an RPC, the facilitator's
// settle status is the only source. Every move is guarded by the row's status,
// so running twice is harmless.
package x402reconcile

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"strings"
	"time"

	"github.com/ethereum/go-ethereum/common"

	"github.com/insforge/edge-functions-go/shared/facilitator"
	"github.com/insforge/edge-functions-go/shared/ledger"
	"github.com/insforge/edge-functions-go/shared/metrics"
	"github.com/insforge/edge-functions-go/shared/x402/onchain"
)

// Metric names (namespace metrics.Namespace) of a reconciler run.
const (
	MetricSettled     = "ReconcileSettled"     // pending rows settled on evidence
	MetricFailed      = "ReconcileFailed"      // pending rows failed (expired unused, settlement failed)
	MetricConfirmed   = "ReconcileConfirmed"   // settled rows confirmed on-chain
	MetricNeedsReview = "ReconcileNeedsReview" // authorization used without transfer evidence, tx lost, hash conflict
	MetricCancelled   = "ReconcileCancelled"   // AuthorizationCanceled on-chain
	MetricReverted    = "ReconcileReverted"    // settlement reverted or moved no tokens
	MetricUnresolved  = "ReconcileUnresolved"  // left for a later run
	MetricReopened    = "ReconcileReopened"    // settled rows back to pending: transaction gone, authorization unused
)

// Metric names emitted once per run (Record).
const (
	// MetricOldestPendingMinutes is the age in minutes of the oldest payment a run
	// left pending (0 when none): the alarm on payments pending too long reads it.
	MetricOldestPendingMinutes = "OldestPendingMinutes"
	// MetricRunsFailed counts runs that ended with an error (InsForge, facilitator
	// or chain unreachable, or a ledger update refused).
	MetricRunsFailed = "ReconcileRunsFailed"
)

// Store is the ledger part the reconciler uses (*ledger.Ledger).
type Store interface {
	Pending(ctx context.Context, before time.Time, limit int) ([]ledger.Payment, error)
	Unconfirmed(ctx context.Context, before time.Time, limit int) ([]ledger.Payment, error)
	Settle(ctx context.Context, id, txHash string, mock bool) error
	Fail(ctx context.Context, id, reason string) error
	Mark(ctx context.Context, id, status, reason string) error
	Confirm(ctx context.Context, id string, at time.Time) error
	Demote(ctx context.Context, id, status, reason string) error
}

// StatusSource looks settlements up by hash (facilitator.Facilitator fits).
type StatusSource interface {
	Status(ctx context.Context, txHash string) (*facilitator.SettleResult, error)
}

// Chain reads the token's state and logs (onchain.Reader fits).
type Chain interface {
	AuthorizationState(ctx context.Context, token, from common.Address, nonce common.Hash) (bool, error)
	TxEvidence(ctx context.Context, tx common.Hash, p onchain.Payment) (string, error)
	AuthorizationEvidence(ctx context.Context, p onchain.Payment, lookback uint64) (string, common.Hash, error)
}

// Reconciler resolves pending rows older than Config.After and confirms settled rows
// last changed more than After ago.
type Reconciler struct {
	store    Store
	fac      StatusSource // nil: transaction hashes are not looked up
	chain    Chain        // nil: no on-chain checks (XLAYER_RPC_URL unset)
	after    time.Duration
	lookback uint64
	now      func() time.Time
	log      *slog.Logger
	metrics  *metrics.Recorder
	// expiryGrace is how long after validBefore an unused authorization is
	// declared failed (2 min: covers clock skew and block inclusion).
	expiryGrace time.Duration
	// lostAfter is how long a settled row's transaction may stay unknown to the
	// node before the row needs review (1 h).
	lostAfter time.Duration
	limit     int // rows per run and kind
}

// Deps are the reconciler's collaborators (Build makes them from Config; tests
// inject them).
type Deps struct {
	Store       Store
	Facilitator StatusSource
	Chain       Chain // optional (XLAYER_RPC_URL)
	Logger      *slog.Logger
	Metrics     *metrics.Recorder // nil records nothing
	Now         func() time.Time  // nil: time.Now
}

// New returns a reconciler of rows older than c.After (it must exceed the
// paywall's settle timeout so in-flight payments are left alone), searching
// c.LogsLookback blocks (0: 10,000) for an authorization.
func New(c Config, d Deps) *Reconciler {
	r := &Reconciler{store: d.Store, fac: d.Facilitator, chain: d.Chain, after: c.After, lookback: c.LogsLookback,
		now: d.Now, log: d.Logger, metrics: d.Metrics, expiryGrace: 2 * time.Minute, lostAfter: time.Hour, limit: 100}
	if r.lookback == 0 {
		r.lookback = 10000
	}
	if r.log == nil {
		r.log = slog.Default()
	}
	return r
}

// Report counts what one run did.
type Report struct {
	Checked, Settled, Failed, Unresolved        int
	Confirmed, NeedsReview, Cancelled, Reverted int
	// Reopened counts settled rows put back to pending (transaction gone from
	// the chain, authorization unused).
	Reopened int
	// OldestUnresolved is the age of the oldest pending row this run left pending (0: none).
	OldestUnresolved time.Duration
}

// unresolved counts a row left as it was; a pending one also ages the report.
func (rep *Report) unresolved(p *ledger.Payment, settledRow bool, now time.Time) {
	rep.Unresolved++
	if age := now.Sub(p.CreatedAt); !settledRow && age > rep.OldestUnresolved {
		rep.OldestUnresolved = age
	}
}

// verdict is what to do with one row.
type verdict struct {
	status string // target status; "" = leave; StatusSettled on a settled row = confirm
	reason string
	tx     string
}

// Run examines one batch of pending rows and one of unconfirmed settled rows.
func (r *Reconciler) Run(ctx context.Context) (Report, error) {
	now := time.Now()
	if r.now != nil {
		now = r.now()
	}
	var rep Report
	var errs []error
	rows, err := r.store.Pending(ctx, now.Add(-r.after), r.limit)
	if err != nil {
		return Report{}, err
	}
	errs = append(errs, r.examine(ctx, rows, false, now, &rep)...)
	if r.chain != nil {
		settled, err := r.store.Unconfirmed(ctx, now.Add(-r.after), r.limit)
		if err != nil {
			errs = append(errs, err)
		}
		errs = append(errs, r.examine(ctx, settled, true, now, &rep)...)
	}
	return rep, errors.Join(errs...)
}

// examine decides and applies each row of one batch: the pending rows, or
// (settledRow) the unconfirmed settled ones.
func (r *Reconciler) examine(ctx context.Context, rows []ledger.Payment, settledRow bool, now time.Time, rep *Report) []error {
	decide := r.decidePending
	if settledRow {
		decide = r.decideSettled
	}
	var errs []error
	for i := range rows {
		p := &rows[i]
		rep.Checked++
		v, err := decide(ctx, p, now)
		if err != nil {
			errs = append(errs, fmt.Errorf("payment %s: %w", p.ID, err))
		}
		errs = append(errs, r.apply(ctx, p, v, settledRow, now, rep)...)
	}
	return errs
}

// apply writes a verdict, counting it.
func (r *Reconciler) apply(ctx context.Context, p *ledger.Payment, v verdict, settledRow bool, now time.Time, rep *Report) []error {
	if v.status == "" {
		rep.unresolved(p, settledRow, now)
		r.count(MetricUnresolved)
		r.log.Warn("payment still unresolved", slog.String("payment_id", p.ID), slog.String("status", p.Status), slog.String("why", v.reason))
		return nil
	}
	var err error
	switch {
	case settledRow && v.status == ledger.StatusSettled:
		err = r.store.Confirm(ctx, p.ID, now)
	case settledRow:
		err = r.store.Demote(ctx, p.ID, v.status, v.reason)
	case v.status == ledger.StatusSettled:
		err = r.store.Settle(ctx, p.ID, v.tx, p.Mock)
		if errors.Is(err, ledger.ErrTxHashConflict) {
			// One transaction cannot pay for two authorizations.
			v = verdict{status: ledger.StatusNeedsReview, reason: "transaction " + v.tx + " is recorded for another payment"}
			err = r.store.Mark(ctx, p.ID, v.status, v.reason)
		}
	case v.status == ledger.StatusFailed:
		err = r.store.Fail(ctx, p.ID, v.reason)
	default:
		err = r.store.Mark(ctx, p.ID, v.status, v.reason)
	}
	switch {
	case errors.Is(err, ledger.ErrNotPending):
		return nil // resolved concurrently (paywall or another run)
	case err != nil:
		rep.unresolved(p, settledRow, now)
		return []error{fmt.Errorf("payment %s: %w", p.ID, err)}
	}
	metric := map[string]string{ledger.StatusFailed: MetricFailed, ledger.StatusNeedsReview: MetricNeedsReview,
		ledger.StatusCancelled: MetricCancelled, ledger.StatusReverted: MetricReverted}[v.status]
	switch {
	case settledRow && v.status == ledger.StatusSettled:
		rep.Confirmed++
		metric = MetricConfirmed
	case v.status == ledger.StatusPending:
		rep.Reopened++
		metric = MetricReopened
	case v.status == ledger.StatusSettled:
		rep.Settled++
		metric = MetricSettled
	case v.status == ledger.StatusFailed:
		rep.Failed++
	case v.status == ledger.StatusNeedsReview:
		rep.NeedsReview++
	case v.status == ledger.StatusCancelled:
		rep.Cancelled++
	case v.status == ledger.StatusReverted:
		rep.Reverted++
	}
	r.count(metric)
	level := slog.LevelInfo
	if v.status != ledger.StatusSettled && v.status != ledger.StatusFailed {
		level = slog.LevelWarn
	}
	r.log.Log(ctx, level, "payment reconciled", slog.String("payment_id", p.ID), slog.String("from", p.Status),
		slog.String("status", v.status), slog.String("tx", v.tx), slog.String("why", v.reason))
	return nil
}

func (r *Reconciler) count(name string) {
	if r.metrics != nil {
		r.metrics.Add(name, 1, "Count", nil)
	}
}

func payment(p *ledger.Payment) onchain.Payment {
	v, _ := new(big.Int).SetString(p.Amount, 10)
	return onchain.Payment{Token: common.HexToAddress(p.Asset), From: common.HexToAddress(p.PayerAddress),
		To: common.HexToAddress(p.PayTo), Value: v, Nonce: common.HexToHash(p.Nonce)}
}

// decidePending judges a pending row.
func (r *Reconciler) decidePending(ctx context.Context, p *ledger.Payment, now time.Time) (verdict, error) {
	tx := p.Tx()
	if p.Mock {
		// No money ever moves in mock mode; the chain is never consulted.
		if tx != "" && r.fac != nil {
			if st, err := r.fac.Status(ctx, tx); err == nil && st.Settled() && st.Mock {
				return verdict{status: ledger.StatusSettled, tx: tx}, nil
			}
		}
		return verdict{status: ledger.StatusFailed, reason: "mock payment was never confirmed"}, nil
	}
	if r.chain == nil {
		return r.byFacilitator(ctx, tx)
	}
	pay := payment(p)
	// 1. The row's own transaction.
	reverted := false
	if tx != "" {
		ev, v, decided, err := r.byReceipt(ctx, tx, pay)
		if decided {
			return v, err
		}
		// Reverted, not found, or success without our transfer (USDG's
		// already-used quirk): the authorization may have been executed by
		// another transaction (a replay reverts on a strict token) — the logs say.
		reverted = ev == onchain.Reverted
	}
	// 2. The token's logs for this authorization.
	ev, found, err := r.chain.AuthorizationEvidence(ctx, pay, r.lookback)
	if err != nil {
		return verdict{reason: "chain unreachable"}, err
	}
	switch {
	case ev == onchain.Transferred:
		return verdict{status: ledger.StatusSettled, tx: strings.ToLower(found.Hex())}, nil
	case ev == onchain.Cancelled:
		return verdict{status: ledger.StatusCancelled, reason: "authorization cancelled on-chain (" + strings.ToLower(found.Hex()) + ")"}, nil
	case reverted:
		return verdict{status: ledger.StatusReverted, reason: "settlement transaction reverted"}, nil
	}
	// 3. The used bit, which alone proves nothing.
	used, err := r.chain.AuthorizationState(ctx, pay.Token, pay.From, pay.Nonce)
	if err != nil {
		return verdict{reason: "chain unreachable"}, err
	}
	switch {
	case used:
		return verdict{status: ledger.StatusNeedsReview, reason: "authorization used on-chain without a transfer log in the searched blocks"}, nil
	case now.After(time.Unix(p.ValidBefore, 0).Add(r.expiryGrace)):
		// Past validBefore an unused authorization can never be executed.
		return verdict{status: ledger.StatusFailed, reason: "authorization expired unused"}, nil
	}
	return verdict{reason: "authorization not used yet and still valid"}, nil
}

// byFacilitator decides from the facilitator's settle status (no RPC configured).
func (r *Reconciler) byFacilitator(ctx context.Context, tx string) (verdict, error) {
	if tx == "" || r.fac == nil {
		return verdict{reason: "needs XLAYER_RPC_URL or a facilitator status to decide"}, nil
	}
	st, err := r.fac.Status(ctx, tx)
	switch {
	case errors.Is(err, facilitator.ErrStatusUnsupported):
		return verdict{reason: "needs XLAYER_RPC_URL: the facilitator has no status API"}, nil
	case err != nil:
		return verdict{reason: "facilitator unreachable"}, err
	case st.Settled() && strings.ToLower(st.Transaction) == tx:
		return verdict{status: ledger.StatusSettled, tx: tx}, nil
	case st.Status == facilitator.StatusFailed:
		return verdict{status: ledger.StatusFailed, reason: "settlement failed"}, nil
	}
	return verdict{reason: "settlement " + st.Status}, nil
}

// byReceipt reads the row's own transaction tx. It decides when the receipt
// settles the question (our transfer: settled; unmined: wait; chain
// unreachable); otherwise it returns the evidence for the logs checks.
func (r *Reconciler) byReceipt(ctx context.Context, tx string, pay onchain.Payment) (ev string, v verdict, decided bool, err error) {
	ev, err = r.chain.TxEvidence(ctx, common.HexToHash(tx), pay)
	switch {
	case err != nil:
		return ev, verdict{reason: "chain unreachable"}, true, err
	case ev == onchain.Transferred:
		return ev, verdict{status: ledger.StatusSettled, tx: tx}, true, nil
	case ev == onchain.Unmined:
		return ev, verdict{reason: "settlement transaction not mined yet"}, true, nil
	}
	return ev, verdict{}, false, nil
}

// decideSettled confirms a settled row's transaction on-chain. When the chain
// contradicts it, the authorization's own evidence decides: executed by another
// transaction, or unused (a reorg dropped the block) → back to pending, where the
// pending rules settle it with the transaction that paid or fail it once it
// expires unused; cancelled → cancelled; otherwise reverted.
func (r *Reconciler) decideSettled(ctx context.Context, p *ledger.Payment, now time.Time) (verdict, error) {
	tx := p.Tx()
	if tx == "" {
		return verdict{status: ledger.StatusNeedsReview, reason: "settled without a transaction hash"}, nil
	}
	pay := payment(p)
	ev, v, decided, err := r.byReceipt(ctx, tx, pay)
	if decided {
		return v, err
	}
	auth, found, err := r.chain.AuthorizationEvidence(ctx, pay, r.lookback)
	if err != nil {
		return verdict{reason: "chain unreachable"}, err
	}
	switch {
	case auth == onchain.Transferred:
		return verdict{status: ledger.StatusPending, reason: "settlement transaction " + tx + " moved no tokens; the authorization was executed by " + strings.ToLower(found.Hex())}, nil
	case auth == onchain.Cancelled:
		return verdict{status: ledger.StatusCancelled, reason: "authorization cancelled on-chain (" + strings.ToLower(found.Hex()) + ")"}, nil
	case ev == onchain.Reverted:
		return verdict{status: ledger.StatusReverted, reason: "settlement transaction reverted"}, nil
	case ev == onchain.NoTransfer:
		return verdict{status: ledger.StatusReverted, reason: "settlement transaction moved no tokens (authorization already used?)"}, nil
	}
	// The node does not know the transaction and no log mentions the
	// authorization. Unused on-chain: no money moved.
	used, err := r.chain.AuthorizationState(ctx, pay.Token, pay.From, pay.Nonce)
	switch {
	case err != nil:
		return verdict{reason: "chain unreachable"}, err
	case !used:
		return verdict{status: ledger.StatusPending, reason: "settlement transaction " + tx + " is not on the chain and the authorization is unused (dropped by a reorg?)"}, nil
	case p.UpdatedAt != nil && now.Sub(*p.UpdatedAt) > r.lostAfter:
		return verdict{status: ledger.StatusNeedsReview, reason: "settlement transaction unknown to the node"}, nil
	}
	return verdict{reason: "settlement transaction not found yet"}, nil
}
