// Package x402 holds the x402 wire formats (v1, v2 and the InsForge guide's
// hybrid), the header codecs and the exact-EVM (EIP-3009) checks that run locally
// before any facilitator call. It does no I/O.
package x402

import "encoding/json"

// Protocol constants.
const (
	SchemeExact = "exact"

	// Request headers carrying a payment.
	HeaderPaymentSignature = "PAYMENT-SIGNATURE" // v2 and the guide hybrid
	HeaderXPayment         = "X-PAYMENT"         // v1
	// Response headers.
	HeaderPaymentRequired  = "PAYMENT-REQUIRED"   // v2 challenge (and the hybrid's)
	HeaderPaymentResponse  = "PAYMENT-RESPONSE"   // v2 and hybrid settlement
	HeaderXPaymentResponse = "X-PAYMENT-RESPONSE" // v1 settlement
)

// Style is the client dialect a payment arrived in. It decides which version the
// payload must carry and which response header is written.
type Style int

const (
	// StyleV2 is x402 v2: PAYMENT-SIGNATURE carrying {x402Version:2, accepted, payload}.
	StyleV2 Style = iota + 1
	// StyleV1 is x402 v1: X-PAYMENT carrying {x402Version:1, scheme, network, payload}.
	StyleV1
	// StyleHybrid is the InsForge guide's client: a v1-shaped payload (top-level
	// scheme and network, no accepted) sent in PAYMENT-SIGNATURE. Its x402Version is
	// copied from the challenge it read, so it is 1 (the guide's server) or 2 (ours).
	StyleHybrid
)

func (s Style) String() string {
	switch s {
	case StyleV2:
		return "v2"
	case StyleV1:
		return "v1"
	case StyleHybrid:
		return "hybrid"
	}
	return "unknown"
}

// ResponseHeader is the header the settlement result is returned in.
func (s Style) ResponseHeader() string {
	if s == StyleV1 {
		return HeaderXPaymentResponse
	}
	return HeaderPaymentResponse
}

// Extra carries the EIP-712 domain name and version of an EIP-3009 token.
type Extra struct {
	Name    string `json:"name"`
	Version string `json:"version"`
}

// Requirements is one v2 PaymentRequirements entry.
type Requirements struct {
	Scheme            string `json:"scheme"`
	Network           string `json:"network"`
	Amount            string `json:"amount"`
	Asset             string `json:"asset"`
	PayTo             string `json:"payTo"`
	MaxTimeoutSeconds int    `json:"maxTimeoutSeconds"`
	Extra             *Extra `json:"extra,omitempty"`
}

// Resource describes the paid resource (v2 top level).
type Resource struct {
	URL         string `json:"url"`
	Description string `json:"description,omitempty"`
	MimeType    string `json:"mimeType,omitempty"`
}

// ChallengeRequirement is what a v2 challenge lists in accepts: the v2 fields plus
// maxAmountRequired, which the InsForge guide's client reads from the same
// PAYMENT-REQUIRED header. @x402/fetch ignores the extra field.
type ChallengeRequirement struct {
	Requirements
	MaxAmountRequired string `json:"maxAmountRequired,omitempty"`
}

// PaymentRequired is the v2 challenge (base64 JSON in PAYMENT-REQUIRED).
type PaymentRequired struct {
	X402Version int                    `json:"x402Version"`
	Error       string                 `json:"error,omitempty"`
	Resource    *Resource              `json:"resource,omitempty"`
	Accepts     []ChallengeRequirement `json:"accepts"`
	Extensions  json.RawMessage        `json:"extensions,omitempty"`
}

// RequirementsV1 is one v1 PaymentRequirements entry.
type RequirementsV1 struct {
	Scheme            string          `json:"scheme"`
	Network           string          `json:"network"`
	MaxAmountRequired string          `json:"maxAmountRequired"`
	Resource          string          `json:"resource"`
	Description       string          `json:"description"`
	MimeType          string          `json:"mimeType,omitempty"`
	OutputSchema      json.RawMessage `json:"outputSchema,omitempty"`
	PayTo             string          `json:"payTo"`
	MaxTimeoutSeconds int             `json:"maxTimeoutSeconds"`
	Asset             string          `json:"asset"`
	Extra             *Extra          `json:"extra,omitempty"`
}

// PaymentRequiredV1 is the v1 challenge, sent as the 402 JSON body. Message makes
// the body also satisfy the project's {"error","message"} error shape.
type PaymentRequiredV1 struct {
	X402Version int              `json:"x402Version"`
	Error       string           `json:"error"`
	Message     string           `json:"message,omitempty"`
	Accepts     []RequirementsV1 `json:"accepts"`
}

// Authorization is the EIP-3009 TransferWithAuthorization message. All fields
// are strings on the wire: addresses, decimal integers and a 0x 32-byte nonce.
type Authorization struct {
	From        string `json:"from"`
	To          string `json:"to"`
	Value       string `json:"value"`
	ValidAfter  string `json:"validAfter"`
	ValidBefore string `json:"validBefore"`
	Nonce       string `json:"nonce"`
}

// ExactPayload is the exact-EVM scheme payload (both versions).
type ExactPayload struct {
	Signature     string        `json:"signature"`
	Authorization Authorization `json:"authorization"`
}

// PaymentPayload is what a client sends, in any of the three styles: v2 fills
// Accepted (and usually Resource), v1 and the hybrid fill Scheme and Network.
type PaymentPayload struct {
	X402Version int             `json:"x402Version"`
	Scheme      string          `json:"scheme,omitempty"`
	Network     string          `json:"network,omitempty"`
	Resource    *Resource       `json:"resource,omitempty"`
	Accepted    *Requirements   `json:"accepted,omitempty"`
	Payload     ExactPayload    `json:"payload"`
	Extensions  json.RawMessage `json:"extensions,omitempty"`
}

// SettlementResponse is the PAYMENT-RESPONSE / X-PAYMENT-RESPONSE body.
// Transaction is "" on failure, as the spec requires, so it is never omitted.
type SettlementResponse struct {
	Success     bool   `json:"success"`
	ErrorReason string `json:"errorReason,omitempty"`
	Payer       string `json:"payer,omitempty"`
	Transaction string `json:"transaction"`
	Network     string `json:"network"`
}
