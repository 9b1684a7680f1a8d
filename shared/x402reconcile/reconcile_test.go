package x402reconcile_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"math/big"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/insforge/edge-functions-go/shared/facilitator"
	"github.com/insforge/edge-functions-go/shared/facilitator/okxtest"
	"github.com/insforge/edge-functions-go/shared/insforge/insforgetest"
	"github.com/insforge/edge-functions-go/shared/ledger"
	"github.com/insforge/edge-functions-go/shared/localchain"
	"github.com/insforge/edge-functions-go/shared/metrics"
	"github.com/insforge/edge-functions-go/shared/x402"
	"github.com/insforge/edge-functions-go/shared/x402/onchain"
	"github.com/insforge/edge-functions-go/shared/x402/onchain/onchaintest"
	"github.com/insforge/edge-functions-go/shared/x402reconcile"
)

func TestMain(m *testing.M) { insforgetest.Main(m) }

const payTo = "0x209693Bc6afc0C5328bA36FaF03C514EF312287C"

func hex32() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return "0x" + hex.EncodeToString(b)
}

// fixture is a ledger on real PostgreSQL and the local X Layer (Anvil).
type fixture struct {
	t      *testing.T
	stack  *insforgetest.Stack
	ledger *ledger.Ledger
	okx    *okxtest.Server
	chain  *localchain.Devnet
	reader *countingChain
	fac    *facilitator.OKX
}

// countingChain is the production reader, counting the calls that reach the node.
type countingChain struct {
	onchain.Reader
	calls atomic.Int64
}

func (c *countingChain) AuthorizationState(ctx context.Context, token, from common.Address, nonce common.Hash) (bool, error) {
	c.calls.Add(1)
	return c.Reader.AuthorizationState(ctx, token, from, nonce)
}

func (c *countingChain) TxEvidence(ctx context.Context, tx common.Hash, p onchain.Payment) (string, error) {
	c.calls.Add(1)
	return c.Reader.TxEvidence(ctx, tx, p)
}

func (c *countingChain) AuthorizationEvidence(ctx context.Context, p onchain.Payment, lookback uint64) (string, common.Hash, error) {
	c.calls.Add(1)
	return c.Reader.AuthorizationEvidence(ctx, p, lookback)
}

func newFixture(t *testing.T) *fixture {
	f := &fixture{t: t, stack: insforgetest.New(t), okx: okxtest.New(t, facilitator.APIV2), chain: onchaintest.New(t)}
	f.ledger = ledger.New(f.stack.ServiceClient())
	f.reader = &countingChain{Reader: onchain.Reader{Caller: f.chain.Client()}}
	var err error
	f.fac, err = facilitator.NewOKX(facilitator.OKXOptions{BaseURL: f.okx.URL, APIKey: okxtest.Key, SecretKey: okxtest.Secret, Passphrase: okxtest.Passphrase})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// authz is one payer's signed authorization on the devnet and its ledger row.
type authz struct {
	key   *ecdsa.PrivateKey
	token common.Address
	a     localchain.Authorization
	row   *ledger.Payment
}

// authorize funds a new payer with balance units of token and signs an
// authorization of 1000 units to payTo, valid until validBefore.
func (f *fixture) authorize(token common.Address, balance int64, validBefore time.Time) *authz {
	f.t.Helper()
	key, _ := crypto.GenerateKey()
	from := crypto.PubkeyToAddress(key.PublicKey)
	if balance > 0 {
		onchaintest.Mint(f.t, f.chain, token, from, balance)
	}
	m := x402.TransferMessage{From: from, To: common.HexToAddress(payTo), Value: big.NewInt(1000),
		ValidAfter: big.NewInt(0), ValidBefore: big.NewInt(validBefore.Unix()), Nonce: common.HexToHash(hex32())}
	sig, err := x402.SignTransfer(key, x402.Domain{Name: "Global Dollar", Version: "1", ChainID: f.chain.ChainID, Contract: token}, m)
	if err != nil {
		f.t.Fatal(err)
	}
	return &authz{key: key, token: token, a: localchain.Authorization{From: from, To: m.To, Value: m.Value,
		ValidAfter: m.ValidAfter, ValidBefore: m.ValidBefore, Nonce: m.Nonce, Signature: common.FromHex(sig)}}
}

// authorizeUSDG is authorize for the common case: a payer funded with 1000
// USDG, its authorization valid for an hour.
func (f *fixture) authorizeUSDG() *authz {
	f.t.Helper()
	return f.authorize(f.chain.USDG, 1000, time.Now().Add(time.Hour))
}

// cancel has the payer cancel z on-chain (cancelAuthorization).
func (f *fixture) cancel(z *authz) {
	f.t.Helper()
	_, err := f.chain.CancelAuthorization(context.Background(), z.token, z.key, z.a.Nonce)
	f.must(err)
}

// mine adds n empty blocks.
func (f *fixture) mine(n int) {
	f.t.Helper()
	f.must(f.chain.Mine(context.Background(), n))
}

// used is z's authorizationState on-chain: whether its nonce is spent.
func (f *fixture) used(z *authz) bool {
	f.t.Helper()
	used, err := f.chain.AuthorizationState(context.Background(), z.token, z.a.From, z.a.Nonce)
	f.must(err)
	return used
}

// must stops the test on a failed step of its setup.
func (f *fixture) must(err error) {
	f.t.Helper()
	if err != nil {
		f.t.Fatal(err)
	}
}

// submit sends the authorization's transferWithAuthorization from the
// facilitator key; with automine it is in a block when submit returns.
func (f *fixture) submit(z *authz) string {
	f.t.Helper()
	tx, err := f.chain.SubmitTransfer(context.Background(), z.token, z.a)
	if err != nil {
		f.t.Fatal(err)
	}
	return strings.ToLower(tx.Hex())
}

func (f *fixture) mined(tx string) *types.Receipt {
	f.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	rc, err := f.chain.WaitMined(ctx, common.HexToHash(tx))
	if err != nil {
		f.t.Fatal(err)
	}
	return rc
}

// minedAs is mined, stopping the test unless the receipt's status is status;
// what names the transaction in the failure.
func (f *fixture) minedAs(what, tx string, status uint64) *types.Receipt {
	f.t.Helper()
	rc := f.mined(tx)
	if rc.Status != status {
		f.t.Fatalf("%s: receipt status %d, want %d", what, rc.Status, status)
	}
	return rc
}

// pending claims z's ledger row, created age ago, with tx when not "".
func (f *fixture) pending(z *authz, age time.Duration, tx string) *ledger.Payment {
	f.t.Helper()
	ctx := context.Background()
	row, _, err := f.ledger.Claim(ctx, ledger.Claim{
		PayerAddress: z.a.From.Hex(), Endpoint: "/x402/report", Amount: z.a.Value.String(), Network: "eip155:196",
		Asset: z.token.Hex(), PayTo: payTo, Nonce: z.a.Nonce.Hex(), ValidBefore: z.a.ValidBefore.Int64(),
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
	z.row = row
	return row
}

// settled claims z's row and records it settled and delivered with tx, as the paywall does.
func (f *fixture) settled(z *authz, tx string) *ledger.Payment {
	f.t.Helper()
	row := f.pending(z, 0, "")
	if err := f.ledger.SettleDelivered(context.Background(), row.ID, row.Holder(), tx, false, time.Now()); err != nil {
		f.t.Fatal(err)
	}
	return row
}

func (f *fixture) row(id string) ledger.Payment {
	f.t.Helper()
	p, err := f.ledger.Get(context.Background(), id)
	if err != nil {
		f.t.Fatal(err)
	}
	return *p
}

// reconcilerWith is a quiet reconciler over the fixture's ledger with c and
// d's other collaborators.
func (f *fixture) reconcilerWith(c x402reconcile.Config, d x402reconcile.Deps) *x402reconcile.Reconciler {
	d.Store, d.Logger = f.ledger, quietLog()
	return x402reconcile.New(c, d)
}

// reconciler is the deployed shape: After 2m, the facilitator and the chain,
// at the clock now (nil: time.Now).
func (f *fixture) reconciler(now func() time.Time) *x402reconcile.Reconciler {
	return f.reconcilerWith(x402reconcile.Config{After: 2 * time.Minute}, x402reconcile.Deps{Facilitator: f.fac, Chain: f.reader, Now: now})
}

func quietLog() *slog.Logger { return slog.New(slog.DiscardHandler) }

// later is a clock ten minutes ahead: every row is older than After.
func later() time.Time { return time.Now().Add(10 * time.Minute) }

// Settled rows are wanted confirmed or not yet; ledger.StatusSettled alone
// leaves the confirmation unchecked.
const (
	confirmed   = ledger.StatusSettled + " (confirmed)"
	unconfirmed = ledger.StatusSettled + " (unconfirmed)"
)

// anyTx leaves a row's transaction unchecked.
const anyTx = "(any)"

// rowWant is what row id must be after a run: its status, its transaction and
// a substring of its error text.
type rowWant struct {
	name, id, status, tx, why string
}

// expectRun runs r once and wants exactly the report want (the age of the
// oldest unresolved row aside: the tests that care check it on the returned
// report), then every row as wanted.
func (f *fixture) expectRun(r *x402reconcile.Reconciler, want x402reconcile.Report, rows ...rowWant) x402reconcile.Report {
	f.t.Helper()
	rep, err := r.Run(context.Background())
	if err != nil {
		f.t.Fatal(err)
	}
	got := rep
	got.OldestUnresolved = 0
	if got != want {
		f.t.Fatalf("report %+v, want %+v", got, want)
	}
	f.expectRows(rows...)
	return rep
}

// expectRows wants every row as described, reporting all that are not.
func (f *fixture) expectRows(rows ...rowWant) {
	f.t.Helper()
	for _, w := range rows {
		g := f.row(w.id)
		status := g.Status
		if (w.status == confirmed || w.status == unconfirmed) && status == ledger.StatusSettled {
			status = map[bool]string{true: confirmed, false: unconfirmed}[g.ConfirmedAt != nil]
		}
		if status != w.status || (w.tx != anyTx && g.Tx() != w.tx) || !strings.Contains(g.ErrorText(), w.why) {
			f.t.Errorf("%s: status %s tx %q error %q, want %s %q %q", w.name, status, g.Tx(), g.ErrorText(), w.status, w.tx, w.why)
		}
	}
	if f.t.Failed() {
		f.t.FailNow()
	}
}

// devnet against real bytecode.
func TestReconcilerSettlesPendingRowsOnlyOnTransferEvidence(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	d := f.chain
	now := time.Now()
	old := 5 * time.Minute
	valid := now.Add(time.Hour)

	// Settled: the facilitator's transaction carries the transfer.
	ok := f.authorize(d.Strict, 1000, valid)
	txOK := f.submit(ok)
	f.pending(ok, old, txOK)

	// Reverted: the payer spent the balance between verify and settle.
	poor := f.authorize(d.Strict, 1000, valid)
	if err := d.SimulateTransfer(ctx, d.Strict, poor.a); err != nil {
		t.Fatalf("verify-time simulation: %v", err)
	}
	f.must(d.Fund(ctx, poor.a.From))
	spend, err := d.Transact(ctx, poor.key, d.Strict, "transfer", common.HexToAddress("0x01"), big.NewInt(1000))
	if err != nil {
		t.Fatal(err)
	}
	f.mined(strings.ToLower(spend.Hex()))
	txPoor := f.submit(poor)
	f.minedAs("settle with no balance", txPoor, types.ReceiptStatusFailed)
	f.pending(poor, old, txPoor)

	// USDG's used nonce: someone else executed the authorization first; the
	// facilitator's transaction succeeds with AuthorizationAlreadyUsed only.
	quirk := f.authorize(d.USDG, 1000, valid)
	txFirst := f.submit(quirk)
	txReplay := f.submit(quirk)
	if rc := f.minedAs("USDG replay", txReplay, types.ReceiptStatusSuccessful); len(rc.Logs) != 1 ||
		rc.Logs[0].Topics[0] != onchain.TopicAuthorizationAlreadyUsed {
		t.Fatalf("USDG replay receipt %+v", rc)
	}
	f.pending(quirk, old, txReplay)

	// The strict token reverts the replay instead; the first transaction paid.
	strict := f.authorize(d.Strict, 1000, valid)
	txStrictFirst := f.submit(strict)
	txStrictReplay := f.submit(strict)
	f.minedAs("strict replay", txStrictReplay, types.ReceiptStatusFailed)
	f.pending(strict, old, txStrictReplay)

	// Ledger update lost after settle: no hash, the logs hold the transfer.
	lost := f.authorize(d.USDG, 1000, valid)
	txLost := f.submit(lost)
	f.pending(lost, old, "")

	// The payer cancelled the authorization.
	cancelled := f.authorize(d.USDG, 1000, valid)
	txCancel, err := d.CancelAuthorization(ctx, d.USDG, cancelled.key, cancelled.a.Nonce)
	if err != nil {
		t.Fatal(err)
	}
	f.pending(cancelled, old, "")

	// A transaction the node never saw, authorization unused: still valid → left
	// pending; expired → failed.
	unseen, txUnseen := f.authorize(d.USDG, 1000, valid), hex32()
	f.pending(unseen, old, txUnseen)
	expired, txExpired := f.authorize(d.USDG, 1000, now.Add(-5*time.Minute)), hex32()
	f.pending(expired, old, txExpired)

	// Too recent: may still be in flight in the paywall.
	recent := f.authorize(d.USDG, 1000, valid)
	f.submit(recent)
	f.pending(recent, 0, "")

	emf := &strings.Builder{}
	r := f.reconcilerWith(x402reconcile.Config{After: 2 * time.Minute}, x402reconcile.Deps{Facilitator: f.fac, Chain: f.reader,
		Metrics: metrics.New(emf, "x402-reconcile")})
	rep := f.expectRun(r, x402reconcile.Report{Checked: 8, Settled: 4, Failed: 1, Unresolved: 1, Cancelled: 1, Reverted: 1},
		rowWant{"by receipt", ok.row.ID, ledger.StatusSettled, txOK, ""},
		rowWant{"insufficient balance at settle time", poor.row.ID, ledger.StatusReverted, txPoor, "reverted"},
		rowWant{"USDG used nonce: the earlier transaction paid", quirk.row.ID, ledger.StatusSettled, txFirst, ""},
		rowWant{"strict replay reverted, the earlier transaction paid", strict.row.ID, ledger.StatusSettled, txStrictFirst, ""},
		rowWant{"by logs", lost.row.ID, ledger.StatusSettled, txLost, ""},
		rowWant{"cancelled", cancelled.row.ID, ledger.StatusCancelled, "", strings.ToLower(txCancel.Hex())},
		rowWant{"never seen, still valid", unseen.row.ID, ledger.StatusPending, txUnseen, ""},
		rowWant{"never seen, expired", expired.row.ID, ledger.StatusFailed, txExpired, "expired"},
		rowWant{"recent", recent.row.ID, ledger.StatusPending, "", ""},
	)
	if rep.OldestUnresolved < old || rep.OldestUnresolved > old+time.Minute {
		t.Fatalf("oldest unresolved = %s, want about %s", rep.OldestUnresolved, old)
	}
	for _, m := range []string{x402reconcile.MetricSettled, x402reconcile.MetricCancelled,
		x402reconcile.MetricReverted, x402reconcile.MetricFailed, x402reconcile.MetricUnresolved} {
		if !strings.Contains(emf.String(), `"Name":"`+m+`"`) {
			t.Errorf("metric %s not emitted", m)
		}
	}
	// Idempotent: a second run changes nothing that was resolved.
	rep2, err := r.Run(ctx)
	if err != nil || rep2.Settled+rep2.Failed+rep2.NeedsReview+rep2.Cancelled+rep2.Reverted != 0 {
		t.Fatalf("second run %+v, %v", rep2, err)
	}
}

// authorizationState alone is not revenue: a used bit with no log in the
// searched blocks (here: the cancellation is older than the lookback) needs a person.
func TestReconcilerSendsAUsedBitWithoutLogsToReview(t *testing.T) {
	f := newFixture(t)
	z := f.authorizeUSDG()
	f.cancel(z)
	f.mine(20)
	f.pending(z, 5*time.Minute, "")
	r := f.reconcilerWith(x402reconcile.Config{After: 2 * time.Minute, LogsLookback: 5}, x402reconcile.Deps{Chain: f.reader})
	f.expectRun(r, x402reconcile.Report{Checked: 1, NeedsReview: 1},
		rowWant{"used bit, no log", z.row.ID, ledger.StatusNeedsReview, anyTx, "without a transfer log"})
}

// A settled row whose transaction the node does not know, while the
// authorization is used on-chain and no log in the searched blocks mentions it
// (the transaction that executed it is older than the lookback): money may
// have moved, so the row is never reverted or reopened. It stays settled for an
// hour (the node may lag behind the facilitator's), then needs a person, its
// transaction hash kept.
func TestReconcilerSendsASettledRowWithAnUnknownTransactionToReviewAfterAnHour(t *testing.T) {
	f := newFixture(t)
	z := f.authorizeUSDG()
	f.minedAs("transfer", f.submit(z), types.ReceiptStatusSuccessful)
	const lookback = 5
	f.mine(2 * lookback)
	if !f.used(z) {
		t.Fatal("authorizationState = false, want used")
	}
	tx := hex32() // never sent: eth_getTransactionReceipt answers null
	row := f.settled(z, tx)
	settledAt := f.row(row.ID).UpdatedAt
	if settledAt == nil {
		t.Fatal("settled row has no updated_at")
	}
	at := func(d time.Duration) *x402reconcile.Reconciler {
		return f.reconcilerWith(x402reconcile.Config{After: 2 * time.Minute, LogsLookback: lookback}, x402reconcile.Deps{
			Facilitator: f.fac, Chain: f.reader, Now: func() time.Time { return settledAt.Add(d) }})
	}
	// 59 minutes after settling: still settled and unconfirmed, left for a later run.
	f.expectRun(at(59*time.Minute), x402reconcile.Report{Checked: 1, Unresolved: 1},
		rowWant{"before the hour", row.ID, unconfirmed, tx, ""})
	// 61 minutes after settling: needs review, keeping its transaction hash.
	f.expectRun(at(61*time.Minute), x402reconcile.Report{Checked: 1, NeedsReview: 1},
		rowWant{"after the hour", row.ID, ledger.StatusNeedsReview, tx, "unknown to the node"})
	// Each run asked the node for the receipt, the logs and the used bit.
	if n := f.reader.calls.Load(); n != 6 {
		t.Fatalf("chain calls = %d, want 3 per run", n)
	}
}

// The settled half: confirmations and demotions on real receipts.
func TestReconcilerConfirmsSettledRowsAndDemotesTheOnesTheChainContradicts(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	d := f.chain
	valid := time.Now().Add(time.Hour)
	good := f.authorize(d.USDG, 1000, valid)
	f.settled(good, f.submit(good))
	// Settled on the word of a transaction that reverted (no balance).
	poor := f.authorize(d.Strict, 0, valid)
	f.settled(poor, f.submit(poor))
	// USDG's quirk: the recorded transaction succeeded but moved nothing; an
	// earlier one executed the authorization.
	quirk := f.authorize(d.USDG, 1000, valid)
	txFirst := f.submit(quirk)
	f.settled(quirk, f.submit(quirk))
	// The payer cancelled; the recorded transaction replayed the nonce.
	cancelled := f.authorize(d.USDG, 1000, valid)
	f.cancel(cancelled)
	f.settled(cancelled, f.submit(cancelled))
	st, _ := f.ledger.Stats(ctx)
	if st.TotalRevenue != "4000" {
		t.Fatalf("stats before %+v", st)
	}
	f.expectRun(f.reconciler(later), x402reconcile.Report{Checked: 4, Confirmed: 1, Reverted: 1, Reopened: 1, Cancelled: 1},
		rowWant{"good", good.row.ID, confirmed, anyTx, ""},
		rowWant{"reverted", poor.row.ID, ledger.StatusReverted, anyTx, ""},
		rowWant{"cancelled", cancelled.row.ID, ledger.StatusCancelled, anyTx, ""},
		rowWant{"quirk", quirk.row.ID, ledger.StatusPending, anyTx, txFirst},
	)
	if st, _ := f.ledger.Stats(ctx); st.TotalRevenue != "1000" || st.TotalRequests != 1 {
		t.Fatalf("contradicted rows still counted: %+v", st)
	}
	// The next run settles the reopened row with the transaction that paid, and
	// confirms it (a row settled and confirmed in one run is checked twice).
	f.expectRun(f.reconciler(later), x402reconcile.Report{Checked: 2, Settled: 1, Confirmed: 1},
		rowWant{"quirk after the second run", quirk.row.ID, ledger.StatusSettled, txFirst, ""})
}

// A reorg drops the block of a settled row's transaction: the row leaves the
// revenue and goes back to pending (the authorization is unused on-chain), and
// the pending rules settle it once the authorization is executed again.
func TestReconcilerReopensASettledRowWhoseTransactionAReorgDropped(t *testing.T) {
	f := newFixture(t)
	z := f.authorizeUSDG()
	tx := f.submit(z)
	f.settled(z, tx)
	f.must(f.chain.Reorg(t.Context(), 1))
	if f.used(z) {
		t.Fatal("the reorg kept the transfer")
	}
	f.expectRun(f.reconciler(later), x402reconcile.Report{Checked: 1, Reopened: 1},
		rowWant{"after the reorg", z.row.ID, ledger.StatusPending, anyTx, "reorg"})
	if st, _ := f.ledger.Stats(t.Context()); st.TotalRevenue != "0" {
		t.Fatalf("dropped settlement still counted: %+v", st)
	}
	// Still valid and unused: left pending.
	f.expectRun(f.reconciler(later), x402reconcile.Report{Checked: 1, Unresolved: 1})
	// The facilitator broadcasts the authorization again.
	again := f.submit(z)
	f.expectRun(f.reconciler(later), x402reconcile.Report{Checked: 2, Settled: 1, Confirmed: 1},
		rowWant{"after the second broadcast", z.row.ID, ledger.StatusSettled, again, ""})
}

// A settle whose transaction is still in the pool when the invocation ends:
// the row stays pending (its hash recorded) until a block holds it.
func TestReconcilerWaitsForAnUnminedSettlement(t *testing.T) {
	f := newFixture(t)
	z := f.authorizeUSDG()
	y := f.authorizeUSDG()
	f.must(f.chain.SetAutomine(t.Context(), false))
	tx := f.submit(z)
	f.pending(z, 5*time.Minute, tx)
	// A settled row whose transaction is unmined is left alone too.
	f.settled(y, f.submit(y))
	f.expectRun(f.reconciler(later), x402reconcile.Report{Checked: 2, Unresolved: 2},
		rowWant{"before the block", z.row.ID, ledger.StatusPending, tx, ""})
	f.mine(1)
	// z settles, and (being older than After at the run's clock) is confirmed
	// in the same run, like y.
	f.expectRun(f.reconciler(later), x402reconcile.Report{Checked: 3, Settled: 1, Confirmed: 2},
		rowWant{"after the block", z.row.ID, ledger.StatusSettled, tx, ""})
}

// One transaction cannot pay for two rows: a hash already recorded for another
// row sends the row that the logs attribute it to into review.
func TestReconcilerMarksAHashHeldByAnotherRowForReview(t *testing.T) {
	f := newFixture(t)
	d := f.chain
	valid := time.Now().Add(time.Hour)
	second := f.authorize(d.USDG, 1000, valid)
	tx := f.submit(second)
	// The first row was recorded with the second authorization's transaction.
	first := f.authorize(d.USDG, 1000, valid)
	f.settled(first, tx)
	f.pending(second, 5*time.Minute, "")
	f.expectRun(f.reconciler(nil), x402reconcile.Report{Checked: 1, NeedsReview: 1},
		rowWant{"second", second.row.ID, ledger.StatusNeedsReview, anyTx, "another payment"})
}

func TestReconcilerWithoutRPCLeavesUndecidableRowsPending(t *testing.T) {
	f := newFixture(t)
	z := f.authorize(f.chain.USDG, 1000, time.Now().Add(-time.Hour))
	f.pending(z, 10*time.Minute, "")
	r := f.reconcilerWith(x402reconcile.Config{After: time.Minute}, x402reconcile.Deps{Facilitator: f.fac})
	rep := f.expectRun(r, x402reconcile.Report{Checked: 1, Unresolved: 1},
		rowWant{"no RPC", z.row.ID, ledger.StatusPending, anyTx, ""})
	if rep.OldestUnresolved < 10*time.Minute || rep.OldestUnresolved > 11*time.Minute {
		t.Fatalf("oldest unresolved = %s, want the row's age (10m)", rep.OldestUnresolved)
	}
}

func TestReconcilerClosesUnconfirmedMockRowsWithoutTheChain(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	row, _, err := f.ledger.Claim(ctx, ledger.Claim{
		PayerAddress: "0x" + hex32()[2:42], Endpoint: "/x402/report", Amount: "1", Network: "eip155:196",
		Asset: localchain.USDGAddress.Hex(), PayTo: payTo, Nonce: hex32(), ValidBefore: time.Now().Add(time.Hour).Unix(), Mock: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.stack.Pool.Exec(ctx, `UPDATE x402_payments SET created_at = now() - interval '10 minutes' WHERE id = $1`, row.ID); err != nil {
		t.Fatal(err)
	}
	r := f.reconcilerWith(x402reconcile.Config{After: time.Minute}, x402reconcile.Deps{Facilitator: facilitator.Mock{}, Chain: f.reader})
	f.expectRun(r, x402reconcile.Report{Checked: 1, Failed: 1}, rowWant{"mock row", row.ID, ledger.StatusFailed, anyTx, ""})
	if n := f.reader.calls.Load(); n != 0 {
		t.Fatalf("chain consulted %d times for a mock row", n)
	}
}

// BenchmarkReconcilerThousandRowsOnTheDevnet: 1,000 pending rows, each with the
// hash of a real transferWithAuthorization on the devnet, resolved by successive
// runs (100 rows per kind and run) until every row is settled and confirmed.
//
//	go test -run '^$' -bench ThousandRows -benchtime 1x ./shared/x402reconcile/
func BenchmarkReconcilerThousandRowsOnTheDevnet(b *testing.B) {
	const n = 1000
	for b.Loop() {
		b.StopTimer()
		stack, chain := insforgetest.New(b), onchaintest.New(b)
		ctx := context.Background()
		key, _ := crypto.GenerateKey()
		from := crypto.PubkeyToAddress(key.PublicKey)
		onchaintest.Mint(b, chain, chain.USDG, from, n*1000)
		valid := big.NewInt(time.Now().Add(time.Hour).Unix())
		var values []string
		var args []any
		for i := range n {
			m := x402.TransferMessage{From: from, To: common.HexToAddress(payTo), Value: big.NewInt(1000),
				ValidAfter: big.NewInt(0), ValidBefore: valid, Nonce: common.HexToHash(hex32())}
			sig, err := x402.SignTransfer(key, x402.Domain{Name: "Global Dollar", Version: "1", ChainID: chain.ChainID, Contract: chain.USDG}, m)
			if err != nil {
				b.Fatal(err)
			}
			tx, err := chain.SubmitTransfer(ctx, chain.USDG, localchain.Authorization{From: from, To: m.To, Value: m.Value,
				ValidAfter: m.ValidAfter, ValidBefore: m.ValidBefore, Nonce: m.Nonce, Signature: common.FromHex(sig)})
			if err != nil {
				b.Fatal(err)
			}
			p := len(args)
			values = append(values, "($"+itoa(p+1)+", '/x402/report', '1000', $"+itoa(p+2)+", 'pending', 'eip155:196', $"+itoa(p+3)+
				", $"+itoa(p+4)+", $"+itoa(p+5)+", $"+itoa(p+6)+", false, now() - interval '10 minutes')")
			args = append(args, strings.ToLower(from.Hex()), strings.ToLower(tx.Hex()), strings.ToLower(chain.USDG.Hex()),
				strings.ToLower(payTo), strings.ToLower(m.Nonce.Hex()), valid.Int64())
			if len(values) == 200 || i == n-1 {
				if _, err := stack.Pool.Exec(ctx, `INSERT INTO x402_payments (payer_address, endpoint, amount, tx_hash, status, network, asset, pay_to, nonce, valid_before, mock, created_at) VALUES `+
					strings.Join(values, ","), args...); err != nil {
					b.Fatal(err)
				}
				values, args = nil, nil
			}
		}
		r := x402reconcile.New(x402reconcile.Config{After: 2 * time.Minute}, x402reconcile.Deps{Store: ledger.New(stack.ServiceClient()),
			Chain: onchain.Reader{Caller: chain.Client()}, Logger: quietLog(), Now: func() time.Time { return time.Now().Add(10 * time.Minute) }})
		b.StartTimer()
		began := time.Now()
		var total x402reconcile.Report
		runs := 0
		for {
			rep, err := r.Run(ctx)
			if err != nil {
				b.Fatal(err)
			}
			runs++
			total.Settled += rep.Settled
			total.Confirmed += rep.Confirmed
			if rep.Checked == 0 {
				break
			}
		}
		took := time.Since(began)
		b.StopTimer()
		if total.Settled != n || total.Confirmed != n {
			b.Fatalf("settled %d confirmed %d of %d", total.Settled, total.Confirmed, n)
		}
		b.ReportMetric(float64(runs), "runs")
		b.ReportMetric(float64(took.Microseconds())/float64(2*n), "µs/row-check")
		b.Logf("%d rows settled and confirmed on the devnet in %d runs, %s", n, runs, took)
		b.StartTimer()
	}
}

func itoa(i int) string { return strconv.Itoa(i) }
