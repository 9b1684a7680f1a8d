package x402gateway

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// VerifyReceipt accepts only what the gateway issues for this upstream, now:
// each check is proved by a receipt that fails it alone.
func TestVerifyReceiptRefusesEveryWrongReceipt(t *testing.T) {
	key := []byte(testReceiptKey)
	const audience = "https://api.example.com/v1"
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	valid := func() Receipt {
		return Receipt{
			RegisteredClaims: jwt.RegisteredClaims{Issuer: ReceiptIssuer, Audience: jwt.ClaimStrings{audience},
				IssuedAt: jwt.NewNumericDate(now.Add(-time.Second)), ExpiresAt: jwt.NewNumericDate(now.Add(ReceiptTTL - time.Second))},
			PaymentID: "9f0f5f80-eb9f-4b53-862f-48746ca53bb4", Payer: "0x486dfe1f938c14df1d612dc47457fae1d4432a5d", Amount: "1000",
			Asset: "0x4ae46a509f6b1d9056937ba4500cb143933d2dc8", Network: "eip155:196", PayTo: "0x209693bc6afc0c5328ba36faf03c514ef312287c",
			Nonce: "0x01", Route: "GET /pay/quote", Method: "GET", Path: "/quote", BodySHA256: bodyDigest(nil), Status: ReceiptStatusVerified,
		}
	}
	sign := func(t *testing.T, m jwt.SigningMethod, k any, r Receipt) string {
		t.Helper()
		tok, err := jwt.NewWithClaims(m, r).SignedString(k)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	hs256 := func(mut func(*Receipt)) func(*testing.T) string {
		return func(t *testing.T) string {
			r := valid()
			mut(&r)
			return sign(t, jwt.SigningMethodHS256, key, r)
		}
	}
	cases := []struct {
		name  string
		token func(*testing.T) string
		ok    bool
	}{
		{"valid", hs256(func(*Receipt) {}), true},
		{"valid settled with its transaction", hs256(func(r *Receipt) { r.Status, r.Transaction = ReceiptStatusSettled, "0xabc" }), true},
		{"wrong audience", hs256(func(r *Receipt) { r.Audience = jwt.ClaimStrings{"https://other.example.com/v1"} }), false},
		{"audience with a trailing slash", hs256(func(r *Receipt) { r.Audience = jwt.ClaimStrings{audience + "/"} }), false},
		{"no audience", hs256(func(r *Receipt) { r.Audience = nil }), false},
		{"wrong issuer", hs256(func(r *Receipt) { r.Issuer = "someone-else" }), false},
		{"no issuer", hs256(func(r *Receipt) { r.Issuer = "" }), false},
		{"expired", hs256(func(r *Receipt) { r.ExpiresAt = jwt.NewNumericDate(now.Add(-time.Second)) }), false},
		{"no expiry", hs256(func(r *Receipt) { r.ExpiresAt = nil }), false},
		{"issued in the future", hs256(func(r *Receipt) { r.IssuedAt = jwt.NewNumericDate(now.Add(time.Minute)) }), false},
		{"settled without tx", hs256(func(r *Receipt) { r.Status = ReceiptStatusSettled }), false},
		{"unknown status", hs256(func(r *Receipt) { r.Status = "paid" }), false},
		{"no payment id", hs256(func(r *Receipt) { r.PaymentID = "" }), false},
		{"no payer", hs256(func(r *Receipt) { r.Payer = "" }), false},
		{"no amount", hs256(func(r *Receipt) { r.Amount = "" }), false},
		{"no body digest", hs256(func(r *Receipt) { r.BodySHA256 = "" }), false},
		{"malformed body digest", hs256(func(r *Receipt) { r.BodySHA256 = strings.ToUpper(bodyDigest(nil)) }), false},
		{"alg HS384 with the right key", func(t *testing.T) string { return sign(t, jwt.SigningMethodHS384, key, valid()) }, false},
		{"alg HS512 with the right key", func(t *testing.T) string { return sign(t, jwt.SigningMethodHS512, key, valid()) }, false},
		{"alg none", func(t *testing.T) string {
			return sign(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, valid())
		}, false},
		{"wrong key", func(t *testing.T) string {
			return sign(t, jwt.SigningMethodHS256, []byte("another-key-0123456789abcdef0123456789"), valid())
		}, false},
		{"signature stripped", func(t *testing.T) string {
			tok := sign(t, jwt.SigningMethodHS256, key, valid())
			return tok[:strings.LastIndexByte(tok, '.')+1]
		}, false},
		{"not a JWS", func(*testing.T) string { return "not-a-token" }, false},
		{"empty", func(*testing.T) string { return "" }, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r, err := VerifyReceipt(key, tc.token(t), audience, now)
			if tc.ok {
				if err != nil || r == nil || r.PaymentID == "" {
					t.Fatalf("refused a valid receipt: %v", err)
				}
				return
			}
			if err == nil || r != nil || !errors.Is(err, ErrInvalidReceipt) {
				t.Fatalf("accepted: %+v, err %v", r, err)
			}
		})
	}
}

// Matches binds a receipt to one request: method, path, query and body.
func TestReceiptMatchesOnlyItsRequest(t *testing.T) {
	r := Receipt{Method: "POST", Path: "/items/a b", Query: "x=1", BodySHA256: bodyDigest([]byte(`{"a":1}`))}
	if !r.Matches("POST", "/items/a b", "x=1", []byte(`{"a":1}`)) {
		t.Fatal("refused its own request")
	}
	for name, m := range map[string][4]string{
		"method": {"PUT", "/items/a b", "x=1", `{"a":1}`},
		"path":   {"POST", "/items/a%20b", "x=1", `{"a":1}`},
		"query":  {"POST", "/items/a b", "x=2", `{"a":1}`},
		"body":   {"POST", "/items/a b", "x=1", `{"a":2}`},
		"empty":  {"POST", "/items/a b", "x=1", ``},
	} {
		if r.Matches(m[0], m[1], m[2], []byte(m[3])) {
			t.Errorf("matched another %s", name)
		}
	}
	if bodyDigest(nil) != "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" { // SHA-256("")
		t.Fatalf("digest of the empty body %s", bodyDigest(nil))
	}
}
