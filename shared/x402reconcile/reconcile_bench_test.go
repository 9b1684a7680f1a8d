package x402reconcile_test

import (
	"context"
	"math/big"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"

	"github.com/insforge/edge-functions-go/shared/insforge/insforgetest"
	"github.com/insforge/edge-functions-go/shared/ledger"
	"github.com/insforge/edge-functions-go/shared/localchain"
	"github.com/insforge/edge-functions-go/shared/x402"
	"github.com/insforge/edge-functions-go/shared/x402/onchain"
	"github.com/insforge/edge-functions-go/shared/x402/onchain/onchaintest"
	"github.com/insforge/edge-functions-go/shared/x402reconcile"
)

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
