// Package inmem is the x402 payment ledger held in memory: the same rows,
// conditional writes, UNIQUE keys, checks and errors as the PostgreSQL ledger
// (shared/ledger over infra/migrations), for tests of the money path that do
// not need a database. shared/ledger/ledgertest.Conformance holds both to one
// behaviour. A write here either applies or not: no answer is ever lost, so
// the re-reads the PostgreSQL ledger does after a lost answer have nothing to
// do (ledgertest.Faults injects those failures per call).
package inmem

import (
	"context"
	"crypto/rand"
	"fmt"
	"math/big"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/insforge/edge-functions-go/shared/ledger"
)

// Ledger is a concurrency-safe in-memory ledger. The zero value is not
// usable; call New.
type Ledger struct {
	// Now is the database's clock (created_at, updated_at, the default lease);
	// time.Now unless set before first use.
	Now func() time.Time

	mu   sync.Mutex
	rows []*ledger.Payment // insertion order
	byID map[string]*ledger.Payment
}

// New returns an empty ledger.
func New() *Ledger { return &Ledger{Now: time.Now, byID: map[string]*ledger.Payment{}} }

// amountRe is the canonical check of migration 0003.
var amountRe = regexp.MustCompile(`^[0-9]{1,78}$`)

// now is the database clock at PostgreSQL's precision (microseconds).
func (l *Ledger) now() time.Time { return pgTime(l.Now()) }

func pgTime(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

func ptr[T any](v T) *T { return &v }

func unavailable(ctx context.Context, what string) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("%w: %s: %w", ledger.ErrUnavailable, what, err)
	}
	return nil
}

func newID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}

func sameKey(p *ledger.Payment, k ledger.Key) bool {
	return p.Network == k.Network && p.Asset == strings.ToLower(k.Asset) &&
		p.PayerAddress == strings.ToLower(k.Payer) && p.Nonce == strings.ToLower(k.Nonce)
}

func (l *Ledger) find(k ledger.Key) *ledger.Payment {
	for _, p := range l.rows {
		if sameKey(p, k) {
			return p
		}
	}
	return nil
}

// Claim inserts a pending row held by c.Holder until c.LeaseUntil (the
// insert's time when zero, the column's default). An authorization claimed
// before returns its row with replay=true unless c.Holder holds it.
func (l *Ledger) Claim(ctx context.Context, c ledger.Claim) (*ledger.Payment, bool, error) {
	if err := unavailable(ctx, "claim"); err != nil {
		return nil, false, err
	}
	if c.Holder == "" {
		c.Holder = ledger.NewHolder()
	}
	if !amountRe.MatchString(c.Amount) {
		return nil, false, fmt.Errorf("%w: claim: amount %q violates x402_payments_canonical_check", ledger.ErrUnavailable, c.Amount)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	key := ledger.Key{Network: c.Network, Asset: c.Asset, Payer: c.PayerAddress, Nonce: c.Nonce}
	if p := l.find(key); p != nil {
		cp := *p
		return &cp, p.Holder() != c.Holder, nil
	}
	now := l.now()
	row := c.Row()
	p := &row
	p.ID, p.CreatedAt, p.UpdatedAt = newID(), now, ptr(now)
	if c.LeaseUntil.IsZero() {
		p.LeaseUntil = ptr(now) // the column's default
	} else {
		p.LeaseUntil = ptr(pgTime(c.LeaseUntil))
	}
	l.rows = append(l.rows, p)
	l.byID[p.ID] = p
	cp := *p
	return &cp, false, nil
}

// Lookup returns the row of an authorization, or nil when it was never claimed.
func (l *Ledger) Lookup(ctx context.Context, k ledger.Key) (*ledger.Payment, error) {
	if err := unavailable(ctx, "look up payment"); err != nil {
		return nil, err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if p := l.find(k); p != nil {
		cp := *p
		return &cp, nil
	}
	return nil, nil
}

// Get returns one row with every column.
func (l *Ledger) Get(ctx context.Context, id string) (*ledger.Payment, error) {
	if err := unavailable(ctx, "get payment"); err != nil {
		return nil, err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	p, ok := l.byID[id]
	if !ok {
		return nil, fmt.Errorf("ledger: payment %s not found", id)
	}
	cp := *p
	return &cp, nil
}

// update is one conditional write: applied to the row id when cond holds
// (ErrNotPending otherwise, as an UPDATE matching no row), under the UNIQUE
// tx_hash and the status CHECK; updated_at is touched as by the trigger.
func (l *Ledger) update(ctx context.Context, id string, cond func(*ledger.Payment) bool, patch func(*ledger.Payment)) error {
	_, err := l.updated(ctx, id, cond, patch)
	return err
}

// updated is update returning the row as written.
func (l *Ledger) updated(ctx context.Context, id string, cond func(*ledger.Payment) bool, patch func(*ledger.Payment)) (*ledger.Payment, error) {
	if err := unavailable(ctx, "update payment "+id); err != nil {
		return nil, err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	p, ok := l.byID[id]
	if !ok || !cond(p) {
		return nil, ledger.ErrNotPending
	}
	next := *p
	patch(&next)
	if !slices.Contains(ledger.Statuses, next.Status) {
		return nil, fmt.Errorf("%w: update payment %s: status %q violates x402_payments_status_check", ledger.ErrUnavailable, id, next.Status)
	}
	if tx := next.Tx(); tx != "" && tx != p.Tx() {
		for _, o := range l.rows {
			if o.ID != id && o.Tx() == tx {
				return nil, ledger.ErrTxHashConflict
			}
		}
	}
	next.UpdatedAt = ptr(l.now())
	*p = next
	return &next, nil
}

func isPending(p *ledger.Payment) bool { return p.Status == ledger.StatusPending }

func holds(holder string) func(*ledger.Payment) bool {
	return func(p *ledger.Payment) bool { return p.Holder() == holder }
}

func all(conds ...func(*ledger.Payment) bool) func(*ledger.Payment) bool {
	return func(p *ledger.Payment) bool {
		for _, c := range conds {
			if !c(p) {
				return false
			}
		}
		return true
	}
}

func status(s string) func(*ledger.Payment) bool {
	return func(p *ledger.Payment) bool { return p.Status == s }
}

func undelivered(p *ledger.Payment) bool { return p.DeliveredAt == nil }

// leaseBefore is lease_until < now (strict, as SQL's lt; NULL never matches).
func leaseBefore(now time.Time) func(*ledger.Payment) bool {
	now = pgTime(now)
	return func(p *ledger.Payment) bool { return p.LeaseUntil != nil && p.LeaseUntil.Before(now) }
}

func resolve(status string, errText *string) func(*ledger.Payment) {
	return func(p *ledger.Payment) { p.Status, p.Error = status, errText }
}

// Settle marks a pending row settled (the reconciler's path).
func (l *Ledger) Settle(ctx context.Context, id, txHash string, mock bool) error {
	return l.update(ctx, id, isPending, func(p *ledger.Payment) {
		p.Status, p.Mock, p.Error = ledger.StatusSettled, mock, nil
		if txHash != "" {
			p.TxHash = ptr(strings.ToLower(txHash))
		} else {
			p.Error = ptr("settled on-chain; transaction hash unknown")
		}
	})
}

// SendSettle records that holder is about to send the settlement of its claim.
func (l *Ledger) SendSettle(ctx context.Context, id, holder string, at time.Time) error {
	return l.update(ctx, id, all(isPending, holds(holder), func(p *ledger.Payment) bool { return p.SettleSentAt == nil }),
		func(p *ledger.Payment) { p.SettleSentAt = ptr(pgTime(at)) })
}

// SettleDelivered records that holder's claim settled with txHash and is being served.
func (l *Ledger) SettleDelivered(ctx context.Context, id, holder, txHash string, mock bool, at time.Time) error {
	return l.update(ctx, id, all(isPending, holds(holder)), func(p *ledger.Payment) {
		p.Status, p.Mock, p.Error, p.TxHash = ledger.StatusSettled, mock, nil, ptr(strings.ToLower(txHash))
		p.DeliveredAt, p.DeliveredBy = ptr(pgTime(at)), ptr(holder)
	})
}

// LeaseDelivery makes holder the one presentation re-delivering a settled,
// undelivered row whose lease ended before now.
func (l *Ledger) LeaseDelivery(ctx context.Context, id, holder string, until, now time.Time) error {
	return l.update(ctx, id, all(status(ledger.StatusSettled), undelivered, leaseBefore(now)),
		func(p *ledger.Payment) { p.LeaseBy, p.LeaseUntil = ptr(holder), ptr(pgTime(until)) })
}

// EndLease ends holder's lease on an undelivered row at at.
func (l *Ledger) EndLease(ctx context.Context, id, holder string, at time.Time) error {
	return l.update(ctx, id, all(undelivered, holds(holder)),
		func(p *ledger.Payment) { p.LeaseUntil = ptr(pgTime(at)) })
}

// Deliver marks a settled, undelivered row delivered by its lease holder.
func (l *Ledger) Deliver(ctx context.Context, id, holder string, at time.Time) error {
	return l.update(ctx, id, all(status(ledger.StatusSettled), undelivered, holds(holder)),
		func(p *ledger.Payment) { p.DeliveredAt, p.DeliveredBy = ptr(pgTime(at)), ptr(holder) })
}

// Fail marks a pending row failed with a reason.
func (l *Ledger) Fail(ctx context.Context, id, reason string) error {
	return l.update(ctx, id, isPending, resolve(ledger.StatusFailed, ptr(reason)))
}

// Release gives holder's pending claim back.
func (l *Ledger) Release(ctx context.Context, id, holder, reason string) error {
	return l.update(ctx, id, all(isPending, holds(holder)), func(p *ledger.Payment) {
		p.Status, p.Error, p.TxHash = ledger.StatusReleased, ptr(reason), nil
	})
}

// Review moves a pending row to needs_review.
func (l *Ledger) Review(ctx context.Context, id, reason string) error {
	return l.update(ctx, id, isPending, resolve(ledger.StatusNeedsReview, ptr(reason)))
}

func (l *Ledger) reclaim(ctx context.Context, id string, c ledger.Claim, cond func(*ledger.Payment) bool) (*ledger.Payment, error) {
	if c.Holder == "" {
		c.Holder = ledger.NewHolder()
	}
	c.LeaseUntil = pgTime(c.LeaseUntil)
	return l.updated(ctx, id, cond, c.Renew)
}

// Reclaim turns a released row back into a pending claim for c.
func (l *Ledger) Reclaim(ctx context.Context, id string, c ledger.Claim) (*ledger.Payment, error) {
	if !amountRe.MatchString(c.Amount) {
		return nil, fmt.Errorf("%w: update payment %s: amount %q violates x402_payments_canonical_check", ledger.ErrUnavailable, id, c.Amount)
	}
	return l.reclaim(ctx, id, c, status(ledger.StatusReleased))
}

// TakeOver takes a pending claim whose holder never sent the settlement and
// whose lease ended before now.
func (l *Ledger) TakeOver(ctx context.Context, id string, c ledger.Claim, now time.Time) (*ledger.Payment, error) {
	if !amountRe.MatchString(c.Amount) {
		return nil, fmt.Errorf("%w: update payment %s: amount %q violates x402_payments_canonical_check", ledger.ErrUnavailable, id, c.Amount)
	}
	return l.reclaim(ctx, id, c, all(isPending, func(p *ledger.Payment) bool { return p.SettleSentAt == nil }, leaseBefore(now)))
}

// RecordTx stores the transaction of a still-pending row.
func (l *Ledger) RecordTx(ctx context.Context, id, txHash string) error {
	return l.update(ctx, id, isPending, func(p *ledger.Payment) { p.TxHash = ptr(strings.ToLower(txHash)) })
}

// Confirm records on-chain evidence for a settled row.
func (l *Ledger) Confirm(ctx context.Context, id string, at time.Time) error {
	return l.update(ctx, id, status(ledger.StatusSettled), func(p *ledger.Payment) { p.ConfirmedAt = ptr(pgTime(at)) })
}

// Demote moves a settled row the chain contradicts to status with a reason.
func (l *Ledger) Demote(ctx context.Context, id, to, reason string) error {
	return l.update(ctx, id, status(ledger.StatusSettled), resolve(to, ptr(reason)))
}

// Mark moves a pending row to status with a reason.
func (l *Ledger) Mark(ctx context.Context, id, to, reason string) error {
	return l.update(ctx, id, isPending, resolve(to, ptr(reason)))
}

// selectRows copies the rows keep accepts, sorted by less, at most limit.
func (l *Ledger) selectRows(keep func(*ledger.Payment) bool, less func(a, b *ledger.Payment) int, limit int) []ledger.Payment {
	l.mu.Lock()
	defer l.mu.Unlock()
	var picked []*ledger.Payment
	for _, p := range l.rows {
		if keep(p) {
			picked = append(picked, p)
		}
	}
	slices.SortStableFunc(picked, less)
	out := []ledger.Payment{}
	for _, p := range picked {
		if limit >= 0 && len(out) == limit {
			break
		}
		out = append(out, *p)
	}
	return out
}

// Unconfirmed lists real settled rows not yet confirmed and last changed
// before before, oldest first.
func (l *Ledger) Unconfirmed(ctx context.Context, before time.Time, limit int) ([]ledger.Payment, error) {
	if err := unavailable(ctx, "list unconfirmed"); err != nil {
		return nil, err
	}
	before = pgTime(before)
	return l.selectRows(func(p *ledger.Payment) bool {
		return p.Status == ledger.StatusSettled && !p.Mock && p.ConfirmedAt == nil && p.UpdatedAt.Before(before)
	}, func(a, b *ledger.Payment) int { return a.UpdatedAt.Compare(*b.UpdatedAt) }, limit), nil
}

// Pending lists pending rows created before before, oldest first.
func (l *Ledger) Pending(ctx context.Context, before time.Time, limit int) ([]ledger.Payment, error) {
	if err := unavailable(ctx, "list pending"); err != nil {
		return nil, err
	}
	before = pgTime(before)
	return l.selectRows(func(p *ledger.Payment) bool {
		return p.Status == ledger.StatusPending && p.CreatedAt.Before(before)
	}, func(a, b *ledger.Payment) int { return a.CreatedAt.Compare(b.CreatedAt) }, limit), nil
}

// List returns the latest n rows, newest first, public columns only.
func (l *Ledger) List(ctx context.Context, n int) ([]ledger.Payment, error) {
	if err := unavailable(ctx, "list"); err != nil {
		return nil, err
	}
	rows := l.selectRows(func(*ledger.Payment) bool { return true },
		func(a, b *ledger.Payment) int { return b.CreatedAt.Compare(a.CreatedAt) }, n)
	for i := range rows {
		ledger.Public(&rows[i])
	}
	return rows, nil
}

type tally struct {
	requests int64
	revenue  big.Int
	latest   *time.Time
}

func (t *tally) add(p *ledger.Payment) {
	t.requests++
	if !p.Mock {
		a, _ := new(big.Int).SetString(p.Amount, 10)
		t.revenue.Add(&t.revenue, a)
	}
	if t.latest == nil || p.CreatedAt.After(*t.latest) {
		t.latest = ptr(p.CreatedAt)
	}
}

// Stats returns totals over settled rows, as x402_payment_stats() and
// x402_payment_asset_stats(): requests count mock rows, revenue does not.
func (l *Ledger) Stats(ctx context.Context) (ledger.Stats, error) {
	if err := unavailable(ctx, "stats"); err != nil {
		return ledger.Stats{}, err
	}
	settled := l.selectRows(status(ledger.StatusSettled), func(a, b *ledger.Payment) int { return 0 }, -1)
	var total tally
	endpoints, assets := map[string]*tally{}, map[[2]string]*tally{}
	for i := range settled {
		p := &settled[i]
		total.add(p)
		if endpoints[p.Endpoint] == nil {
			endpoints[p.Endpoint] = &tally{}
		}
		endpoints[p.Endpoint].add(p)
		k := [2]string{p.Network, p.Asset}
		if assets[k] == nil {
			assets[k] = &tally{}
		}
		assets[k].add(p)
	}
	s := ledger.Stats{TotalRequests: total.requests, TotalRevenue: total.revenue.String(), LatestPayment: total.latest,
		Endpoints: []ledger.EndpointStats{}, Assets: []ledger.AssetStats{}}
	for e, t := range endpoints {
		s.Endpoints = append(s.Endpoints, ledger.EndpointStats{Endpoint: e, Requests: t.requests, Revenue: t.revenue.String(), LatestPayment: t.latest})
	}
	slices.SortFunc(s.Endpoints, func(a, b ledger.EndpointStats) int { return strings.Compare(a.Endpoint, b.Endpoint) })
	for k, t := range assets {
		s.Assets = append(s.Assets, ledger.AssetStats{Network: k[0], Asset: k[1], Requests: t.requests, Revenue: t.revenue.String(), LatestPayment: t.latest})
	}
	slices.SortFunc(s.Assets, func(a, b ledger.AssetStats) int {
		if c := strings.Compare(a.Network, b.Network); c != 0 {
			return c
		}
		return strings.Compare(a.Asset, b.Asset)
	})
	return s, nil
}
