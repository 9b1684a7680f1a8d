package onchain_test

import (
	"context"
	"crypto/ecdsa"
	"math/big"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"

	"github.com/insforge/edge-functions-go/shared/localchain"
	"github.com/insforge/edge-functions-go/shared/x402"
	"github.com/insforge/edge-functions-go/shared/x402/onchain"
	"github.com/insforge/edge-functions-go/shared/x402/onchain/onchaintest"
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

// signed is a funded payer's authorization of value units of token to to.
func signed(t *testing.T, d *localchain.Devnet, token, to common.Address, value, balance int64) (*ecdsa.PrivateKey, localchain.Authorization) {
	t.Helper()
	key, _ := crypto.GenerateKey()
	from := crypto.PubkeyToAddress(key.PublicKey)
	if balance > 0 {
		onchaintest.Mint(t, d, token, from, balance)
	}
	m := x402.TransferMessage{From: from, To: to, Value: big.NewInt(value), ValidAfter: big.NewInt(0),
		ValidBefore: big.NewInt(time.Now().Add(time.Hour).Unix()), Nonce: crypto.Keccak256Hash(from.Bytes(), []byte(t.Name()))}
	sig, err := x402.SignTransfer(key, x402.Domain{Name: "Global Dollar", Version: "1", ChainID: d.ChainID, Contract: token}, m)
	if err != nil {
		t.Fatal(err)
	}
	return key, localchain.Authorization{From: from, To: to, Value: m.Value, ValidAfter: m.ValidAfter,
		ValidBefore: m.ValidBefore, Nonce: m.Nonce, Signature: common.FromHex(sig)}
}

func submit(t *testing.T, d *localchain.Devnet, token common.Address, a localchain.Authorization) common.Hash {
	t.Helper()
	tx, err := d.SubmitTransfer(context.Background(), token, a)
	if err != nil {
		t.Fatal(err)
	}
	return tx
}

func TestTxEvidenceNeedsTheTransferOrAuthorizationUsedLog(t *testing.T) {
	d := onchaintest.New(t)
	to := common.HexToAddress("0x2222222222222222222222222222222222222222")
	payment := func(token common.Address, a localchain.Authorization) onchain.Payment {
		return onchain.Payment{Token: token, From: a.From, To: a.To, Value: a.Value, Nonce: a.Nonce}
	}
	_, paid := signed(t, d, d.USDG, to, 1000, 1000)
	txPaid := submit(t, d, d.USDG, paid)
	txReplay := submit(t, d, d.USDG, paid) // USDG: success, AuthorizationAlreadyUsed only
	_, strict := signed(t, d, d.Strict, to, 1000, 1000)
	submit(t, d, d.Strict, strict)
	txStrictReplay := submit(t, d, d.Strict, strict) // reverts
	_, poor := signed(t, d, d.USDG, to, 1000, 10)
	txPoor := submit(t, d, d.USDG, poor) // reverts: insufficient balance
	wrongValue := payment(d.USDG, paid)
	wrongValue.Value = big.NewInt(999)
	wrongValue.Nonce = common.Hash{1} // only the Transfer log could match, and its value differs
	otherToken := payment(d.Strict, paid)
	cases := []struct {
		name string
		tx   common.Hash
		pay  onchain.Payment
		want string
	}{
		{"transfer and authorization used", txPaid, payment(d.USDG, paid), onchain.Transferred},
		{"USDG already-used quirk: success, no transfer", txReplay, payment(d.USDG, paid), onchain.NoTransfer},
		{"transfer of another value", txPaid, wrongValue, onchain.NoTransfer},
		{"transfer by another contract", txPaid, otherToken, onchain.NoTransfer},
		{"replay on a strict token", txStrictReplay, payment(d.Strict, strict), onchain.Reverted},
		{"insufficient balance", txPoor, payment(d.USDG, poor), onchain.Reverted},
		{"never seen", common.HexToHash("0xdead"), payment(d.USDG, paid), onchain.NotFound},
	}
	r := onchain.Reader{Caller: d.Client()}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if tc.want != onchain.NotFound {
				if _, err := d.WaitMined(context.Background(), tc.tx); err != nil {
					t.Fatal(err)
				}
			}
			got, err := r.TxEvidence(context.Background(), tc.tx, tc.pay)
			if err != nil || got != tc.want {
				t.Fatalf("evidence = %q, %v; want %q", got, err, tc.want)
			}
		})
	}
	t.Run("in the pool, not mined", func(t *testing.T) {
		ctx := context.Background()
		_, a := signed(t, d, d.USDG, to, 1000, 1000)
		if err := d.SetAutomine(ctx, false); err != nil {
			t.Fatal(err)
		}
		defer func() { _ = d.SetAutomine(ctx, true) }()
		tx := submit(t, d, d.USDG, a)
		if got, err := r.TxEvidence(ctx, tx, payment(d.USDG, a)); err != nil || got != onchain.Unmined {
			t.Fatalf("evidence = %q, %v", got, err)
		}
	})
}

func TestAuthorizationEvidenceSearchesTheTokenLogs(t *testing.T) {
	ctx := context.Background()
	d := onchaintest.New(t)
	r := onchain.Reader{Caller: d.Client()}
	to := common.HexToAddress("0x2222222222222222222222222222222222222222")
	_, used := signed(t, d, d.USDG, to, 1000, 1000)
	txUsed := submit(t, d, d.USDG, used)
	key, cancelled := signed(t, d, d.USDG, to, 1000, 1000)
	txCancel, err := d.CancelAuthorization(ctx, d.USDG, key, cancelled.Nonce)
	if err != nil {
		t.Fatal(err)
	}
	_, unknown := signed(t, d, d.USDG, to, 1000, 1000)
	if _, err := d.WaitMined(ctx, txUsed); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		a      localchain.Authorization
		want   string
		wantTx common.Hash
	}{
		{"used", used, onchain.Transferred, txUsed},
		{"cancelled", cancelled, onchain.Cancelled, txCancel},
		{"never used", unknown, onchain.NoEvidence, common.Hash{}},
	} {
		got, tx, err := r.AuthorizationEvidence(ctx, onchain.Payment{Token: d.USDG, From: tc.a.From, Nonce: tc.a.Nonce}, 5000)
		if err != nil || got != tc.want || tx != tc.wantTx {
			t.Fatalf("%s: %q %s %v", tc.name, got, tx.Hex(), err)
		}
	}
	// The search is bounded: a transfer older than the lookback is not found.
	if err := d.Mine(ctx, 10); err != nil {
		t.Fatal(err)
	}
	if got, _, err := r.AuthorizationEvidence(ctx, onchain.Payment{Token: d.USDG, From: used.From, Nonce: used.Nonce}, 5); err != nil || got != onchain.NoEvidence {
		t.Fatalf("outside the lookback: %q %v", got, err)
	}
}

func TestBalanceOf(t *testing.T) {
	d := onchaintest.New(t)
	holder := common.HexToAddress("0x1111111111111111111111111111111111111111")
	onchaintest.Mint(t, d, d.USDG, holder, 42)
	b, err := onchain.Reader{Caller: d.Client()}.BalanceOf(context.Background(), d.USDG, holder)
	if err != nil || b.Int64() != 42 {
		t.Fatalf("balance %v %v", b, err)
	}
}

func TestDialRefusesRedirects(t *testing.T) {
	d := onchaintest.New(t)
	redirector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// 307 keeps the method and body: a client following it would get the node's answer.
		http.Redirect(w, r, d.URL, http.StatusTemporaryRedirect)
	}))
	defer redirector.Close()
	c, err := onchain.Dial(redirector.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := (onchain.Reader{Caller: c}).BalanceOf(context.Background(), d.USDG, d.USDG); err == nil {
		t.Fatal("a redirected RPC answered: the redirect was followed")
	}
	direct, err := onchain.Dial(d.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer direct.Close()
	if _, err := (onchain.Reader{Caller: direct}).BalanceOf(context.Background(), d.USDG, d.USDG); err != nil {
		t.Fatal(err)
	}
}
