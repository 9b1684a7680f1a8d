// Package localchain is the local X Layer: a real EVM node (Anvil, pinned in
// node/package.json) on loopback with chain id 196, and GlobalDollar, an
// ERC-20 + EIP-3009 token written here (contracts/GlobalDollar.sol, compiled by
// the pinned solc-js into contracts/GlobalDollar.json; node/build.mjs --check
// proves the committed build reproducible).
//
// Two tokens are deployed: USDG at X Layer's USDG address with USDG's used-nonce
// behaviour (a replayed authorization emits AuthorizationAlreadyUsed and returns
// without reverting), so configuration written for X Layer works unchanged; and
// Strict, which reverts on a used nonce like the EIP's reference implementation.
// Tests, the local runner (make dev) and e2e use it alike.
package localchain

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/ethereum/go-ethereum"
	"github.com/ethereum/go-ethereum/accounts/abi"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/ethclient"
	"github.com/ethereum/go-ethereum/rpc"
)

// ChainID is X Layer's chain id, the devnet's by default.
const ChainID = 196

// USDGAddress is USDG on X Layer; the devnet's USDG answers there.
var USDGAddress = common.HexToAddress("0x4ae46a509f6b1d9056937ba4500cb143933d2dc8")

// Keys of Anvil's default accounts ("test test … junk" mnemonic, public): the
// deployer mints, the facilitator sends settlements and pays their gas.
const (
	DeployerKey    = "ac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"
	FacilitatorKey = "59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d"
)

//go:embed contracts/GlobalDollar.json
var artifactJSON []byte

type artifact struct {
	ABI      json.RawMessage `json:"abi"`
	Bytecode string          `json:"bytecode"`
}

// TokenABI is GlobalDollar's ABI.
var TokenABI = sync.OnceValue(func() abi.ABI {
	var a artifact
	if err := json.Unmarshal(artifactJSON, &a); err != nil {
		panic(err)
	}
	parsed, err := abi.JSON(strings.NewReader(string(a.ABI)))
	if err != nil {
		panic(err)
	}
	return parsed
})

// Overload is go-ethereum's name of the overload of method taking n inputs
// ("transferWithAuthorization" or "transferWithAuthorization0").
func Overload(method string, n int) string {
	for name, m := range TokenABI().Methods {
		if m.RawName == method && len(m.Inputs) == n {
			return name
		}
	}
	panic("localchain: no overload " + method + fmt.Sprint("/", n))
}

// ErrNoAnvil means no Anvil binary was found (scripts/ensure-devnet installs it).
var ErrNoAnvil = errors.New("localchain: anvil not found: run scripts/ensure-devnet (npm ci in shared/localchain/node) or set ANVIL")

// Options configure a devnet.
type Options struct {
	ChainID int64  // 0: 196
	Anvil   string // path of the anvil binary; "": $ANVIL, shared/localchain/node, $PATH
	// NoMining turns automine off once the tokens are deployed: transactions
	// then wait in the pool for Mine or SetAutomine(true).
	NoMining bool
	// Log receives Anvil's output (nil: discarded).
	Log io.Writer
}

// Devnet is a running Anvil with the tokens deployed.
type Devnet struct {
	URL     string
	ChainID *big.Int
	// USDG (at USDGAddress) returns on a used nonce like USDG; Strict reverts.
	USDG, Strict common.Address
	Deployer     *ecdsa.PrivateKey
	Facilitator  *ecdsa.PrivateKey
	// StartTime is how long starting Anvil and deploying took.
	StartTime time.Duration

	cmd    *exec.Cmd
	done   chan struct{}
	rpc    *rpc.Client
	client *ethclient.Client
	sendMu sync.Mutex
}

// FindAnvil returns the anvil binary Start would run.
func FindAnvil(explicit string) (string, error) {
	if explicit != "" {
		return explicit, nil
	}
	if p := os.Getenv("ANVIL"); p != "" {
		return p, nil
	}
	if dir, err := os.Getwd(); err == nil {
		for ; ; dir = filepath.Dir(dir) {
			if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
				p := filepath.Join(dir, "shared", "localchain", "node", "node_modules", "@foundry-rs",
					"anvil-"+npmPlatform(), "bin", "anvil")
				if _, err := os.Stat(p); err == nil {
					return p, nil
				}
				break
			}
			if filepath.Dir(dir) == dir {
				break
			}
		}
	}
	if p, err := exec.LookPath("anvil"); err == nil {
		return p, nil
	}
	return "", ErrNoAnvil
}

// npmPlatform names the platform package of @foundry-rs/anvil.
func npmPlatform() string {
	arch := runtime.GOARCH
	if arch == "x86_64" {
		arch = "amd64"
	}
	return runtime.GOOS + "-" + arch
}

var listening = regexp.MustCompile(`Listening on (127\.0\.0\.1:\d+)`)

// Start runs Anvil on a random loopback port and deploys the tokens. ctx bounds
// the start only; Close stops the node.
func Start(ctx context.Context, o Options) (*Devnet, error) {
	began := time.Now()
	bin, err := FindAnvil(o.Anvil)
	if err != nil {
		return nil, err
	}
	if o.ChainID == 0 {
		o.ChainID = ChainID
	}
	args := []string{"--host", "127.0.0.1", "--port", "0", "--chain-id", fmt.Sprint(o.ChainID),
		"--accounts", "3", "--balance", "10000", "--no-request-size-limit"}
	cmd := exec.Command(bin, args...)
	dieWithParent(cmd)
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("localchain: start anvil: %w", err)
	}
	d := &Devnet{cmd: cmd, done: make(chan struct{}), ChainID: big.NewInt(o.ChainID)}
	addr := make(chan string, 1)
	go func() {
		defer close(d.done)
		sc := bufio.NewScanner(out)
		found := false
		for sc.Scan() {
			line := sc.Text()
			if o.Log != nil {
				fmt.Fprintln(o.Log, line)
			}
			if m := listening.FindStringSubmatch(line); m != nil && !found {
				found = true
				addr <- m[1]
			}
		}
		_, _ = io.Copy(io.Discard, out)
		_ = cmd.Wait()
	}()
	select {
	case a := <-addr:
		d.URL = "http://" + a
	case <-d.done:
		return nil, errors.New("localchain: anvil exited before listening")
	case <-ctx.Done():
		d.kill()
		return nil, fmt.Errorf("localchain: anvil did not listen: %w", ctx.Err())
	}
	if err := d.setup(ctx); err != nil {
		d.Close()
		return nil, err
	}
	if o.NoMining {
		if err := d.SetAutomine(ctx, false); err != nil {
			d.Close()
			return nil, err
		}
	}
	d.StartTime = time.Since(began)
	return d, nil
}

func (d *Devnet) setup(ctx context.Context) error {
	var err error
	if d.rpc, err = rpc.DialContext(ctx, d.URL); err != nil {
		return err
	}
	d.client = ethclient.NewClient(d.rpc)
	d.Deployer, _ = crypto.HexToECDSA(DeployerKey)
	d.Facilitator, _ = crypto.HexToECDSA(FacilitatorKey)
	var a artifact
	if err := json.Unmarshal(artifactJSON, &a); err != nil {
		return err
	}
	code, err := hexutil.Decode(a.Bytecode)
	if err != nil {
		return err
	}
	deploy := func(returnsOnUsedNonce bool) (common.Address, error) {
		ctorArgs, err := TokenABI().Pack("", returnsOnUsedNonce)
		if err != nil {
			return common.Address{}, err
		}
		tx, err := d.send(ctx, d.Deployer, nil, append(append([]byte{}, code...), ctorArgs...), 3_000_000)
		if err != nil {
			return common.Address{}, err
		}
		rc, err := d.mined(ctx, tx)
		if err != nil {
			return common.Address{}, err
		}
		if rc.Status != types.ReceiptStatusSuccessful {
			return common.Address{}, errors.New("localchain: token deployment reverted")
		}
		return rc.ContractAddress, nil
	}
	// The quirk variant is deployed, then its runtime code (immutables included)
	// is placed at USDG's address: storage starts empty and DOMAIN_SEPARATOR()
	// reads address(this), so the copy is a token of its own.
	quirk, err := deploy(true)
	if err != nil {
		return err
	}
	runtimeCode, err := d.client.CodeAt(ctx, quirk, nil)
	if err != nil {
		return err
	}
	if err := d.rpc.CallContext(ctx, nil, "anvil_setCode", USDGAddress, hexutil.Encode(runtimeCode)); err != nil {
		return fmt.Errorf("localchain: anvil_setCode: %w", err)
	}
	d.USDG = USDGAddress
	d.Strict, err = deploy(false)
	return err
}

// Client is an ethclient on the devnet (closed by Close).
func (d *Devnet) Client() *ethclient.Client { return d.client }

// RPC is the raw JSON-RPC client (closed by Close).
func (d *Devnet) RPC() *rpc.Client { return d.rpc }

// Close stops Anvil.
func (d *Devnet) Close() {
	if d.client != nil {
		d.client.Close()
	}
	d.kill()
}

func (d *Devnet) kill() {
	if d.cmd.Process != nil {
		_ = d.cmd.Process.Kill()
	}
	select {
	case <-d.done:
	case <-time.After(5 * time.Second):
	}
}

// Address is the account of key.
func Address(key *ecdsa.PrivateKey) common.Address { return crypto.PubkeyToAddress(key.PublicKey) }

// send signs and submits a transaction from key without estimating gas, so a
// call that reverts is still mined (with status 0), like a settlement whose
// state changed between verify and inclusion.
func (d *Devnet) send(ctx context.Context, key *ecdsa.PrivateKey, to *common.Address, data []byte, gas uint64) (common.Hash, error) {
	d.sendMu.Lock()
	defer d.sendMu.Unlock()
	from := Address(key)
	nonce, err := d.client.PendingNonceAt(ctx, from)
	if err != nil {
		return common.Hash{}, fmt.Errorf("localchain: nonce: %w", err)
	}
	tx := types.NewTx(&types.DynamicFeeTx{ChainID: d.ChainID, Nonce: nonce, GasTipCap: big.NewInt(1_000_000_000),
		GasFeeCap: big.NewInt(100_000_000_000), Gas: gas, To: to, Data: data})
	signed, err := types.SignTx(tx, types.LatestSignerForChainID(d.ChainID), key)
	if err != nil {
		return common.Hash{}, err
	}
	if err := d.client.SendTransaction(ctx, signed); err != nil {
		return common.Hash{}, fmt.Errorf("localchain: send: %w", err)
	}
	return signed.Hash(), nil
}

// mined waits for tx's receipt.
func (d *Devnet) mined(ctx context.Context, tx common.Hash) (*types.Receipt, error) {
	for {
		rc, err := d.client.TransactionReceipt(ctx, tx)
		if err == nil {
			return rc, nil
		}
		if !errors.Is(err, ethereum.NotFound) {
			return nil, err
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// WaitMined waits for tx's receipt.
func (d *Devnet) WaitMined(ctx context.Context, tx common.Hash) (*types.Receipt, error) {
	return d.mined(ctx, tx)
}

// Transact sends a token call from key (gas 300,000, not estimated).
func (d *Devnet) Transact(ctx context.Context, key *ecdsa.PrivateKey, token common.Address, method string, args ...any) (common.Hash, error) {
	data, err := TokenABI().Pack(method, args...)
	if err != nil {
		return common.Hash{}, err
	}
	return d.send(ctx, key, &token, data, 300_000)
}

// Mint credits value token units to holder and waits for the block.
func (d *Devnet) Mint(ctx context.Context, token, holder common.Address, value *big.Int) error {
	tx, err := d.Transact(ctx, d.Deployer, token, "mint", holder, value)
	if err != nil {
		return err
	}
	return d.succeeded(ctx, tx)
}

func (d *Devnet) succeeded(ctx context.Context, tx common.Hash) error {
	rc, err := d.mined(ctx, tx)
	if err != nil {
		return err
	}
	if rc.Status != types.ReceiptStatusSuccessful {
		return fmt.Errorf("localchain: transaction %s reverted", tx.Hex())
	}
	return nil
}

// Fund gives key's account gas money (1 ETH) from the deployer.
func (d *Devnet) Fund(ctx context.Context, to common.Address) error {
	d.sendMu.Lock()
	nonce, err := d.client.PendingNonceAt(ctx, Address(d.Deployer))
	if err != nil {
		d.sendMu.Unlock()
		return err
	}
	tx := types.NewTx(&types.DynamicFeeTx{ChainID: d.ChainID, Nonce: nonce, GasTipCap: big.NewInt(1_000_000_000),
		GasFeeCap: big.NewInt(100_000_000_000), Gas: 21_000, To: &to, Value: big.NewInt(1e18)})
	signed, err := types.SignTx(tx, types.LatestSignerForChainID(d.ChainID), d.Deployer)
	if err == nil {
		err = d.client.SendTransaction(ctx, signed)
	}
	d.sendMu.Unlock()
	if err != nil {
		return err
	}
	return d.succeeded(ctx, signed.Hash())
}

// BalanceOf reads holder's token balance.
func (d *Devnet) BalanceOf(ctx context.Context, token, holder common.Address) (*big.Int, error) {
	out, err := d.view(ctx, token, "balanceOf", holder)
	if err != nil {
		return nil, err
	}
	return out[0].(*big.Int), nil
}

// AuthorizationState reads authorizationState(authorizer, nonce).
func (d *Devnet) AuthorizationState(ctx context.Context, token, authorizer common.Address, nonce common.Hash) (bool, error) {
	out, err := d.view(ctx, token, "authorizationState", authorizer, nonce)
	if err != nil {
		return false, err
	}
	return out[0].(bool), nil
}

func (d *Devnet) view(ctx context.Context, token common.Address, method string, args ...any) ([]any, error) {
	data, err := TokenABI().Pack(method, args...)
	if err != nil {
		return nil, err
	}
	out, err := d.client.CallContract(ctx, ethereum.CallMsg{To: &token, Data: data}, nil)
	if err != nil {
		return nil, err
	}
	return TokenABI().Unpack(method, out)
}

// Authorization is a signed EIP-3009 TransferWithAuthorization.
type Authorization struct {
	From, To                       common.Address
	Value, ValidAfter, ValidBefore *big.Int
	Nonce                          common.Hash
	Signature                      []byte // 65 bytes, v = 27/28
}

func (a Authorization) pack() ([]byte, error) {
	if len(a.Signature) != 65 {
		return nil, errors.New("localchain: signature must be 65 bytes")
	}
	var r, s [32]byte
	copy(r[:], a.Signature[:32])
	copy(s[:], a.Signature[32:64])
	return TokenABI().Pack(Overload("transferWithAuthorization", 9), a.From, a.To, a.Value, a.ValidAfter, a.ValidBefore,
		[32]byte(a.Nonce), a.Signature[64], r, s)
}

// SimulateTransfer runs transferWithAuthorization with eth_call from the
// facilitator at the latest block: nil when it would succeed, the revert (a
// *RevertError when the token said why) otherwise.
func (d *Devnet) SimulateTransfer(ctx context.Context, token common.Address, a Authorization) error {
	data, err := a.pack()
	if err != nil {
		return err
	}
	_, err = d.client.CallContract(ctx, ethereum.CallMsg{From: Address(d.Facilitator), To: &token, Data: data}, nil)
	if err != nil {
		return revertError(err)
	}
	return nil
}

// SubmitTransfer sends transferWithAuthorization from the facilitator and
// returns its hash without waiting for the block.
func (d *Devnet) SubmitTransfer(ctx context.Context, token common.Address, a Authorization) (common.Hash, error) {
	data, err := a.pack()
	if err != nil {
		return common.Hash{}, err
	}
	return d.send(ctx, d.Facilitator, &token, data, 300_000)
}

// RevertError is a token's custom error, decoded.
type RevertError struct{ Name string }

func (e *RevertError) Error() string { return "execution reverted: " + e.Name }

// revertError names the token's custom error in an eth_call failure.
func revertError(err error) error {
	var de rpc.DataError
	if errors.As(err, &de) {
		if s, ok := de.ErrorData().(string); ok {
			if b, derr := hexutil.Decode(s); derr == nil && len(b) >= 4 {
				for name, e := range TokenABI().Errors {
					if [4]byte(e.ID[:4]) == [4]byte(b[:4]) {
						return &RevertError{Name: name}
					}
				}
			}
		}
	}
	return err
}

// CancelAuthorization signs CancelAuthorization(authorizer, nonce) with key and
// sends it from the facilitator; it waits for the block.
func (d *Devnet) CancelAuthorization(ctx context.Context, token common.Address, key *ecdsa.PrivateKey, nonce common.Hash) (common.Hash, error) {
	typeHash := crypto.Keccak256Hash([]byte("CancelAuthorization(address authorizer,bytes32 nonce)"))
	authorizer := Address(key)
	structHash := crypto.Keccak256Hash(typeHash.Bytes(), common.LeftPadBytes(authorizer.Bytes(), 32), nonce.Bytes())
	sep, err := d.view(ctx, token, "DOMAIN_SEPARATOR")
	if err != nil {
		return common.Hash{}, err
	}
	domain := sep[0].([32]byte)
	digest := crypto.Keccak256([]byte{0x19, 0x01}, domain[:], structHash.Bytes())
	sig, err := crypto.Sign(digest, key)
	if err != nil {
		return common.Hash{}, err
	}
	var r, s [32]byte
	copy(r[:], sig[:32])
	copy(s[:], sig[32:64])
	tx, err := d.Transact(ctx, d.Facilitator, token, Overload("cancelAuthorization", 5), authorizer, [32]byte(nonce), sig[64]+27, r, s)
	if err != nil {
		return common.Hash{}, err
	}
	return tx, d.succeeded(ctx, tx)
}

// SetAutomine turns mining on each transaction on or off (evm_setAutomine).
func (d *Devnet) SetAutomine(ctx context.Context, on bool) error {
	return d.rpc.CallContext(ctx, nil, "evm_setAutomine", on)
}

// Mine mines n blocks (anvil_mine), including pending transactions.
func (d *Devnet) Mine(ctx context.Context, n int) error {
	return d.rpc.CallContext(ctx, nil, "anvil_mine", hexutil.EncodeUint64(uint64(n)))
}

// Snapshot records the chain state (evm_snapshot); Revert returns to it.
func (d *Devnet) Snapshot(ctx context.Context) (string, error) {
	var id string
	err := d.rpc.CallContext(ctx, &id, "evm_snapshot")
	return id, err
}

// Revert returns to a snapshot (evm_revert), dropping every later block.
func (d *Devnet) Revert(ctx context.Context, id string) error {
	var ok bool
	if err := d.rpc.CallContext(ctx, &ok, "evm_revert", id); err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("localchain: snapshot %s not reverted", id)
	}
	return nil
}

// Reorg replaces the last depth blocks with as many empty ones (anvil_reorg):
// the transactions they held are gone from the canonical chain.
func (d *Devnet) Reorg(ctx context.Context, depth int) error {
	return d.rpc.CallContext(ctx, nil, "anvil_reorg", depth, []any{})
}

// DropTransaction removes a pending transaction from the pool (anvil_dropTransaction).
func (d *Devnet) DropTransaction(ctx context.Context, tx common.Hash) error {
	return d.rpc.CallContext(ctx, nil, "anvil_dropTransaction", tx)
}

// Receipt is tx's receipt (ethereum.NotFound while the node has none).
func (d *Devnet) Receipt(ctx context.Context, tx common.Hash) (*types.Receipt, error) {
	return d.client.TransactionReceipt(ctx, tx)
}
