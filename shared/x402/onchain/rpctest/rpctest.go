// Package rpctest is a loopback JSON-RPC node serving one EIP-3009 token's view
// functions, transaction receipts and logs, so check-domain, the paywall's
// balance check and the reconciler run against go-ethereum's real ethclient
// without a chain.
package rpctest

import (
	"encoding/json"
	"math/big"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/core/types"

	"github.com/insforge/edge-functions-go/shared/x402"
	"github.com/insforge/edge-functions-go/shared/x402/onchain"
)

// Node is the fake.
type Node struct {
	*httptest.Server
	ChainID       *big.Int
	Token         common.Address
	Name, Version string
	// NoEIP712Domain / NoSeparator make those calls revert.
	NoEIP712Domain, NoSeparator bool
	// Separator, when set, is what DOMAIN_SEPARATOR() returns (a value computed
	// elsewhere); otherwise it is computed from Name and Version.
	Separator common.Hash

	mu       sync.Mutex
	used     map[string]bool
	balances map[common.Address]*big.Int
	receipts map[common.Hash]*types.Receipt
	logs     []types.Log
	head     uint64
	// Calls counts eth_call by method name.
	calls map[string]int
}

// New starts a node for token with the given domain.
func New(t testing.TB, chainID int64, token common.Address, name, version string) *Node {
	n := &Node{ChainID: big.NewInt(chainID), Token: token, Name: name, Version: version, used: map[string]bool{}, calls: map[string]int{},
		balances: map[common.Address]*big.Int{}, receipts: map[common.Hash]*types.Receipt{}, head: 1000}
	n.Server = httptest.NewServer(http.HandlerFunc(n.serve))
	t.Cleanup(n.Close)
	return n
}

// MarkUsed records (from, nonce) as used on-chain.
func (n *Node) MarkUsed(from common.Address, nonce common.Hash) {
	n.mu.Lock()
	n.used[strings.ToLower(from.Hex()+nonce.Hex())] = true
	n.mu.Unlock()
}

// SetBalance sets holder's token balance.
func (n *Node) SetBalance(holder common.Address, v *big.Int) {
	n.mu.Lock()
	n.balances[holder] = v
	n.mu.Unlock()
}

// Mine records a transaction with status (1 success, 0 reverted) and logs in
// a new block; its logs become visible to eth_getLogs.
func (n *Node) Mine(tx common.Hash, status uint64, logs ...types.Log) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.head++
	rc := &types.Receipt{Type: types.DynamicFeeTxType, Status: status, CumulativeGasUsed: 60000, GasUsed: 60000,
		TxHash: tx, BlockNumber: new(big.Int).SetUint64(n.head), BlockHash: common.BigToHash(new(big.Int).SetUint64(n.head)),
		EffectiveGasPrice: big.NewInt(1), Logs: []*types.Log{}}
	for i := range logs {
		l := logs[i]
		l.TxHash, l.BlockNumber, l.BlockHash, l.Index, l.TxIndex = tx, n.head, rc.BlockHash, uint(i), 0
		rc.Logs = append(rc.Logs, &l)
		if status == types.ReceiptStatusSuccessful { // a reverted transaction emits nothing
			n.logs = append(n.logs, l)
		}
	}
	if status != types.ReceiptStatusSuccessful {
		rc.Logs = []*types.Log{}
	}
	rc.Bloom = types.CreateBloom(rc)
	n.receipts[tx] = rc
}

// Head returns the latest block number.
func (n *Node) Head() uint64 { n.mu.Lock(); defer n.mu.Unlock(); return n.head }

// Log builds a token log with topics and data.
func (n *Node) Log(topics []common.Hash, data []byte) types.Log {
	return types.Log{Address: n.Token, Topics: topics, Data: data}
}

// Calls returns how often method was called.
func (n *Node) Calls(method string) int { n.mu.Lock(); defer n.mu.Unlock(); return n.calls[method] }

type rpcReq struct {
	ID     json.RawMessage   `json:"id"`
	Method string            `json:"method"`
	Params []json.RawMessage `json:"params"`
}

func (n *Node) serve(w http.ResponseWriter, r *http.Request) {
	var req rpcReq
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		http.Error(w, "bad json", 400)
		return
	}
	result, rpcErr := n.handle(req)
	out := map[string]any{"jsonrpc": "2.0", "id": req.ID}
	if rpcErr != "" {
		out["error"] = map[string]any{"code": 3, "message": rpcErr}
	} else {
		out["result"] = result
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(out)
}

func (n *Node) handle(req rpcReq) (any, string) {
	switch req.Method {
	case "eth_chainId":
		return hexutil.EncodeBig(n.ChainID), ""
	case "eth_blockNumber":
		n.count(req.Method)
		return hexutil.EncodeUint64(n.Head()), ""
	case "eth_getTransactionReceipt":
		n.count(req.Method)
		var h string
		if len(req.Params) != 1 || json.Unmarshal(req.Params[0], &h) != nil || len(h) != 66 {
			return nil, "invalid argument 0: hex string of 32 bytes expected"
		}
		n.mu.Lock()
		rc := n.receipts[common.HexToHash(h)]
		n.mu.Unlock()
		if rc == nil {
			return nil, "" // JSON null: not found
		}
		return rc, ""
	case "eth_getLogs":
		n.count(req.Method)
		return n.filterLogs(req)
	case "eth_call":
	default:
		return nil, "method not supported: " + req.Method
	}
	var arg struct {
		To    *common.Address `json:"to"`
		Input hexutil.Bytes   `json:"input"`
		Data  hexutil.Bytes   `json:"data"`
	}
	if len(req.Params) == 0 || json.Unmarshal(req.Params[0], &arg) != nil || arg.To == nil {
		return nil, "bad eth_call params"
	}
	input := arg.Input
	if len(input) == 0 {
		input = arg.Data
	}
	if *arg.To != n.Token || len(input) < 4 {
		return "0x", ""
	}
	tokenABI := onchain.TokenABI()
	m, err := tokenABI.MethodById(input[:4])
	if err != nil {
		return nil, "execution reverted"
	}
	n.mu.Lock()
	n.calls[m.Name]++
	n.mu.Unlock()
	var out []byte
	switch m.Name {
	case "DOMAIN_SEPARATOR":
		if n.NoSeparator {
			return nil, "execution reverted"
		}
		sep := n.Separator
		if sep == (common.Hash{}) {
			sep, _ = x402.DomainSeparator(x402.Domain{Name: n.Name, Version: n.Version, ChainID: n.ChainID, Contract: n.Token})
		}
		out, err = m.Outputs.Pack(sep)
	case "eip712Domain":
		if n.NoEIP712Domain {
			return nil, "execution reverted"
		}
		out, err = m.Outputs.Pack([1]byte{0x0f}, n.Name, n.Version, n.ChainID, n.Token, [32]byte{}, []*big.Int{})
	case "balanceOf":
		args, uerr := m.Inputs.Unpack(input[4:])
		if uerr != nil {
			return nil, "execution reverted"
		}
		n.mu.Lock()
		b := n.balances[args[0].(common.Address)]
		n.mu.Unlock()
		if b == nil {
			b = new(big.Int)
		}
		out, err = m.Outputs.Pack(b)
	case "authorizationState":
		args, uerr := m.Inputs.Unpack(input[4:])
		if uerr != nil {
			return nil, "execution reverted"
		}
		from := args[0].(common.Address)
		nonce := common.Hash(args[1].([32]byte))
		n.mu.Lock()
		used := n.used[strings.ToLower(from.Hex()+nonce.Hex())]
		n.mu.Unlock()
		out, err = m.Outputs.Pack(used)
	}
	if err != nil {
		return nil, err.Error()
	}
	return hexutil.Encode(out), ""
}

func (n *Node) count(method string) { n.mu.Lock(); n.calls[method]++; n.mu.Unlock() }

// filterLogs serves eth_getLogs strictly: one filter object with an address, a
// hex block range no wider than 10,000 blocks (public X Layer nodes cap it) and
// topic positions, each null or a list.
func (n *Node) filterLogs(req rpcReq) (any, string) {
	var f struct {
		Address   json.RawMessage   `json:"address"`
		FromBlock string            `json:"fromBlock"`
		ToBlock   string            `json:"toBlock"`
		Topics    []json.RawMessage `json:"topics"`
	}
	if len(req.Params) != 1 || json.Unmarshal(req.Params[0], &f) != nil {
		return nil, "invalid filter"
	}
	var addrs []common.Address
	if json.Unmarshal(f.Address, &addrs) != nil {
		var one common.Address
		if json.Unmarshal(f.Address, &one) != nil {
			return nil, "filter without an address"
		}
		addrs = []common.Address{one}
	}
	from, err1 := hexutil.DecodeUint64(f.FromBlock)
	to, err2 := hexutil.DecodeUint64(f.ToBlock)
	if err1 != nil || err2 != nil || from > to {
		return nil, "invalid block range"
	}
	if to-from > 10000 {
		return nil, "block range too large"
	}
	topics := make([][]common.Hash, len(f.Topics))
	for i, raw := range f.Topics {
		if string(raw) == "null" {
			continue
		}
		if json.Unmarshal(raw, &topics[i]) != nil {
			var one common.Hash
			if json.Unmarshal(raw, &one) != nil {
				return nil, "invalid topics"
			}
			topics[i] = []common.Hash{one}
		}
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	out := []types.Log{}
	for _, l := range n.logs {
		if l.BlockNumber < from || l.BlockNumber > to || !slices.Contains(addrs, l.Address) {
			continue
		}
		match := true
		for i, want := range topics {
			if len(want) == 0 {
				continue
			}
			if i >= len(l.Topics) || !slices.Contains(want, l.Topics[i]) {
				match = false
				break
			}
		}
		if match {
			out = append(out, l)
		}
	}
	return out, ""
}
