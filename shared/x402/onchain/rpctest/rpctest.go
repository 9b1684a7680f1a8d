// Package rpctest is a loopback JSON-RPC node serving one EIP-3009 token's view
// functions, so check-domain and the reconciler run against go-ethereum's real
// ethclient without a chain.
package rpctest

import (
	"encoding/json"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"

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

	mu   sync.Mutex
	used map[string]bool
	// Calls counts eth_call by method name.
	calls map[string]int
}

// New starts a node for token with the given domain.
func New(t testing.TB, chainID int64, token common.Address, name, version string) *Node {
	n := &Node{ChainID: big.NewInt(chainID), Token: token, Name: name, Version: version, used: map[string]bool{}, calls: map[string]int{}}
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
		sep, _ := x402.DomainSeparator(x402.Domain{Name: n.Name, Version: n.Version, ChainID: n.ChainID, Contract: n.Token})
		out, err = m.Outputs.Pack(sep)
	case "eip712Domain":
		if n.NoEIP712Domain {
			return nil, "execution reverted"
		}
		out, err = m.Outputs.Pack([1]byte{0x0f}, n.Name, n.Version, n.ChainID, n.Token, [32]byte{}, []*big.Int{})
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
