package reconcile_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/ethclient"

	"github.com/insforge/edge-functions-go/shared/facilitator"
	"github.com/insforge/edge-functions-go/shared/facilitator/okxtest"
	"github.com/insforge/edge-functions-go/shared/insforge/insforgetest"
	"github.com/insforge/edge-functions-go/shared/ledger"
	"github.com/insforge/edge-functions-go/shared/ledger/reconcile"
	"github.com/insforge/edge-functions-go/shared/x402/onchain"
	"github.com/insforge/edge-functions-go/shared/x402/onchain/rpctest"
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
	chain  reconcile.Chain
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
	f.fac, err = facilitator.NewOKX(facilitator.OKXConfig{BaseURL: f.okx.URL, APIKey: okxtest.Key, SecretKey: okxtest.Secret, Passphrase: okxtest.Passphrase})
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
	rows, err := f.ledger.List(context.Background(), 100)
	if err != nil {
		f.t.Fatal(err)
	}
	for _, r := range rows {
		if r.ID == id {
			return r
		}
	}
	f.t.Fatalf("row %s not found", id)
	return ledger.Payment{}
}

func TestReconcilerResolvesPendingRows(t *testing.T) {
	f := newFixture(t)
	now := time.Now()
	old := 10 * time.Minute

	// Settle timed out with a hash; OKX now reports success.
	txOK := hex32()
	f.okx.SetTxStatus(txOK, "success")
	byStatus := f.pending(old, now.Add(time.Minute), txOK, false)
	// Settle timed out with a hash; the transaction failed.
	txBad := hex32()
	f.okx.SetTxStatus(txBad, "failed")
	failedTx := f.pending(old, now.Add(time.Minute), txBad, false)
	// Ledger update lost after settle: no hash, but the chain shows the nonce used.
	onChain := f.pending(old, now.Add(time.Minute), "", false)
	f.node.MarkUsed(common.HexToAddress(onChain.PayerAddress), common.HexToHash(onChain.Nonce))
	// Never settled and expired: can never move money now.
	expired := f.pending(old, now.Add(-5*time.Minute), "", false)
	// Unused but still valid: left alone.
	stillValid := f.pending(old, now.Add(time.Minute), "", false)
	// Too recent: may still be in flight in the paywall.
	recent := f.pending(0, now.Add(time.Minute), "", false)

	r := &reconcile.Reconciler{Store: f.ledger, Facilitator: f.fac, Chain: f.chain, After: 2 * time.Minute}
	rep, err := r.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if rep.Checked != 5 || rep.Settled != 2 || rep.Failed != 2 || rep.Unresolved != 1 {
		t.Fatalf("report %+v", rep)
	}
	if g := f.row(byStatus.ID); g.Status != ledger.StatusSettled || g.Tx() != txOK {
		t.Fatalf("by status: %+v", g)
	}
	if g := f.row(failedTx.ID); g.Status != ledger.StatusFailed {
		t.Fatalf("failed tx: %+v", g)
	}
	if g := f.row(onChain.ID); g.Status != ledger.StatusSettled || g.Tx() != "" || g.ErrorText() == "" {
		t.Fatalf("on chain: %+v", g)
	}
	if g := f.row(expired.ID); g.Status != ledger.StatusFailed {
		t.Fatalf("expired: %+v", g)
	}
	if g := f.row(stillValid.ID); g.Status != ledger.StatusPending {
		t.Fatalf("still valid: %+v", g)
	}
	if g := f.row(recent.ID); g.Status != ledger.StatusPending {
		t.Fatalf("recent: %+v", g)
	}

	// Idempotent: a second run changes nothing that was resolved.
	rep2, err := r.Run(context.Background())
	if err != nil || rep2.Checked != 1 || rep2.Unresolved != 1 || rep2.Settled+rep2.Failed != 0 {
		t.Fatalf("second run %+v, %v", rep2, err)
	}
}

func TestReconcilerWithoutRPCLeavesUndecidableRowsPending(t *testing.T) {
	f := newFixture(t)
	row := f.pending(10*time.Minute, time.Now().Add(-time.Hour), "", false)
	r := &reconcile.Reconciler{Store: f.ledger, Facilitator: f.fac, After: time.Minute}
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
	r := &reconcile.Reconciler{Store: f.ledger, Facilitator: facilitator.Mock{}, Chain: f.chain, After: time.Minute}
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
