package siwe

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/insforge/edge-functions-go/shared/internal/positive"
)

// ContractChecker asks a contract account whether it accepts a signature
// (EIP-1271, https://eips.ethereum.org/EIPS/eip-1271).
type ContractChecker interface {
	// IsValidSignature reports whether the contract at address (lower-case 0x)
	// returns the EIP-1271 magic value for digest and sig. An account without
	// code answers false. An error means the node could not answer.
	IsValidSignature(ctx context.Context, address string, digest, sig []byte) (bool, error)
}

// isValidSignatureSelector is bytes4(keccak256("isValidSignature(bytes32,bytes)")),
// also the magic value a contract returns to accept.
const isValidSignatureSelector = "1626ba7e"

// RPC is a ContractChecker over an Ethereum JSON-RPC node (eth_call at "latest").
type RPC struct {
	URL    string
	Client *http.Client
	// Timeout bounds one call (default 5 s); the caller's context bounds it further.
	Timeout time.Duration
}

// MaxRPCResponseBytes caps a node's answer.
const MaxRPCResponseBytes = 64 << 10

// NewRPC returns a checker for url with a client that never follows redirects.
func NewRPC(url string) *RPC {
	return &RPC{URL: url, Timeout: 5 * time.Second, Client: &http.Client{
		Timeout:       5 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

// IsValidSignature calls isValidSignature(bytes32,bytes) on address.
func (r *RPC) IsValidSignature(ctx context.Context, address string, digest, sig []byte) (bool, error) {
	if len(digest) != 32 {
		return false, errors.New("siwe: digest is not 32 bytes")
	}
	// ABI: selector ‖ digest ‖ offset of sig (0x40) ‖ len(sig) ‖ sig padded to 32.
	data := make([]byte, 0, 4+32*3+len(sig)+31)
	sel, _ := hex.DecodeString(isValidSignatureSelector)
	data = append(data, sel...)
	data = append(data, digest...)
	data = append(data, word(0x40)...)
	data = append(data, word(uint64(len(sig)))...)
	data = append(data, sig...)
	if pad := len(sig) % 32; pad != 0 {
		data = append(data, make([]byte, 32-pad)...)
	}
	body, _ := json.Marshal(map[string]any{
		"jsonrpc": "2.0", "id": 1, "method": "eth_call",
		"params": []any{map[string]string{"to": address, "data": "0x" + hex.EncodeToString(data)}, "latest"},
	})
	cctx, cancel := context.WithTimeout(ctx, positive.Or(r.Timeout, 5*time.Second))
	defer cancel()
	req, err := http.NewRequestWithContext(cctx, http.MethodPost, r.URL, bytes.NewReader(body))
	if err != nil {
		return false, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := r.Client.Do(req)
	if err != nil {
		return false, fmt.Errorf("siwe: eth_call: %w", err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, MaxRPCResponseBytes+1))
	if err != nil {
		return false, fmt.Errorf("siwe: eth_call: %w", err)
	}
	if resp.StatusCode != http.StatusOK || len(raw) > MaxRPCResponseBytes {
		return false, fmt.Errorf("siwe: eth_call: HTTP %d", resp.StatusCode)
	}
	var out struct {
		Result *string `json:"result"`
		Error  *struct {
			Code    int    `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	if err := json.Unmarshal(raw, &out); err != nil {
		return false, fmt.Errorf("siwe: eth_call: %w", err)
	}
	if out.Error != nil {
		// Execution reverted (code 3, or -32000 with "revert"): the contract refused.
		if out.Error.Code == 3 || strings.Contains(strings.ToLower(out.Error.Message), "revert") {
			return false, nil
		}
		return false, fmt.Errorf("siwe: eth_call: node error %d", out.Error.Code)
	}
	if out.Result == nil {
		return false, errors.New("siwe: eth_call: no result")
	}
	res := strings.ToLower(*out.Result)
	// The magic value is returned as a bytes4, left-aligned in one 32-byte word.
	return len(res) == 66 && res[2:10] == isValidSignatureSelector && strings.Trim(res[10:], "0") == "", nil
}

func word(n uint64) []byte {
	b := make([]byte, 32)
	for i := 0; i < 8; i++ {
		b[31-i] = byte(n >> (8 * i))
	}
	return b
}
