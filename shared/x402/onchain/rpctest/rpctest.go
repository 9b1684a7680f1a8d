// Package rpctest is a loopback JSON-RPC node serving the EIP-712 domain views of
// one token (DOMAIN_SEPARATOR(), eip712Domain()), for the check-domain cases a real
// node with the devnet's token cannot produce: tokens with other domains, with only
// one of the two views or neither, and separators computed elsewhere (viem). Every
// other on-chain fact — receipts, logs, balances, authorizationState, reorgs — is
// tested on the devnet (shared/localchain, shared/x402/onchain/onchaintest).
package rpctest

import (
	"encoding/json"
	"math/big"
	"net/http"
	"net/http/httptest"
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
	// Separator, when set, is what DOMAIN_SEPARATOR() returns (a value computed
	// elsewhere); otherwise it is computed from Name and Version.
	Separator common.Hash
}

// New starts a node for token with the given domain.
func New(t testing.TB, chainID int64, token common.Address, name, version string) *Node {
	n := &Node{ChainID: big.NewInt(chainID), Token: token, Name: name, Version: version}
	n.Server = httptest.NewServer(http.HandlerFunc(n.serve))
	t.Cleanup(n.Close)
	return n
}

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
	default:
		return nil, "execution reverted"
	}
	if err != nil {
		return nil, err.Error()
	}
	return hexutil.Encode(out), ""
}
