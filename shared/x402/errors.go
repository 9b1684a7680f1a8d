package x402

import "fmt"

// x402 error reason strings (spec v1/v2; the nonce one is the coinbase Go SDK's).
const (
	ReasonInvalidVersion      = "invalid_x402_version"
	ReasonUnsupportedScheme   = "unsupported_scheme"
	ReasonInvalidNetwork      = "invalid_network"
	ReasonInvalidPayload      = "invalid_payload"
	ReasonInvalidRequirements = "invalid_payment_requirements"
	ReasonRecipientMismatch   = "invalid_exact_evm_payload_recipient_mismatch"
	ReasonValueMismatch       = "invalid_exact_evm_payload_authorization_value_mismatch" // v2 name
	ReasonValueV1             = "invalid_exact_evm_payload_authorization_value"          // v1 name
	ReasonValidAfter          = "invalid_exact_evm_payload_authorization_valid_after"
	ReasonValidBefore         = "invalid_exact_evm_payload_authorization_valid_before"
	ReasonSignature           = "invalid_exact_evm_payload_signature"
	ReasonNonceUsed           = "invalid_exact_evm_nonce_already_used"
	ReasonTransactionState    = "invalid_transaction_state"
	ReasonUnexpectedVerify    = "unexpected_verify_error"
	ReasonUnexpectedSettle    = "unexpected_settle_error"
)

// CheckError is a failed payment check. Reason is the x402 reason string sent to
// the client; Message says which check failed, safe to show.
type CheckError struct {
	Reason  string
	Message string
}

func (e *CheckError) Error() string { return e.Reason + ": " + e.Message }

func fail(reason, format string, args ...any) *CheckError {
	return &CheckError{Reason: reason, Message: fmt.Sprintf(format, args...)}
}

// HeaderError is a payment header that cannot be decoded (bad base64, bad JSON,
// too large). It is a malformed request: HTTP 400, not 402.
type HeaderError struct {
	Header string
	Err    error
}

func (e *HeaderError) Error() string { return fmt.Sprintf("%s header: %v", e.Header, e.Err) }
func (e *HeaderError) Unwrap() error { return e.Err }

var knownReasons = map[string]bool{
	ReasonInvalidVersion: true, ReasonUnsupportedScheme: true, ReasonInvalidNetwork: true, ReasonInvalidPayload: true,
	ReasonInvalidRequirements: true, ReasonRecipientMismatch: true, ReasonValueMismatch: true, ReasonValueV1: true,
	ReasonValidAfter: true, ReasonValidBefore: true, ReasonSignature: true, ReasonNonceUsed: true,
	ReasonTransactionState: true, ReasonUnexpectedVerify: true, ReasonUnexpectedSettle: true,
	"insufficient_funds": true, "invalid_scheme": true,
}

// KnownReason reports whether reason is one of the x402 reason codes above (or
// insufficient_funds / invalid_scheme from the spec): the only upstream reasons
// passed on to clients.
func KnownReason(reason string) bool { return knownReasons[reason] }
