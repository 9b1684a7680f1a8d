package x402reconcile_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"io"
	"log/slog"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/ethclient"

	"github.com/insforge/edge-functions-go/shared/facilitator"
	"github.com/insforge/edge-functions-go/shared/facilitator/okxtest"
	"github.com/insforge/edge-functions-go/shared/insforge/insforgetest"
	"github.com/insforge/edge-functions-go/shared/ledger"
	"github.com/insforge/edge-functions-go/shared/metrics"
	"github.com/insforge/edge-functions-go/shared/x402/onchain"
	"github.com/insforge/edge-functions-go/shared/x402/onchain/rpctest"
	"github.com/insforge/edge-functions-go/shared/x402reconcile"
)

func TestMain(m *testing.M) { insforgetest.Main(m) }

const asset = "0x4ae46a509f6b1d9056937ba4500cb143933d2dc8"

func hex32() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return "0x" + hex.EncodeToString(b)
}

type fixture struct {
	t      *testing.T
	stack  *insforgetest.Stack
	ledger *ledger.Ledger
	okx    *okxtest.Server
	node   *rpctest.Node
	fac    *facilitator.OKX
	chain  x402reconcile.Chain
}

func newFixture(t *testing.T) *fixture {
	f := &fixture{t: t, stack: insforgetest.New(t), okx: okxtest.New(t, facilitator.APIV2)}
	f.ledger = ledger.New(f.stack.ServiceClient())
	f.node = rpctest.New(t, 196, common.HexToAddress(asset), "Global Dollar", "1")
	c, err := ethclient.Dial(f.node.URL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	f.chain = onchain.Reader{Caller: c}
	f.fac, err = facilitator.NewOKX(facilitator.OKXOptions{BaseURL: f.okx.URL, APIKey: okxtest.Key, SecretKey: okxtest.Secret, Passphrase: okxtest.Passphrase})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// pending inserts an old pending row (claimed age ago) with an optional tx.
func (f *fixture) pending(age time.Duration, validBefore time.Time, tx string, mock bool) *ledger.Payment {
	ctx := context.Background()
	row, _, err := f.ledger.Claim(ctx, ledger.Claim{
		PayerAddress: "0x" + hex32()[2:42], Endpoint: "/x402/report", Amount: "1", Network: "eip155:196",
		Asset: asset, PayTo: "0x209693bc6afc0c5328ba36faf03c514ef312287c", Nonce: hex32(),
		ValidBefore: validBefore.Unix(), Mock: mock,
	})
	if err != nil {
		f.t.Fatal(err)
	}
	if tx != "" {
		if err := f.ledger.RecordTx(ctx, row.ID, tx); err != nil {
			f.t.Fatal(err)
		}
	}
	if _, err := f.stack.Pool.Exec(ctx, `UPDATE x402_payments SET created_at = now() - $2::interval WHERE id = $1`,
		row.ID, age.String()); err != nil {
		f.t.Fatal(err)
	}
	return row
}

func (f *fixture) row(id string) ledger.Payment {
	p, err := f.ledger.Get(context.Background(), id)
	if err != nil {
		f.t.Fatal(err)
	}
	return *p
}

func word(a common.Address) common.Hash { return common.BytesToHash(a.Bytes()) }

// transferLogs are the logs a real transferWithAuthorization emits for row.
func (f *fixture) transferLogs(row *ledger.Payment) []types.Log {
	from, to := common.HexToAddress(row.PayerAddress), common.HexToAddress(row.PayTo)
	v, _ := new(big.Int).SetString(row.Amount, 10)
	return []types.Log{
		f.node.Log([]common.Hash{onchain.TopicAuthorizationUsed, word(from), common.HexToHash(row.Nonce)}, nil),
		f.node.Log([]common.Hash{onchain.TopicTransfer, word(from), word(to)}, common.LeftPadBytes(v.Bytes(), 32)),
	}
}

func TestReconcilerSettlesOnlyOnTransferEvidence(t *testing.T) {
	f := newFixture(t)
	now := time.Now()
	old := 5 * time.Minute
	valid, expiredAt := now.Add(time.Minute), now.Add(-5*time.Minute)

	// Settle timed out with a hash; the transaction carries the transfer.
	txOK := hex32()
	byReceipt := f.pending(old, valid, txOK, false)
	f.node.Mine(common.HexToHash(txOK), 1, f.transferLogs(byReceipt)...)
	// The transaction reverted.
	txBad := hex32()
	reverted := f.pending(old, valid, txBad, false)
	f.node.Mine(common.HexToHash(txBad), 0)
	// USDG's quirk: the row's transaction succeeded but only emitted
	// AuthorizationAlreadyUsed; an earlier transaction holds the real transfer.
	txQuirk, txEarlier := hex32(), hex32()
	quirk := f.pending(old, valid, txQuirk, false)
	f.node.Mine(common.HexToHash(txEarlier), 1, f.transferLogs(quirk)...)
	f.node.Mine(common.HexToHash(txQuirk), 1, f.node.Log([]common.Hash{onchain.TopicAuthorizationAlreadyUsed,
		word(common.HexToAddress(quirk.PayerAddress)), common.HexToHash(quirk.Nonce)}, nil))
	// Ledger update lost after settle: no hash, the logs hold the transfer.
	txLogs := hex32()
	byLogs := f.pending(old, valid, "", false)
	f.node.Mine(common.HexToHash(txLogs), 1, f.transferLogs(byLogs)...)
	// The used bit without any transfer log: not revenue.
	bitOnly := f.pending(old, valid, "", false)
	f.node.MarkUsed(common.HexToAddress(bitOnly.PayerAddress), common.HexToHash(bitOnly.Nonce))
	// The payer cancelled the authorization.
	cancelled := f.pending(old, valid, "", false)
	f.node.MarkUsed(common.HexToAddress(cancelled.PayerAddress), common.HexToHash(cancelled.Nonce))
	f.node.Mine(common.HexToHash(hex32()), 1, f.node.Log([]common.Hash{onchain.TopicAuthorizationCanceled,
		word(common.HexToAddress(cancelled.PayerAddress)), common.HexToHash(cancelled.Nonce)}, nil))
	// Never settled and expired: can never move money now.
	expired := f.pending(old, expiredAt, "", false)
	// Unused but still valid: left alone.
	stillValid := f.pending(old, valid, "", false)
	// Too recent: may still be in flight in the paywall.
	recent := f.pending(0, valid, "", false)

	emf := &strings.Builder{}
	r := x402reconcile.New(x402reconcile.Config{After: 2 * time.Minute}, x402reconcile.Deps{Store: f.ledger, Facilitator: f.fac, Chain: f.chain,
		Metrics: metrics.New(emf, "x402-reconcile"), Logger: quietLog()})
	rep, err := r.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	// The one row left pending is stillValid, created `old` ago.
	if rep.OldestUnresolved < old || rep.OldestUnresolved > old+time.Minute {
		t.Fatalf("oldest unresolved = %s, want about %s", rep.OldestUnresolved, old)
	}
	rep.OldestUnresolved = 0
	want := x402reconcile.Report{Checked: 8, Settled: 3, Failed: 1, Unresolved: 1, NeedsReview: 1, Cancelled: 1, Reverted: 1}
	if rep != want {
		t.Fatalf("report %+v, want %+v", rep, want)
	}
	for _, c := range []struct {
		name   string
		row    *ledger.Payment
		status string
		tx     string
	}{
		{"by receipt", byReceipt, ledger.StatusSettled, txOK},
		{"reverted", reverted, ledger.StatusReverted, txBad},
		{"already-used quirk", quirk, ledger.StatusSettled, txEarlier},
		{"by logs", byLogs, ledger.StatusSettled, txLogs},
		{"authorizationState alone", bitOnly, ledger.StatusNeedsReview, ""},
		{"cancelled", cancelled, ledger.StatusCancelled, ""},
		{"expired", expired, ledger.StatusFailed, ""},
		{"still valid", stillValid, ledger.StatusPending, ""},
		{"recent", recent, ledger.StatusPending, ""},
	} {
		g := f.row(c.row.ID)
		if g.Status != c.status || g.Tx() != c.tx {
			t.Errorf("%s: status %s tx %q, want %s %q (error %q)", c.name, g.Status, g.Tx(), c.status, c.tx, g.ErrorText())
		}
	}
	for _, m := range []string{x402reconcile.MetricSettled, x402reconcile.MetricNeedsReview, x402reconcile.MetricCancelled,
		x402reconcile.MetricReverted, x402reconcile.MetricFailed, x402reconcile.MetricUnresolved} {
		if !strings.Contains(emf.String(), `"Name":"`+m+`"`) {
			t.Errorf("metric %s not emitted", m)
		}
	}

	// Idempotent: a second run changes nothing that was resolved.
	rep2, err := r.Run(context.Background())
	if err != nil || rep2.Settled+rep2.Failed+rep2.NeedsReview+rep2.Cancelled+rep2.Reverted != 0 {
		t.Fatalf("second run %+v, %v", rep2, err)
	}
}

func TestReconcilerConfirmsSettledRowsAndDemotesReverted(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	settle := func(tx string) *ledger.Payment {
		row := f.pending(0, time.Now().Add(time.Minute), "", false)
		if err := f.ledger.SettleDelivered(ctx, row.ID, row.Holder(), tx, false, time.Now()); err != nil {
			t.Fatal(err)
		}
		return row
	}
	txGood, txReverted, txNoTransfer := hex32(), hex32(), hex32()
	good, bad, empty := settle(txGood), settle(txReverted), settle(txNoTransfer)
	f.node.Mine(common.HexToHash(txGood), 1, f.transferLogs(good)...)
	f.node.Mine(common.HexToHash(txReverted), 0)
	f.node.Mine(common.HexToHash(txNoTransfer), 1)
	st, _ := f.ledger.Stats(ctx)
	if st.TotalRevenue != "3" {
		t.Fatalf("stats before %+v", st)
	}
	later := func() time.Time { return time.Now().Add(10 * time.Minute) }
	r := x402reconcile.New(x402reconcile.Config{After: 2 * time.Minute}, x402reconcile.Deps{Store: f.ledger, Chain: f.chain, Now: later, Logger: quietLog()})
	rep, err := r.Run(ctx)
	if err != nil || rep.Confirmed != 1 || rep.Reverted != 2 {
		t.Fatalf("report %+v, %v", rep, err)
	}
	if g := f.row(good.ID); g.Status != ledger.StatusSettled || g.ConfirmedAt == nil {
		t.Fatalf("good %+v", g)
	}
	for _, id := range []string{bad.ID, empty.ID} {
		if g := f.row(id); g.Status != ledger.StatusReverted {
			t.Fatalf("reverted %+v", g)
		}
	}
	if st, _ := f.ledger.Stats(ctx); st.TotalRevenue != "1" || st.TotalRequests != 1 {
		t.Fatalf("reverted rows still counted: %+v", st)
	}
	// Confirmed rows are not examined again.
	if rep, err := r.Run(ctx); err != nil || rep.Checked != 0 {
		t.Fatalf("second run %+v %v", rep, err)
	}
}

func TestReconcilerMarksAHashHeldByAnotherRowForReview(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	tx := hex32()
	first := f.pending(0, time.Now().Add(time.Minute), "", false)
	if err := f.ledger.SettleDelivered(ctx, first.ID, first.Holder(), tx, false, time.Now()); err != nil {
		t.Fatal(err)
	}
	// The second row's authorization "appears" in the same transaction.
	second := f.pending(5*time.Minute, time.Now().Add(time.Minute), "", false)
	f.node.Mine(common.HexToHash(tx), 1, append(f.transferLogs(first), f.transferLogs(second)...)...)
	r := x402reconcile.New(x402reconcile.Config{After: 2 * time.Minute}, x402reconcile.Deps{Store: f.ledger, Chain: f.chain, Logger: quietLog()})
	if _, err := r.Run(ctx); err != nil {
		t.Fatal(err)
	}
	if g := f.row(second.ID); g.Status != ledger.StatusNeedsReview || !strings.Contains(g.ErrorText(), "another payment") {
		t.Fatalf("second %+v", g)
	}
}

func quietLog() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func TestReconcilerWithoutRPCLeavesUndecidableRowsPending(t *testing.T) {
	f := newFixture(t)
	row := f.pending(10*time.Minute, time.Now().Add(-time.Hour), "", false)
	r := x402reconcile.New(x402reconcile.Config{After: time.Minute}, x402reconcile.Deps{Store: f.ledger, Facilitator: f.fac, Logger: quietLog()})
	rep, err := r.Run(context.Background())
	if err != nil || rep.Unresolved != 1 {
		t.Fatalf("report %+v, %v", rep, err)
	}
	if rep.OldestUnresolved < 10*time.Minute || rep.OldestUnresolved > 11*time.Minute {
		t.Fatalf("oldest unresolved = %s, want the row's age (10m)", rep.OldestUnresolved)
	}
	if g := f.row(row.ID); g.Status != ledger.StatusPending {
		t.Fatalf("row %+v", g)
	}
	if f.node.Calls("authorizationState") != 0 {
		t.Fatal("chain was called without being configured")
	}
}

func TestReconcilerClosesUnconfirmedMockRows(t *testing.T) {
	f := newFixture(t)
	row := f.pending(10*time.Minute, time.Now().Add(time.Hour), "", true)
	r := x402reconcile.New(x402reconcile.Config{After: time.Minute}, x402reconcile.Deps{Store: f.ledger, Facilitator: facilitator.Mock{}, Chain: f.chain, Logger: quietLog()})
	if rep, err := r.Run(context.Background()); err != nil || rep.Failed != 1 {
		t.Fatalf("report %+v, %v", rep, err)
	}
	if f.node.Calls("authorizationState") != 0 {
		t.Fatal("chain consulted for a mock row")
	}
	if g := f.row(row.ID); g.Status != ledger.StatusFailed {
		t.Fatalf("row %+v", g)
	}
}
