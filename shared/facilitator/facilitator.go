// Package facilitator talks to x402 facilitators: the consumer-side interface the
// paywall and reconciler use, the OKX client (both API families) and the mock.
package facilitator

import (
	"context"
	"errors"
	"fmt"

	"github.com/insforge/edge-functions-go/shared/x402"
)

// Request is one payment to verify or settle. Requirements and Resource are the
// server's own copies; the client's echo is never forwarded.
type Request struct {
	Payment      x402.ExactPayload
	Requirements x402.Requirements
	Resource     *x402.Resource
}

// VerifyResult is the facilitator's verdict.
type VerifyResult struct {
	Valid   bool
	Reason  string // x402 invalidReason when !Valid
	Message string
	Payer   string
}

// Settlement statuses, normalised across API families.
const (
	StatusSuccess  = "success"   // mined; Transaction is set
	StatusPending  = "pending"   // broadcast, outcome unknown
	StatusTimeout  = "timeout"   // syncSettle gave up waiting; Transaction is set
	StatusFailed   = "failed"    // definitively not settled
	StatusNotFound = "not_found" // status query: the facilitator does not know the hash
)

// SettleResult is a settlement outcome (from settle or a status query).
type SettleResult struct {
	Status      string
	Transaction string
	Network     string
	Payer       string
	Reason      string
	Message     string
	Mock        bool // produced by the mock facilitator; never real money
}

// Settled reports a definitive, successful settlement.
func (r *SettleResult) Settled() bool { return r.Status == StatusSuccess && r.Transaction != "" }

// Facilitator is what the paywall and the reconciler need.
type Facilitator interface {
	Verify(ctx context.Context, req Request) (*VerifyResult, error)
	Settle(ctx context.Context, req Request) (*SettleResult, error)
	// Status looks a settlement up by transaction hash. ErrStatusUnsupported when
	// the API family has no status endpoint.
	Status(ctx context.Context, txHash string) (*SettleResult, error)
}

// ErrStatusUnsupported is returned by Status on the old OKX API.
var ErrStatusUnsupported = errors.New("facilitator: settlement status is not available on this API")

// Error is a failed facilitator call.
type Error struct {
	Op         string // verify, settle, status
	HTTPStatus int
	Code       string // OKX code, if any
	Message    string // safe, human-readable cause
	// Definitive is true when the facilitator refused the request before acting
	// on it (authentication, parameters, rate limit): no money can have moved.
	// Otherwise (5xx, timeout, transport) a settle may or may not have happened.
	Definitive bool
	Err        error
}

func (e *Error) Error() string {
	s := "facilitator " + e.Op + ": " + e.Message
	if e.Code != "" {
		s += fmt.Sprintf(" (code %s)", e.Code)
	}
	if e.HTTPStatus != 0 {
		s += fmt.Sprintf(" (HTTP %d)", e.HTTPStatus)
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

func (e *Error) Unwrap() error { return e.Err }

// IsDefinitive reports whether err proves the facilitator did nothing.
func IsDefinitive(err error) bool {
	var fe *Error
	return errors.As(err, &fe) && fe.Definitive
}
