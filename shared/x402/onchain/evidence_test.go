package onchain_test

import (
	"context"
	"math/big"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"

	"github.com/insforge/edge-functions-go/shared/x402/onchain"
	"github.com/insforge/edge-functions-go/shared/x402/onchain/rpctest"
)

func TestEventTopicsAreTheSignatureHashes(t *testing.T) {
	// Published values (etherscan topic0 of ERC-20 Transfer and EIP-3009 events).
	for name, c := range map[string]struct{ got, want common.Hash }{
		"Transfer":              {onchain.TopicTransfer, common.HexToHash("0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef")},
		"AuthorizationUsed":     {onchain.TopicAuthorizationUsed, common.HexToHash("0x98de503528ee59b575ef0c0a2576a82497bfc029a5685b209e9ec333479b10a5")},
		"AuthorizationCanceled": {onchain.TopicAuthorizationCanceled, common.HexToHash("0x1cdd46ff242716cdaa72d159d339a485b3438398348d68f09d7c8c0a59353d81")},
	} {
		if c.got != c.want {
			t.Errorf("%s topic = %s, want %s", name, c.got.Hex(), c.want.Hex())
		}
	}
}

func word(a common.Address) common.Hash { return common.BytesToHash(a.Bytes()) }

func TestTxEvidenceNeedsTheTransferOrAuthorizationUsedLog(t *testing.T) {
	from := common.HexToAddress("0x1111111111111111111111111111111111111111")
	to := common.HexToAddress("0x2222222222222222222222222222222222222222")
	nonce := crypto.Keccak256Hash([]byte("nonce"))
	value := big.NewInt(1000)
	pay := onchain.Payment{Token: usdg, From: from, To: to, Value: value, Nonce: nonce}
	n := rpctest.New(t, 196, usdg, "Global Dollar", "1")
	transfer := n.Log([]common.Hash{onchain.TopicTransfer, word(from), word(to)}, common.LeftPadBytes(value.Bytes(), 32))
	used := n.Log([]common.Hash{onchain.TopicAuthorizationUsed, word(from), nonce}, nil)
	alreadyUsed := n.Log([]common.Hash{onchain.TopicAuthorizationAlreadyUsed, word(from), nonce}, nil)
	wrongValue := n.Log([]common.Hash{onchain.TopicTransfer, word(from), word(to)}, common.LeftPadBytes(big.NewInt(999).Bytes(), 32))
	otherToken := transfer
	otherToken.Address = common.HexToAddress("0x3333333333333333333333333333333333333333")
	cases := []struct {
		name   string
		status uint64
		logs   []types.Log
		want   string
	}{
		{"transfer log", 1, []types.Log{transfer}, onchain.Transferred},
		{"authorization used log", 1, []types.Log{used}, onchain.Transferred},
		{"USDG already-used quirk: success, no transfer", 1, []types.Log{alreadyUsed}, onchain.NoTransfer},
		{"transfer of another value", 1, []types.Log{wrongValue}, onchain.NoTransfer},
		{"transfer by another contract", 1, []types.Log{otherToken}, onchain.NoTransfer},
		{"reverted", 0, []types.Log{transfer}, onchain.Reverted},
	}
	r := onchain.Reader{Caller: dial(t, n)}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tx := common.BigToHash(big.NewInt(int64(i + 1)))
			n.Mine(tx, tc.status, tc.logs...)
			got, err := r.TxEvidence(context.Background(), tx, pay)
			if err != nil || got != tc.want {
				t.Fatalf("evidence = %q, %v; want %q", got, err, tc.want)
			}
		})
	}
	if got, err := r.TxEvidence(context.Background(), common.HexToHash("0xdead"), pay); err != nil || got != onchain.NotFound {
		t.Fatalf("unknown tx: %q, %v", got, err)
	}
}

func TestAuthorizationEvidenceSearchesTheTokenLogs(t *testing.T) {
	from := common.HexToAddress("0x1111111111111111111111111111111111111111")
	n := rpctest.New(t, 196, usdg, "Global Dollar", "1")
	r := onchain.Reader{Caller: dial(t, n)}
	usedNonce, cancelledNonce, unknownNonce := common.HexToHash("0x01"), common.HexToHash("0x02"), common.HexToHash("0x03")
	n.Mine(common.HexToHash("0xaa"), 1, n.Log([]common.Hash{onchain.TopicAuthorizationUsed, word(from), usedNonce}, nil))
	n.Mine(common.HexToHash("0xbb"), 1, n.Log([]common.Hash{onchain.TopicAuthorizationCanceled, word(from), cancelledNonce}, nil))
	for _, tc := range []struct {
		nonce  common.Hash
		want   string
		wantTx common.Hash
	}{
		{usedNonce, onchain.Transferred, common.HexToHash("0xaa")},
		{cancelledNonce, onchain.Cancelled, common.HexToHash("0xbb")},
		{unknownNonce, onchain.NoEvidence, common.Hash{}},
	} {
		got, tx, err := r.AuthorizationEvidence(context.Background(), onchain.Payment{Token: usdg, From: from, Nonce: tc.nonce}, 5000)
		if err != nil || got != tc.want || tx != tc.wantTx {
			t.Fatalf("nonce %s: %q %s %v", tc.nonce.Hex(), got, tx.Hex(), err)
		}
	}
	if n.Calls("eth_getLogs") != 3 {
		t.Fatalf("eth_getLogs calls %d", n.Calls("eth_getLogs"))
	}
}

func TestBalanceOf(t *testing.T) {
	n := rpctest.New(t, 196, usdg, "Global Dollar", "1")
	holder := common.HexToAddress("0x1111111111111111111111111111111111111111")
	n.SetBalance(holder, big.NewInt(42))
	b, err := onchain.Reader{Caller: dial(t, n)}.BalanceOf(context.Background(), usdg, holder)
	if err != nil || b.Int64() != 42 {
		t.Fatalf("balance %v %v", b, err)
	}
}

func TestDialRefusesRedirects(t *testing.T) {
	n := rpctest.New(t, 196, usdg, "Global Dollar", "1")
	redirector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, n.URL, http.StatusTemporaryRedirect)
	}))
	defer redirector.Close()
	c, err := onchain.Dial(redirector.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := (onchain.Reader{Caller: c}).BalanceOf(context.Background(), usdg, usdg); err == nil {
		t.Fatal("a redirected RPC answered")
	}
	if n.Calls("balanceOf") != 0 {
		t.Fatal("the redirect was followed")
	}
	direct, err := onchain.Dial(n.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer direct.Close()
	if _, err := (onchain.Reader{Caller: direct}).BalanceOf(context.Background(), usdg, usdg); err != nil {
		t.Fatal(err)
	}
}
