package x402

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// MaxHeaderLen caps an encoded x402 header. Real payloads are ~1 KiB; the cap
// bounds the work an anonymous request can cause before any check runs.
const MaxHeaderLen = 8 << 10

// EncodeHeader encodes v as JSON in standard, padded base64: the only form the
// @x402 TypeScript client accepts. JSON is UTF-8, so non-ASCII token names survive.
func EncodeHeader(v any) (string, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return "", fmt.Errorf("x402: encode header: %w", err)
	}
	return base64.StdEncoding.EncodeToString(b), nil
}

// decodeBase64 tries standard padded base64 first (what every reference client
// sends), then tolerates the unpadded and URL-safe variants on input.
func decodeBase64(s string) ([]byte, error) {
	var firstErr error
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		b, err := enc.DecodeString(s)
		if err == nil {
			return b, nil
		}
		if firstErr == nil {
			firstErr = err
		}
	}
	return nil, fmt.Errorf("not valid base64: %w", firstErr)
}

// DecodeHeader decodes a base64 JSON header into v (which must be a pointer to a
// struct). Any failure is a *HeaderError.
func DecodeHeader(name, value string, v any) error {
	value = strings.TrimSpace(value)
	if value == "" {
		return &HeaderError{Header: name, Err: errors.New("empty")}
	}
	if len(value) > MaxHeaderLen {
		return &HeaderError{Header: name, Err: fmt.Errorf("longer than %d bytes", MaxHeaderLen)}
	}
	raw, err := decodeBase64(value)
	if err != nil {
		return &HeaderError{Header: name, Err: err}
	}
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || raw[0] != '{' {
		return &HeaderError{Header: name, Err: errors.New("not a JSON object")}
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return &HeaderError{Header: name, Err: fmt.Errorf("invalid JSON: %w", err)}
	}
	return nil
}

// DecodePaymentPayload decodes PAYMENT-SIGNATURE or X-PAYMENT (name says which).
func DecodePaymentPayload(name, value string) (*PaymentPayload, error) {
	var p PaymentPayload
	if err := DecodeHeader(name, value, &p); err != nil {
		return nil, err
	}
	return &p, nil
}

// DecodePaymentRequired decodes a v2 PAYMENT-REQUIRED header (payer side).
func DecodePaymentRequired(value string) (*PaymentRequired, error) {
	var p PaymentRequired
	if err := DecodeHeader(HeaderPaymentRequired, value, &p); err != nil {
		return nil, err
	}
	return &p, nil
}

// DecodeSettlementResponse decodes PAYMENT-RESPONSE or X-PAYMENT-RESPONSE.
func DecodeSettlementResponse(name, value string) (*SettlementResponse, error) {
	var s SettlementResponse
	if err := DecodeHeader(name, value, &s); err != nil {
		return nil, err
	}
	return &s, nil
}
