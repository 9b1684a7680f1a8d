package ledgertest

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/insforge/edge-functions-go/shared/internal/faultnet"
	"github.com/insforge/edge-functions-go/shared/ledger"
)

// Faults is a Ledger whose armed calls fail in faultnet's three ways at the
// ledger's interface, as a ledger reports a call it could not resolve:
// Drop fails it before it acts, LoseReply lets it act and then fails it, Hang
// holds it until its deadline (CallTimeout, as the PostgreSQL ledger's), lets
// it act late and fails it with the deadline. Every failure wraps
// ledger.ErrUnavailable. Transport faults that the PostgreSQL ledger resolves
// itself (a lost reply re-read) are shared/internal/faultnet's.
type Faults struct {
	Ledger
	// CallTimeout bounds each call (default 300 ms).
	CallTimeout time.Duration

	mu     sync.Mutex
	faults map[string]*fault
}

// Match tells whether a call of method (the Ledger method's name) is the one
// to fail.
type Match func(method string) bool

// Method matches calls of the named methods.
func Method(names ...string) Match {
	return func(m string) bool {
		for _, n := range names {
			if n == m {
				return true
			}
		}
		return false
	}
}

type fault struct {
	match       Match
	mode        faultnet.Mode
	left, fired int
}

// NewFaults wraps l.
func NewFaults(l Ledger) *Faults { return &Faults{Ledger: l, CallTimeout: 300 * time.Millisecond} }

// Arm fails the next times calls matching m with mode, under name.
func (f *Faults) Arm(name string, m Match, mode faultnet.Mode, times int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.faults == nil {
		f.faults = map[string]*fault{}
	}
	f.faults[name] = &fault{match: m, mode: mode, left: times}
}

// Fired returns how many calls the fault named name failed.
func (f *Faults) Fired(name string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	if x := f.faults[name]; x != nil {
		return x.fired
	}
	return 0
}

func (f *Faults) pick(method string) faultnet.Mode {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, x := range f.faults {
		if x.left > 0 && x.match(method) {
			x.left--
			x.fired++
			return x.mode
		}
	}
	return 0
}

// call runs act as method, failing it as armed.
func (f *Faults) call(ctx context.Context, method string, act func(context.Context) error) error {
	switch f.pick(method) {
	case faultnet.Drop:
		return fmt.Errorf("%w: %s: %w", ledger.ErrUnavailable, method, faultnet.ErrInjected)
	case faultnet.LoseReply:
		_ = act(ctx)
		return fmt.Errorf("%w: %s: %w", ledger.ErrUnavailable, method, faultnet.ErrInjected)
	case faultnet.Hang:
		cctx, cancel := context.WithTimeout(ctx, f.CallTimeout)
		defer cancel()
		<-cctx.Done()
		_ = act(context.WithoutCancel(ctx))
		return fmt.Errorf("%w: %s: %w", ledger.ErrUnavailable, method, cctx.Err())
	}
	return act(ctx)
}

func (f *Faults) row(ctx context.Context, method string, act func(context.Context) (*ledger.Payment, error)) (*ledger.Payment, error) {
	var p *ledger.Payment
	err := f.call(ctx, method, func(ctx context.Context) (err error) { p, err = act(ctx); return err })
	if err != nil {
		return nil, err
	}
	return p, nil
}

func (f *Faults) rows(ctx context.Context, method string, act func(context.Context) ([]ledger.Payment, error)) ([]ledger.Payment, error) {
	var ps []ledger.Payment
	err := f.call(ctx, method, func(ctx context.Context) (err error) { ps, err = act(ctx); return err })
	if err != nil {
		return nil, err
	}
	return ps, nil
}

func (f *Faults) Claim(ctx context.Context, c ledger.Claim) (*ledger.Payment, bool, error) {
	var p *ledger.Payment
	var replay bool
	err := f.call(ctx, "Claim", func(ctx context.Context) (err error) { p, replay, err = f.Ledger.Claim(ctx, c); return err })
	if err != nil {
		return nil, false, err
	}
	return p, replay, nil
}

func (f *Faults) Lookup(ctx context.Context, k ledger.Key) (*ledger.Payment, error) {
	return f.row(ctx, "Lookup", func(ctx context.Context) (*ledger.Payment, error) { return f.Ledger.Lookup(ctx, k) })
}

func (f *Faults) Get(ctx context.Context, id string) (*ledger.Payment, error) {
	return f.row(ctx, "Get", func(ctx context.Context) (*ledger.Payment, error) { return f.Ledger.Get(ctx, id) })
}

func (f *Faults) Reclaim(ctx context.Context, id string, c ledger.Claim) (*ledger.Payment, error) {
	return f.row(ctx, "Reclaim", func(ctx context.Context) (*ledger.Payment, error) { return f.Ledger.Reclaim(ctx, id, c) })
}

func (f *Faults) TakeOver(ctx context.Context, id string, c ledger.Claim, now time.Time) (*ledger.Payment, error) {
	return f.row(ctx, "TakeOver", func(ctx context.Context) (*ledger.Payment, error) { return f.Ledger.TakeOver(ctx, id, c, now) })
}

func (f *Faults) Release(ctx context.Context, id, holder, reason string) error {
	return f.call(ctx, "Release", func(ctx context.Context) error { return f.Ledger.Release(ctx, id, holder, reason) })
}

func (f *Faults) SendSettle(ctx context.Context, id, holder string, at time.Time) error {
	return f.call(ctx, "SendSettle", func(ctx context.Context) error { return f.Ledger.SendSettle(ctx, id, holder, at) })
}

func (f *Faults) SettleDelivered(ctx context.Context, id, holder, txHash string, mock bool, at time.Time) error {
	return f.call(ctx, "SettleDelivered", func(ctx context.Context) error {
		return f.Ledger.SettleDelivered(ctx, id, holder, txHash, mock, at)
	})
}

func (f *Faults) LeaseDelivery(ctx context.Context, id, holder string, until, now time.Time) error {
	return f.call(ctx, "LeaseDelivery", func(ctx context.Context) error { return f.Ledger.LeaseDelivery(ctx, id, holder, until, now) })
}

func (f *Faults) EndLease(ctx context.Context, id, holder string, at time.Time) error {
	return f.call(ctx, "EndLease", func(ctx context.Context) error { return f.Ledger.EndLease(ctx, id, holder, at) })
}

func (f *Faults) Deliver(ctx context.Context, id, holder string, at time.Time) error {
	return f.call(ctx, "Deliver", func(ctx context.Context) error { return f.Ledger.Deliver(ctx, id, holder, at) })
}

func (f *Faults) Settle(ctx context.Context, id, txHash string, mock bool) error {
	return f.call(ctx, "Settle", func(ctx context.Context) error { return f.Ledger.Settle(ctx, id, txHash, mock) })
}

func (f *Faults) Fail(ctx context.Context, id, reason string) error {
	return f.call(ctx, "Fail", func(ctx context.Context) error { return f.Ledger.Fail(ctx, id, reason) })
}

func (f *Faults) Review(ctx context.Context, id, reason string) error {
	return f.call(ctx, "Review", func(ctx context.Context) error { return f.Ledger.Review(ctx, id, reason) })
}

func (f *Faults) RecordTx(ctx context.Context, id, txHash string) error {
	return f.call(ctx, "RecordTx", func(ctx context.Context) error { return f.Ledger.RecordTx(ctx, id, txHash) })
}

func (f *Faults) Confirm(ctx context.Context, id string, at time.Time) error {
	return f.call(ctx, "Confirm", func(ctx context.Context) error { return f.Ledger.Confirm(ctx, id, at) })
}

func (f *Faults) Demote(ctx context.Context, id, status, reason string) error {
	return f.call(ctx, "Demote", func(ctx context.Context) error { return f.Ledger.Demote(ctx, id, status, reason) })
}

func (f *Faults) Mark(ctx context.Context, id, status, reason string) error {
	return f.call(ctx, "Mark", func(ctx context.Context) error { return f.Ledger.Mark(ctx, id, status, reason) })
}

func (f *Faults) Unconfirmed(ctx context.Context, before time.Time, limit int) ([]ledger.Payment, error) {
	return f.rows(ctx, "Unconfirmed", func(ctx context.Context) ([]ledger.Payment, error) { return f.Ledger.Unconfirmed(ctx, before, limit) })
}

func (f *Faults) Pending(ctx context.Context, before time.Time, limit int) ([]ledger.Payment, error) {
	return f.rows(ctx, "Pending", func(ctx context.Context) ([]ledger.Payment, error) { return f.Ledger.Pending(ctx, before, limit) })
}

func (f *Faults) List(ctx context.Context, n int) ([]ledger.Payment, error) {
	return f.rows(ctx, "List", func(ctx context.Context) ([]ledger.Payment, error) { return f.Ledger.List(ctx, n) })
}

func (f *Faults) Stats(ctx context.Context) (ledger.Stats, error) {
	var s ledger.Stats
	err := f.call(ctx, "Stats", func(ctx context.Context) (err error) { s, err = f.Ledger.Stats(ctx); return err })
	if err != nil {
		return ledger.Stats{}, err
	}
	return s, nil
}

var _ Ledger = (*Faults)(nil)
