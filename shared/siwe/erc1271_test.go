package siwe_test

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/insforge/edge-functions-go/shared/siwe"
)

// contractNode is a strict JSON-RPC node with one EIP-1271 wallet: it answers
// eth_call to wallet with the magic value when the call data is exactly
// isValidSignature(digest, accept), and refuses anything else the way a node does.
type contractNode struct {
	wallet string
	accept []byte
	calls  atomic.Int32
	fail   bool
}

func (n *contractNode) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	n.calls.Add(1)
	if n.fail {
		http.Error(w, "bad gateway", http.StatusBadGateway)
		return
	}
	var req struct {
		Method string            `json:"method"`
		Params []json.RawMessage `json:"params"`
		ID     int               `json:"id"`
	}
	if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/json" || json.NewDecoder(r.Body).Decode(&req) != nil ||
		req.Method != "eth_call" || len(req.Params) != 2 || string(req.Params[1]) != `"latest"` {
		http.Error(w, "bad request", http.StatusBadRequest)
		return
	}
	var call struct{ To, Data string }
	_ = json.Unmarshal(req.Params[0], &call)
	data, err := hex.DecodeString(strings.TrimPrefix(call.Data, "0x"))
	result := "0x"
	if err == nil && call.To == n.wallet && len(data) >= 4+96 && hex.EncodeToString(data[:4]) == "1626ba7e" {
		sigLen := int(data[4+95])
		sig := data[4+96:]
		if data[4+63] == 0x40 && len(sig) == (sigLen+31)/32*32 && string(sig[:sigLen]) == string(n.accept) {
			result = "0x1626ba7e" + strings.Repeat("0", 56)
		} else {
			result = "0xffffffff" + strings.Repeat("0", 56)
		}
	}
	_ = json.NewEncoder(w).Encode(map[string]any{"jsonrpc": "2.0", "id": req.ID, "result": result})
}

func TestVerifyChecksContractWalletsThroughTheRPC(t *testing.T) {
	accept := []byte(strings.Repeat("\x01", 97)) // e.g. a Safe's concatenated owner signatures
	node := &contractNode{accept: accept}
	srv := httptest.NewServer(node)
	defer srv.Close()
	f := newFixture(t, siwe.NewRPC(srv.URL))
	node.wallet = strings.ToLower(f.wallet.Address)
	msg := f.fields(t).Build()

	r, err := f.v.Verify(context.Background(), msg, "0x"+hex.EncodeToString(accept[:96]))
	if !errors.Is(err, &siwe.Error{Kind: siwe.KindSignature}) || r != nil {
		t.Fatalf("a signature the contract refuses: %v", err)
	}
	r, err = f.v.Verify(context.Background(), msg, "0x"+hex.EncodeToString(accept))
	if err != nil || !r.Contract || r.Account != "eip155:196:"+node.wallet {
		t.Fatalf("accepted signature: %v %+v", err, r)
	}
	// An EOA signature that recovers never asks the node.
	before := node.calls.Load()
	msg = f.fields(t).Build()
	if _, err := f.v.Verify(context.Background(), msg, f.wallet.Sign(msg)); err != nil || node.calls.Load() != before {
		t.Fatalf("EOA: %v, node calls %d → %d", err, before, node.calls.Load())
	}
	node.fail = true
	msg = f.fields(t).Build()
	if _, err := f.v.Verify(context.Background(), msg, "0x"+hex.EncodeToString(accept)); !errors.Is(err, &siwe.Error{Kind: siwe.KindUnavailable}) {
		t.Fatalf("node down: %v", err)
	}
}

func TestRPCDoesNotFollowRedirects(t *testing.T) {
	var hit atomic.Bool
	target := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { hit.Store(true) }))
	defer target.Close()
	redir := httptest.NewServer(http.RedirectHandler(target.URL, http.StatusTemporaryRedirect))
	defer redir.Close()
	if _, err := siwe.NewRPC(redir.URL).IsValidSignature(context.Background(), "0x01", make([]byte, 32), []byte{1}); err == nil || hit.Load() {
		t.Fatalf("err %v, redirect followed %v", err, hit.Load())
	}
}
