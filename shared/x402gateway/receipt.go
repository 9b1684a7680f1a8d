package x402gateway

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"regexp"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// ReceiptIssuer is the iss of every receipt.
const ReceiptIssuer = "x402-gateway"

// ReceiptTTL is how long a receipt is valid: it accompanies one upstream call.
const ReceiptTTL = 60 * time.Second

// Receipt is what the upstream learns about the payment of the request it is
// serving, in X-Payment-Receipt (a compact JWS, HS256 with X402_GATEWAY_RECEIPT_KEY).
//
// The payment is verified by the facilitator and claimed in the ledger, but not
// settled: settlement happens only after the upstream answers 2xx, so there is
// no transaction hash yet. The upstream correlates with the ledger through
// PaymentID (x402_payments.id) or the authorization (network, asset, payer, nonce).
type Receipt struct {
	jwt.RegisteredClaims
	PaymentID string `json:"payment_id"`
	Payer     string `json:"payer"`
	Amount    string `json:"amount"` // atomic units
	Asset     string `json:"asset"`
	Network   string `json:"network"`
	PayTo     string `json:"pay_to"`
	Nonce     string `json:"nonce"`
	Route     string `json:"route"`  // the priced route, e.g. "GET /pay/v1/search"
	Method    string `json:"method"` // the forwarded request line, so a receipt
	Path      string `json:"path"`   // cannot be replayed against another request
	Query     string `json:"query,omitempty"`
	// BodySHA256 is the lower-case hex SHA-256 of the forwarded body (of the
	// empty string when there is none): a receipt cannot carry another body.
	BodySHA256 string `json:"body_sha256"`
	// Status is "verified" (settled only if the upstream answers 2xx), or
	// "settled" with Transaction when the payment settled before this call:
	// the one delivery of a payment first answered 202 "settlement pending",
	// which calls the upstream again with the same PaymentID.
	Status      string `json:"status"`
	Transaction string `json:"tx,omitempty"`
}

// Receipt statuses.
const (
	ReceiptStatusVerified = "verified"
	ReceiptStatusSettled  = "settled"
)

var receiptMethod = jwt.SigningMethodHS256

func signReceipt(key []byte, r Receipt) (string, error) {
	t := jwt.NewWithClaims(receiptMethod, r)
	t.Header["typ"] = "x402-receipt+jwt"
	return t.SignedString(key)
}

// ErrInvalidReceipt is returned by VerifyReceipt for any receipt that must not
// be trusted.
var ErrInvalidReceipt = errors.New("x402gateway: invalid payment receipt")

// VerifyReceipt checks a receipt the way an upstream written in Go would: HS256
// only, the gateway's issuer, the audience (the upstream's own base URL as
// configured in X402_GATEWAY_UPSTREAM_URL), and a current validity window.
func VerifyReceipt(key []byte, token, audience string, now time.Time) (*Receipt, error) {
	var r Receipt
	_, err := jwt.ParseWithClaims(token, &r, func(*jwt.Token) (any, error) { return key, nil },
		jwt.WithValidMethods([]string{receiptMethod.Alg()}), jwt.WithIssuer(ReceiptIssuer),
		jwt.WithAudience(audience), jwt.WithExpirationRequired(), jwt.WithIssuedAt(),
		jwt.WithTimeFunc(func() time.Time { return now }))
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidReceipt, err)
	}
	settledOK := r.Status == ReceiptStatusSettled && r.Transaction != ""
	if r.Status != ReceiptStatusVerified && !settledOK || r.PaymentID == "" || r.Payer == "" || r.Amount == "" ||
		!sha256Hex.MatchString(r.BodySHA256) {
		return nil, fmt.Errorf("%w: incomplete claims", ErrInvalidReceipt)
	}
	return &r, nil
}

// Matches reports whether the receipt was issued for this request: its method,
// its path after the upstream's base path (decoded, as in r.URL.Path), its raw
// query and its body. An upstream checks it after VerifyReceipt, so a receipt
// cannot be replayed against another call.
func (r *Receipt) Matches(method, path, rawQuery string, body []byte) bool {
	return r.Method == method && r.Path == path && r.Query == rawQuery && r.BodySHA256 == bodyDigest(body)
}

var sha256Hex = regexp.MustCompile(`^[0-9a-f]{64}$`)

func bodyDigest(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}
