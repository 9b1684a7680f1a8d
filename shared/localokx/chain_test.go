package localokx_test

import (
	"context"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"

	"github.com/insforge/edge-functions-go/shared/facilitator"
	"github.com/insforge/edge-functions-go/shared/localchain"
	"github.com/insforge/edge-functions-go/shared/localokx"
	"github.com/insforge/edge-functions-go/shared/x402"
	"github.com/insforge/edge-functions-go/shared/x402/onchain"
	"github.com/insforge/edge-functions-go/shared/x402/onchain/onchaintest"
	"github.com/insforge/edge-functions-go/shared/x402/x402test"
)

// onChain is an emulator settling on its own devnet, and a payer funded there.
// x402test's offer is USDG on chain 196, which the devnet's USDG is.
type onChain struct {
	e     *localokx.Server
	c     *facilitator.OKX
	d     *localchain.Devnet
	payer *x402test.Payer
}

func startOnChain(t *testing.T, api string, funds int64) *onChain {
	t.Helper()
	e, srv := start(t, api)
	d := onchaintest.New(t)
	e.SettleOn(d)
	p := x402test.NewPayer(t)
	if funds > 0 {
		onchaintest.Mint(t, d, d.USDG, p.Address, funds)
	}
	return &onChain{e: e, c: client(t, api, srv.URL, nil), d: d, payer: p}
}

func (o *onChain) request(t *testing.T) facilitator.Request {
	t.Helper()
	off := x402test.Offer(t)
	p := o.payer.Pay(t, off, x402.StyleV2, time.Now())
	return facilitator.Request{Payment: p.Payload.Payload, Requirements: off.Requirements(), Resource: off.Resource("http://localhost/x402/report")}
}

func balance(t *testing.T, d *localchain.Devnet, a string) int64 {
	t.Helper()
	b, err := d.BalanceOf(context.Background(), d.USDG, common.HexToAddress(a))
	if err != nil {
		t.Fatal(err)
	}
	return b.Int64()
}

// Verify simulates, settle sends the transaction and answers its real hash;
// the tokens move, and the authorization cannot be settled twice.
func TestOnChainSettlementMovesTheTokens(t *testing.T) {
	ctx := context.Background()
	for _, api := range []string{facilitator.APIV2, facilitator.APIV1} {
		t.Run(api, func(t *testing.T) {
			o := startOnChain(t, api, 5000)
			req := o.request(t)
			if v, err := o.c.Verify(ctx, req); err != nil || !v.Valid {
				t.Fatalf("Verify = %+v, %v", v, err)
			}
			r, err := o.c.Settle(ctx, req)
			if err != nil || !r.Settled() {
				t.Fatalf("Settle = %+v, %v", r, err)
			}
			rc, err := o.d.Receipt(ctx, common.HexToHash(r.Transaction))
			if err != nil || rc.Status != types.ReceiptStatusSuccessful {
				t.Fatalf("receipt %+v %v", rc, err)
			}
			ev, err := onchain.Reader{Caller: o.d.Client()}.TxEvidence(ctx, rc.TxHash, onchain.Payment{Token: o.d.USDG,
				From: o.payer.Address, To: common.HexToAddress(x402test.PayTo), Value: big.NewInt(1000),
				Nonce: common.HexToHash(req.Payment.Authorization.Nonce)})
			if err != nil || ev != onchain.Transferred {
				t.Fatalf("evidence %q %v", ev, err)
			}
			if balance(t, o.d, x402test.PayTo) != 1000 || balance(t, o.d, o.payer.Address.Hex()) != 4000 {
				t.Fatal("tokens did not move")
			}
			if v, err := o.c.Verify(ctx, req); err != nil || v.Valid || v.Reason != localokx.ReasonNonceUsed {
				t.Fatalf("verify after settle = %+v, %v", v, err)
			}
			if r, err := o.c.Settle(ctx, req); err != nil || r.Settled() {
				t.Fatalf("second settle = %+v, %v", r, err)
			}
			if balance(t, o.d, x402test.PayTo) != 1000 {
				t.Fatal("paid twice")
			}
		})
	}
}

// What verify refuses on the chain, with the exact scheme's reasons.
func TestOnChainVerifyRefusals(t *testing.T) {
	ctx := context.Background()
	o := startOnChain(t, facilitator.APIV2, 5000)
	unfunded := startOnChain(t, facilitator.APIV2, 0)
	tampered := o.request(t)
	tampered.Payment.Signature = x402test.HighS(tampered.Payment.Signature) // same signer, malleable twin
	expired := o.request(t)
	expired.Payment.Authorization.ValidBefore = "1"
	for name, c := range map[string]struct {
		o    *onChain
		req  facilitator.Request
		want string
	}{
		"no balance":     {unfunded, unfunded.request(t), localokx.ReasonInsufficient},
		"high-s twin":    {o, tampered, localokx.ReasonSignature},
		"expired":        {o, expired, localokx.ReasonValidBefore},
		"funded, signed": {o, o.request(t), ""},
	} {
		v, err := c.o.c.Verify(ctx, c.req)
		if err != nil || v.Valid != (c.want == "") || v.Reason != c.want {
			t.Errorf("%s: %+v, %v; want %q", name, v, err, c.want)
		}
	}
}

// A balance spent between verify and settle: the transaction is sent (settle
// does not simulate again), reverts on-chain, and settle says so with its hash.
func TestOnChainSettleOfASpentBalanceReverts(t *testing.T) {
	ctx := context.Background()
	o := startOnChain(t, facilitator.APIV2, 1000)
	req := o.request(t)
	if v, err := o.c.Verify(ctx, req); err != nil || !v.Valid {
		t.Fatalf("Verify = %+v, %v", v, err)
	}
	if err := o.d.Fund(ctx, o.payer.Address); err != nil {
		t.Fatal(err)
	}
	if tx, err := o.d.Transact(ctx, o.payer.Key, o.d.USDG, "transfer", common.HexToAddress("0x01"), big.NewInt(1000)); err != nil {
		t.Fatal(err)
	} else if _, err := o.d.WaitMined(ctx, tx); err != nil {
		t.Fatal(err)
	}
	r, err := o.c.Settle(ctx, req)
	if err != nil || r.Status != facilitator.StatusFailed || r.Transaction == "" {
		t.Fatalf("Settle = %+v, %v", r, err)
	}
	if rc, err := o.d.Receipt(ctx, common.HexToHash(r.Transaction)); err != nil || rc.Status != types.ReceiptStatusFailed {
		t.Fatalf("receipt %+v %v", rc, err)
	}
}

// Scripted pending: settle answers at once with the hash of a transaction still
// in the pool; the status endpoint reads the chain until a block holds it. A
// synchronous settle that sees no block in time answers timeout with the hash.
func TestOnChainPendingSettlementResolvesThroughTheStatusEndpoint(t *testing.T) {
	ctx := context.Background()
	o := startOnChain(t, facilitator.APIV2, 5000)
	if err := o.d.SetAutomine(ctx, false); err != nil {
		t.Fatal(err)
	}
	o.e.SettleStatus("pending")
	r, err := o.c.Settle(ctx, o.request(t))
	if err != nil || r.Status != facilitator.StatusPending || r.Transaction == "" {
		t.Fatalf("Settle = %+v, %v", r, err)
	}
	if st, err := o.c.Status(ctx, r.Transaction); err != nil || st.Status != facilitator.StatusPending {
		t.Fatalf("status before the block = %+v, %v", st, err)
	}
	o.e.SettleStatus("")
	o.e.SyncWait = 200 * time.Millisecond
	sync, err := o.c.Settle(ctx, o.request(t))
	if err != nil || sync.Status != facilitator.StatusTimeout || sync.Transaction == "" {
		t.Fatalf("sync Settle without a block = %+v, %v", sync, err)
	}
	if err := o.d.Mine(ctx, 1); err != nil {
		t.Fatal(err)
	}
	for _, tx := range []string{r.Transaction, sync.Transaction} {
		if st, err := o.c.Status(ctx, tx); err != nil || !st.Settled() || !strings.EqualFold(st.Transaction, tx) {
			t.Fatalf("status after the block = %+v, %v", st, err)
		}
	}
	if balance(t, o.d, x402test.PayTo) != 2000 {
		t.Fatal("the two settlements did not pay")
	}
}
