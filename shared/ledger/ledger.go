package ledger

import (
	"context"
	"crypto/rand"
	"encoding/hex"
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

// chainName keeps the guide's chain column meaningful for its explorer links.
func chainName(network string) string {
	if network == "eip155:196" {
		return "xlayer"
	}
	return network
}

// NewHolder returns a fresh per-attempt token: a re-read after a lost reply
// tells this attempt's writes from anyone else's by it.
func NewHolder() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

// writeAttempts bounds how often one conditional write is sent when its
// outcome stays unknown (each unknown outcome is followed by a re-read).
const writeAttempts = 3

// uncertain reports a failure after which the server may have acted: the
// request could not be sent or its answer was lost (network, 5xx, the call's
// own deadline). A 4xx is the server's refusal: nothing was written.
func uncertain(err error) bool {
	return errors.Is(err, insforge.ErrUnavailable) || errors.Is(err, context.DeadlineExceeded) ||
		errors.Is(err, context.Canceled)
}

// Claim inserts a pending row for the authorization, held by c.Holder until
// c.LeaseUntil. When the authorization was claimed before (UNIQUE (network,
// asset, payer_address, nonce)), it returns the existing row with replay=true:
// the caller must not settle again. An insert whose answer is lost is not
// repeated blindly: the row is re-read, and the holder token tells whether the
// insert that committed was this one.
func (l *Ledger) Claim(ctx context.Context, c Claim) (*Payment, bool, error) {
	if c.Holder == "" {
		c.Holder = NewHolder()
	}
	row := insertRow(c)
	key := Key{Network: c.Network, Asset: c.Asset, Payer: c.PayerAddress, Nonce: c.Nonce}
	var last error
	for i := 0; i < writeAttempts; i++ {
		var out []Payment
		cctx, cancel := l.ctx(ctx)
		// The client never repeats an insert; this loop does, after a re-read.
		err := l.c.Insert(cctx, Table, []map[string]any{row}, &out)
		cancel()
		switch {
		case err == nil && len(out) == 1:
			return &out[0], false, nil
		case err == nil:
			return nil, false, fmt.Errorf("%w: insert returned %d rows", ErrUnavailable, len(out))
		case errors.Is(err, insforge.ErrUniqueViolation):
			existing, err := l.byAuthorization(ctx, key)
			if err != nil {
				return nil, false, err
			}
			// This attempt's own insert, committed late (its answer was lost).
			return existing, existing.Holder() != c.Holder, nil
		case !uncertain(err) || ctx.Err() != nil:
			return nil, false, fmt.Errorf("%w: claim: %w", ErrUnavailable, err)
		}
		last = err
		existing, rerr := l.Lookup(ctx, key)
		if rerr != nil {
			return nil, false, fmt.Errorf("%w: claim: %w (re-read: %w)", ErrUnavailable, err, rerr)
		}
		if existing != nil {
			return existing, existing.Holder() != c.Holder, nil
		}
		// Nothing committed: inserting again is a first attempt.
	}
	return nil, false, fmt.Errorf("%w: claim: %w", ErrUnavailable, last)
}

// Lookup returns the row of an authorization, or nil when it was never claimed.
// It reads every column (the caller compares the row with its own offer).
func (l *Ledger) Lookup(ctx context.Context, k Key) (*Payment, error) {
	return first[Payment](ctx, l, Table, insforge.NewQuery().Eq("network", k.Network).Eq("asset", strings.ToLower(k.Asset)).
		Eq("payer_address", strings.ToLower(k.Payer)).Eq("nonce", strings.ToLower(k.Nonce)), "look up payment")
}

// first reads the first row of table matching q, nil when there is none.
func first[T any](ctx context.Context, l *Ledger, table string, q *insforge.Query, what string) (*T, error) {
	cctx, cancel := l.ctx(ctx)
	defer cancel()
	var rows []T
	if err := l.c.Select(cctx, table, q.Limit(1), &rows); err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrUnavailable, what, err)
	}
	if len(rows) == 0 {
		return nil, nil
	}
	return &rows[0], nil
}

func (l *Ledger) byAuthorization(ctx context.Context, k Key) (*Payment, error) {
	p, err := l.Lookup(ctx, k)
	if err != nil {
		return nil, err
	}
	if p == nil {
		return nil, fmt.Errorf("%w: claimed payment not found after a unique violation", ErrUnavailable)
	}
	return p, nil
}

// write is one conditional update: the row id, what the row must be for it to
// apply (cond), the patch, and done, which tells from a re-read row whether
// this very write committed.
type write struct {
	id    string
	cond  *insforge.Query
	patch map[string]any
	done  func(*Payment) bool
	// send, when set, is the write instead of the update (cond, patch): a
	// conditional write through a SQL function. It reports whether the write
	// applied; the retry and re-read rules are the same.
	send func(ctx context.Context) (*Payment, bool, error)
	// setsTx: a unique violation means another row holds the transaction hash.
	setsTx bool
	// confirm, when set, completes a re-read that done accepted (reads what
	// else the write committed with the row); its error leaves the outcome unknown.
	confirm func(ctx context.Context, p *Payment) error
}

// committed re-reads w's row and tells whether w committed.
func (l *Ledger) committed(ctx context.Context, w write) (*Payment, bool, error) {
	row, err := l.Get(ctx, w.id)
	if err != nil {
		return nil, false, err
	}
	if !w.done(row) {
		return row, false, nil
	}
	if w.confirm != nil {
		if err := w.confirm(ctx, row); err != nil {
			return nil, false, err
		}
	}
	return row, true, nil
}

// send is one attempt of w (its cond already names the row): the row it
// wrote, and whether it applied.
func (l *Ledger) send(ctx context.Context, w write) (*Payment, bool, error) {
	cctx, cancel := l.ctx(ctx)
	defer cancel()
	if w.send != nil {
		return w.send(cctx)
	}
	var out []Payment
	if err := l.c.Update(cctx, Table, w.cond, w.patch, &out); err != nil {
		return nil, false, err
	}
	if len(out) == 0 {
		return nil, false, nil
	}
	return &out[0], true, nil
}

// apply sends w. The filters make it safe to race a concurrent writer (another
// presentation, the reconciler): exactly one wins, the others get
// ErrNotPending. A write whose outcome is unknown (lost answer, deadline) is
// never re-sent blindly: the row is re-read, and done decides whether it
// committed; only a row showing no trace of it gets the write again. The
// client does not retry these requests itself.
func (l *Ledger) apply(ctx context.Context, w write) (*Payment, error) {
	var last error
	if _, ok := w.patch["tx_hash"]; ok {
		w.setsTx = true
	}
	if w.send == nil {
		w.cond = w.cond.Eq("id", w.id)
	}
	for i := 0; i < writeAttempts; i++ {
		row, applied, err := l.send(ctx, w)
		switch {
		case err == nil && applied:
			return row, nil
		case err == nil && i == 0:
			return nil, ErrNotPending
		case err == nil:
			// An earlier attempt whose answer was lost may have committed after
			// the re-read (it was still in flight): one more look.
			if row, ok, rerr := l.committed(ctx, w); rerr == nil && ok {
				return row, nil
			}
			return nil, ErrNotPending
		case errors.Is(err, insforge.ErrUniqueViolation):
			if w.setsTx {
				return nil, ErrTxHashConflict
			}
			return nil, fmt.Errorf("%w: update payment %s: %w", ErrUnavailable, w.id, err)
		case !uncertain(err) || ctx.Err() != nil:
			return nil, fmt.Errorf("%w: update payment %s: %w", ErrUnavailable, w.id, err)
		}
		last = err
		row, ok, rerr := l.committed(ctx, w)
		if rerr != nil {
			return nil, fmt.Errorf("%w: update payment %s: %w (re-read: %w)", ErrUnavailable, w.id, err, rerr)
		}
		if ok {
			return row, nil
		}
	}
	return nil, fmt.Errorf("%w: update payment %s: %w", ErrUnavailable, w.id, last)
}

func q() *insforge.Query { return insforge.NewQuery() }

// statusIs is the done test of writes whose effect is the status alone (the
// same outcome whoever wrote it).
func statusIs(status string) func(*Payment) bool {
	return func(p *Payment) bool { return p.Status == status }
}

// resolve changes a pending row to status.
func (l *Ledger) resolve(ctx context.Context, id, status string, patch map[string]any) error {
	patch["status"] = status
	_, err := l.apply(ctx, write{id: id, cond: q().Eq("status", StatusPending), patch: patch, done: statusIs(status)})
	return err
}

// Settle marks a pending row settled (not delivered: the reconciler's path; the
// payer gets the content once when re-presenting the authorization). txHash may
// be "" only for rows settled by on-chain evidence without a known hash.
func (l *Ledger) Settle(ctx context.Context, id, txHash string, mock bool) error {
	patch := map[string]any{"mock": mock, "error": nil}
	if txHash != "" {
		patch["tx_hash"] = strings.ToLower(txHash)
	} else {
		patch["error"] = "settled on-chain; transaction hash unknown"
	}
	return l.resolve(ctx, id, StatusSettled, patch)
}

// SendSettle records that holder is about to send the settlement of its
// pending claim. From then on the row cannot be taken over: money may move.
// ErrNotPending when holder no longer holds the claim (it was taken over, or
// resolved): the caller must not settle.
func (l *Ledger) SendSettle(ctx context.Context, id, holder string, at time.Time) error {
	_, err := l.apply(ctx, write{id: id,
		cond:  q().Eq("status", StatusPending).Eq("lease_by", holder).IsNull("settle_sent_at"),
		patch: map[string]any{"settle_sent_at": stamp(at)},
		done:  func(p *Payment) bool { return p.Holder() == holder && p.SettleSent() }})
	return err
}

// SettleDelivered records, in one write, that holder's pending claim settled
// with txHash and that its content is being served. ErrTxHashConflict when
// another row holds txHash; ErrNotPending when the row is no longer pending (the
// reconciler resolved it meanwhile).
func (l *Ledger) SettleDelivered(ctx context.Context, id, holder, txHash string, mock bool, at time.Time) error {
	_, err := l.apply(ctx, write{id: id, cond: q().Eq("status", StatusPending).Eq("lease_by", holder),
		patch: map[string]any{"status": StatusSettled, "mock": mock, "error": nil, "tx_hash": strings.ToLower(txHash),
			"delivered_at": stamp(at), "delivered_by": holder},
		done: func(p *Payment) bool { return p.Status == StatusSettled && p.DeliveredTo() == holder }})
	return err
}

// LeaseDelivery makes holder the one presentation re-delivering a settled,
// undelivered row, until until. Taken before the paid handler runs, so
// concurrent re-presentations (in any instance) run it once. ErrNotPending when
// the row is delivered, not settled, or leased to another holder until after now.
func (l *Ledger) LeaseDelivery(ctx context.Context, id, holder string, until, now time.Time) error {
	_, err := l.apply(ctx, write{id: id,
		cond:  q().Eq("status", StatusSettled).IsNull("delivered_at").Lt("lease_until", stamp(now)),
		patch: map[string]any{"lease_by": holder, "lease_until": stamp(until)},
		done:  func(p *Payment) bool { return p.Holder() == holder && p.DeliveredAt == nil }})
	return err
}

// EndLease ends holder's lease at at: its presentation is done with the row
// without delivering it (a 202 answer after the settlement was sent, or a paid
// handler that failed a re-delivery), so the next presentation need not wait
// for the lease to run out.
func (l *Ledger) EndLease(ctx context.Context, id, holder string, at time.Time) error {
	_, err := l.apply(ctx, write{id: id, cond: q().IsNull("delivered_at").Eq("lease_by", holder),
		patch: map[string]any{"lease_until": stamp(at)},
		done: func(p *Payment) bool {
			return p.Holder() != holder || p.LeaseUntil == nil || !p.LeaseUntil.After(at)
		}})
	return err
}

// Deliver marks a settled, undelivered row delivered by holder, who must hold
// its delivery lease (LeaseDelivery, or the claim of a row the reconciler
// settled meanwhile). ErrNotPending when it was delivered already, or another
// presentation holds it: exactly one caller wins.
func (l *Ledger) Deliver(ctx context.Context, id, holder string, at time.Time) error {
	_, err := l.apply(ctx, write{id: id,
		cond:  q().Eq("status", StatusSettled).IsNull("delivered_at").Eq("lease_by", holder),
		patch: map[string]any{"delivered_at": stamp(at), "delivered_by": holder},
		done:  func(p *Payment) bool { return p.DeliveredTo() == holder }})
	return err
}

// Fail marks a pending row failed with a reason.
func (l *Ledger) Fail(ctx context.Context, id, reason string) error {
	return l.resolve(ctx, id, StatusFailed, map[string]any{"error": reason})
}

// Release gives holder's pending claim back: nothing was settled, and the same
// authorization may be presented again. ErrNotPending when holder no longer
// holds it.
func (l *Ledger) Release(ctx context.Context, id, holder, reason string) error {
	_, err := l.apply(ctx, write{id: id, cond: q().Eq("status", StatusPending).Eq("lease_by", holder),
		patch: map[string]any{"status": StatusReleased, "error": reason, "tx_hash": nil},
		done:  func(p *Payment) bool { return p.Status == StatusReleased && p.Holder() == holder }})
	return err
}

// Review moves a pending row to needs_review (money may have moved; a person decides).
func (l *Ledger) Review(ctx context.Context, id, reason string) error {
	return l.resolve(ctx, id, StatusNeedsReview, map[string]any{"error": reason})
}

func (l *Ledger) reclaim(ctx context.Context, id string, c Claim, cond *insforge.Query) (*Payment, error) {
	if c.Holder == "" {
		c.Holder = NewHolder()
	}
	return l.apply(ctx, write{id: id, cond: cond, patch: renewPatch(c),
		done: func(p *Payment) bool { return p.Status == StatusPending && p.Holder() == c.Holder }})
}

// Reclaim turns a released row back into a pending claim for c (the same
// authorization, possibly for another offer of ours). ErrNotPending when it is
// not released anymore (a concurrent presentation won).
func (l *Ledger) Reclaim(ctx context.Context, id string, c Claim) (*Payment, error) {
	return l.reclaim(ctx, id, c, q().Eq("status", StatusReleased))
}

// TakeOver makes c's holder the holder of a pending claim whose holder never
// sent the settlement and whose lease ended before now (its presentation died,
// or lost the answer to its own claim). ErrNotPending when the row is no longer
// takeable.
func (l *Ledger) TakeOver(ctx context.Context, id string, c Claim, now time.Time) (*Payment, error) {
	return l.reclaim(ctx, id, c, q().Eq("status", StatusPending).IsNull("settle_sent_at").Lt("lease_until", stamp(now)))
}

// RecordTx stores the transaction of a row whose settlement is unconfirmed.
func (l *Ledger) RecordTx(ctx context.Context, id, txHash string) error {
	tx := strings.ToLower(txHash)
	_, err := l.apply(ctx, write{id: id, cond: q().Eq("status", StatusPending), patch: map[string]any{"tx_hash": tx},
		done: func(p *Payment) bool { return p.Tx() == tx }})
	return err
}

// Confirm records that the reconciler found on-chain evidence for a settled row.
func (l *Ledger) Confirm(ctx context.Context, id string, at time.Time) error {
	_, err := l.apply(ctx, write{id: id, cond: q().Eq("status", StatusSettled), patch: map[string]any{"confirmed_at": stamp(at)},
		done: func(p *Payment) bool { return p.ConfirmedAt != nil }})
	return err
}

// Demote moves a settled row whose settlement the chain contradicts to status
// (reverted, needs_review, cancelled) with a reason.
func (l *Ledger) Demote(ctx context.Context, id, status, reason string) error {
	_, err := l.apply(ctx, write{id: id, cond: q().Eq("status", StatusSettled),
		patch: map[string]any{"status": status, "error": reason}, done: statusIs(status)})
	return err
}

// Mark moves a pending row to status (needs_review, cancelled, reverted) with a reason.
func (l *Ledger) Mark(ctx context.Context, id, status, reason string) error {
	return l.resolve(ctx, id, status, map[string]any{"error": reason})
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
	p, err := first[Payment](ctx, l, Table, insforge.NewQuery().Eq("id", id), "get payment")
	if err == nil && p == nil {
		return nil, fmt.Errorf("ledger: payment %s not found", id)
	}
	return p, err
}
