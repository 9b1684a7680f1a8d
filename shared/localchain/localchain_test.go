package localchain_test

import (
	"context"
	"crypto/ecdsa"
	"errors"
	"math/big"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"

	"github.com/insforge/edge-functions-go/shared/internal/ci"
	"github.com/insforge/edge-functions-go/shared/localchain"
	"github.com/insforge/edge-functions-go/shared/x402"
	"github.com/insforge/edge-functions-go/shared/x402/onchain"
	"github.com/insforge/edge-functions-go/shared/x402/onchain/onchaintest"
)

var ctx = context.Background()

// funded returns a fresh payer holding value of token.
func funded(t *testing.T, d *localchain.Devnet, token common.Address, value int64) (*ecdsa.PrivateKey, common.Address) {
	t.Helper()
	key, err := crypto.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	payer := crypto.PubkeyToAddress(key.PublicKey)
	onchaintest.Mint(t, d, token, payer, value)
	return key, payer
}

// sign makes a payer's authorization for token, valid now.
func sign(t *testing.T, d *localchain.Devnet, token common.Address, key *ecdsa.PrivateKey, to common.Address, value int64) localchain.Authorization {
	t.Helper()
	m := x402.TransferMessage{From: crypto.PubkeyToAddress(key.PublicKey), To: to, Value: big.NewInt(value),
		ValidAfter: big.NewInt(0), ValidBefore: big.NewInt(time.Now().Add(time.Hour).Unix()),
		Nonce: crypto.Keccak256Hash([]byte(t.Name() + time.Now().String()))}
	sig, err := x402.SignTransfer(key, x402.Domain{Name: "Global Dollar", Version: "1", ChainID: d.ChainID, Contract: token}, m)
	if err != nil {
		t.Fatal(err)
	}
	return localchain.Authorization{From: m.From, To: m.To, Value: m.Value, ValidAfter: m.ValidAfter,
		ValidBefore: m.ValidBefore, Nonce: m.Nonce, Signature: common.FromHex(sig)}
}

func TestTheCommittedBuildIsWhatTheSourceCompilesTo(t *testing.T) {
	if _, err := os.Stat("node/node_modules/solc"); err != nil {
		if ci.Required() {
			t.Fatal("solc-js is not installed: run scripts/ensure-devnet")
		}
		t.Skip("solc-js is not installed: run scripts/ensure-devnet")
	}
	cmd := exec.Command("node", "build.mjs", "--check")
	cmd.Dir = "node"
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
}

func TestDevnetIsXLayerWithTheTokensDeployed(t *testing.T) {
	d := onchaintest.New(t)
	t.Logf("devnet started and deployed in %s", d.StartTime)
	id, err := d.Client().ChainID(ctx)
	if err != nil || id.Int64() != 196 {
		t.Fatalf("chain id %v %v", id, err)
	}
	if d.USDG != localchain.USDGAddress {
		t.Fatalf("USDG at %s", d.USDG.Hex())
	}
	for _, token := range []common.Address{d.USDG, d.Strict} {
		r, err := onchain.CheckDomain(ctx, d.Client(), token)
		if err != nil {
			t.Fatal(err)
		}
		m, ok := r.Match()
		if !ok || m.Name != "Global Dollar" || m.Version != "1" || !r.HasEIP712Domain || r.OnChainSeparator == nil {
			t.Fatalf("domain of %s: %+v", token.Hex(), r)
		}
	}
}

func TestTransferWithAuthorizationMovesTokensOnce(t *testing.T) {
	d := onchaintest.New(t)
	to := common.HexToAddress("0x209693Bc6afc0C5328bA36FaF03C514EF312287C")
	for _, tc := range []struct {
		name         string
		token        common.Address
		replayStatus uint64
		replayTopic  common.Hash
	}{
		{"USDG returns on a used nonce", d.USDG, types.ReceiptStatusSuccessful, onchain.TopicAuthorizationAlreadyUsed},
		{"Strict reverts on a used nonce", d.Strict, types.ReceiptStatusFailed, common.Hash{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			key, payer := funded(t, d, tc.token, 5000)
			a := sign(t, d, tc.token, key, to, 1000)
			if err := d.SimulateTransfer(ctx, tc.token, a); err != nil {
				t.Fatalf("simulation: %v", err)
			}
			tx, err := d.SubmitTransfer(ctx, tc.token, a)
			if err != nil {
				t.Fatal(err)
			}
			rc, err := d.WaitMined(ctx, tx)
			if err != nil || rc.Status != types.ReceiptStatusSuccessful || len(rc.Logs) != 2 ||
				rc.Logs[0].Topics[0] != onchain.TopicAuthorizationUsed || rc.Logs[1].Topics[0] != onchain.TopicTransfer {
				t.Fatalf("receipt %+v %v", rc, err)
			}
			if b, _ := d.BalanceOf(ctx, tc.token, payer); b.Int64() != 4000 {
				t.Fatalf("payer balance %v", b)
			}
			if used, _ := d.AuthorizationState(ctx, tc.token, payer, a.Nonce); !used {
				t.Fatal("nonce not used")
			}
			// The replay.
			tx, err = d.SubmitTransfer(ctx, tc.token, a)
			if err != nil {
				t.Fatal(err)
			}
			rc, err = d.WaitMined(ctx, tx)
			if err != nil || rc.Status != tc.replayStatus {
				t.Fatalf("replay receipt %+v %v", rc, err)
			}
			if tc.replayStatus == types.ReceiptStatusSuccessful && (len(rc.Logs) != 1 || rc.Logs[0].Topics[0] != tc.replayTopic) {
				t.Fatalf("replay logs %+v", rc.Logs)
			}
			if b, _ := d.BalanceOf(ctx, tc.token, payer); b.Int64() != 4000 {
				t.Fatalf("payer balance after replay %v", b)
			}
		})
	}
}

func TestSimulationNamesTheTokensRefusal(t *testing.T) {
	d := onchaintest.New(t)
	key, payer := funded(t, d, d.Strict, 10)
	poor := sign(t, d, d.Strict, key, payer, 1000)
	forged := sign(t, d, d.Strict, key, payer, 1)
	forged.Value = big.NewInt(2)
	expired := sign(t, d, d.Strict, key, payer, 1)
	expired.ValidBefore = big.NewInt(1)
	for name, c := range map[string]struct {
		a    localchain.Authorization
		want string
	}{
		"insufficient balance":         {poor, "InsufficientBalance"},
		"signature of another message": {forged, "InvalidSignature"},
		"expired":                      {expired, "AuthorizationExpired"},
	} {
		var re *localchain.RevertError
		if err := d.SimulateTransfer(ctx, d.Strict, c.a); !errors.As(err, &re) || re.Name != c.want {
			t.Errorf("%s: %v, want %s", name, err, c.want)
		}
	}
}

func TestCancelAuthorizationBurnsTheNonce(t *testing.T) {
	d := onchaintest.New(t)
	key, payer := funded(t, d, d.Strict, 10)
	a := sign(t, d, d.Strict, key, payer, 1)
	tx, err := d.CancelAuthorization(ctx, d.Strict, key, a.Nonce)
	if err != nil {
		t.Fatal(err)
	}
	rc, _ := d.WaitMined(ctx, tx)
	if len(rc.Logs) != 1 || rc.Logs[0].Topics[0] != onchain.TopicAuthorizationCanceled {
		t.Fatalf("logs %+v", rc.Logs)
	}
	var re *localchain.RevertError
	if err := d.SimulateTransfer(ctx, d.Strict, a); !errors.As(err, &re) || re.Name != "AuthorizationUsedOrCanceled" {
		t.Fatalf("cancelled authorization simulates: %v", err)
	}
}

func TestReorgDropsAMinedTransaction(t *testing.T) {
	d := onchaintest.New(t)
	holder := common.HexToAddress("0x1111111111111111111111111111111111111111")
	tx, err := d.Transact(ctx, d.Deployer, d.Strict, "mint", holder, big.NewInt(7))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.WaitMined(ctx, tx); err != nil {
		t.Fatal(err)
	}
	head, _ := d.Client().BlockNumber(ctx)
	if err := d.Reorg(ctx, 1); err != nil {
		t.Fatal(err)
	}
	if after, _ := d.Client().BlockNumber(ctx); after != head {
		t.Fatalf("head %d → %d", head, after)
	}
	if _, err := d.Client().TransactionReceipt(ctx, tx); !errors.Is(err, ethereum.NotFound) {
		t.Fatalf("receipt after reorg: %v", err)
	}
	if b, _ := d.BalanceOf(ctx, d.Strict, holder); b.Sign() != 0 {
		t.Fatalf("balance after reorg %v", b)
	}
}

func TestWithoutAutomineATransactionWaitsForTheBlock(t *testing.T) {
	d := onchaintest.NewWith(t, onchaintest.Options{NoMining: true})
	tx, err := d.Transact(ctx, d.Deployer, d.Strict, "mint", common.HexToAddress("0x01"), big.NewInt(1))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.Client().TransactionReceipt(ctx, tx); !errors.Is(err, ethereum.NotFound) {
		t.Fatalf("receipt before the block: %v", err)
	}
	if err := d.Mine(ctx, 1); err != nil {
		t.Fatal(err)
	}
	if rc, err := d.WaitMined(ctx, tx); err != nil || rc.Status != types.ReceiptStatusSuccessful {
		t.Fatalf("receipt %+v %v", rc, err)
	}
}

func TestRevertToASnapshotForgetsLaterBlocks(t *testing.T) {
	d := onchaintest.New(t)
	holder := common.HexToAddress("0x1111111111111111111111111111111111111111")
	id, err := d.Snapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	onchaintest.Mint(t, d, d.USDG, holder, 5)
	if err := d.Revert(ctx, id); err != nil {
		t.Fatal(err)
	}
	if b, _ := d.BalanceOf(ctx, d.USDG, holder); b.Sign() != 0 {
		t.Fatalf("balance after revert %v", b)
	}
	if err := d.Revert(ctx, id); err == nil {
		t.Fatal("a snapshot was reverted twice")
	}
}

// BenchmarkStart: Anvil on a free port, both tokens deployed, then stopped.
//
//	go test -run '^$' -bench Start -benchtime 10x ./shared/localchain/
func BenchmarkStart(b *testing.B) {
	if _, err := localchain.FindAnvil(""); err != nil {
		b.Skip(err)
	}
	for b.Loop() {
		d, err := localchain.Start(ctx, localchain.Options{})
		if err != nil {
			b.Fatal(err)
		}
		d.Close()
	}
}
