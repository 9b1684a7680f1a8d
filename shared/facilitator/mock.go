package facilitator

import (
	"context"
	"errors"
	"strings"

	"github.com/ethereum/go-ethereum/crypto"

	"github.com/insforge/edge-functions-go/shared/config"
)

// Mock replaces only the facilitator (MOCK_OKX_FACILITATOR=true): local checks
// still run before it, and every result it returns is marked Mock so the ledger
// never counts it as revenue. It refuses to exist in production.
type Mock struct{}

var _ Facilitator = Mock{}

// ErrMockInProduction is returned when mock mode is requested anywhere but an
// explicit development or test environment.
var ErrMockInProduction = errors.New("MOCK_OKX_FACILITATOR=true needs ENVIRONMENT=development or ENVIRONMENT=test")

// MockAllowed is the allow-list for mock mode: only an ENVIRONMENT explicitly
// named development or test. Unset, production, staging, a typo: refused.
func MockAllowed(env config.Environment) bool {
	switch strings.ToLower(strings.TrimSpace(env.Name)) {
	case "development", "test":
		return true
	}
	return false
}

// NewMock returns the mock facilitator where MockAllowed.
func NewMock(env config.Environment) (Mock, error) {
	if !MockAllowed(env) {
		return Mock{}, ErrMockInProduction
	}
	return Mock{}, nil
}

// Verify accepts every payment that reached it (it passed the local checks).
func (Mock) Verify(_ context.Context, req Request) (*VerifyResult, error) {
	return &VerifyResult{Valid: true, Payer: req.Payment.Authorization.From}, nil
}

// Settle returns a deterministic fake hash per authorization, so a retried
// settle maps to the same "transaction".
func (Mock) Settle(_ context.Context, req Request) (*SettleResult, error) {
	return &SettleResult{
		Status: StatusSuccess, Transaction: MockTxHash(req), Network: req.Requirements.Network,
		Payer: req.Payment.Authorization.From, Mock: true,
	}, nil
}

// Status reports every hash as settled.
func (Mock) Status(_ context.Context, txHash string) (*SettleResult, error) {
	return &SettleResult{Status: StatusSuccess, Transaction: txHash, Mock: true}, nil
}

// MockTxHash is keccak256 over the network, asset, payer and nonce.
func MockTxHash(req Request) string {
	a := req.Payment.Authorization
	key := strings.ToLower(strings.Join([]string{"x402-mock", req.Requirements.Network, req.Requirements.Asset, a.From, a.Nonce}, "|"))
	return crypto.Keccak256Hash([]byte(key)).Hex()
}
