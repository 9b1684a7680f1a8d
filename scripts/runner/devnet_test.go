package runner

import (
	"context"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"

	"github.com/insforge/edge-functions-go/shared/localchain"
)

func TestDevChainFundsPayersAndSaysItsExplorerIsLocal(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c, err := StartDevChain(ctx)
	if err == localchain.ErrNoAnvil && os.Getenv("CI") != "true" && os.Getenv("CI") != "1" {
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if v := c.Vars(); v["MOCK_OKX_FACILITATOR"] != "false" || v["XLAYER_RPC_URL"] != c.Devnet.URL || v["X402_EXPLORER_TX_URL"] != c.URL+"/tx/" {
		t.Fatalf("vars %v", v)
	}
	payer := common.HexToAddress("0x1111111111111111111111111111111111111111")
	res, err := http.Post(c.URL+"/faucet?address="+payer.Hex(), "", nil)
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("faucet %v %v", res, err)
	}
	res.Body.Close()
	if b, err := c.Devnet.BalanceOf(ctx, c.Devnet.USDG, payer); err != nil || b.Cmp(FaucetAmount) != 0 {
		t.Fatalf("balance %v %v", b, err)
	}
	res, err = http.Get(c.URL + "/tx/0x" + strings.Repeat("ab", 32))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if !strings.Contains(string(body), "Local devnet — not X Layer") || !strings.Contains(string(body), "Unknown to the devnet") {
		t.Fatalf("explorer page %s", body)
	}
}
