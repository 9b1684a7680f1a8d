package x402_test

import (
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/crypto"

	"github.com/insforge/edge-functions-go/shared/x402"
	"github.com/insforge/edge-functions-go/shared/x402/x402test"
)

// Run: go test ./shared/x402 -run '^$' -bench . -benchmem
//
// BenchmarkFloorEcrecover is the one thing EIP-3009 verification cannot avoid:
// recovering the signer of a 32-byte digest. BenchmarkVerify (verify_test.go) is
// the whole local check (fields, amounts, validity window, low-s, EIP-712 digest,
// ecrecover), budget 150 µs/op; BenchmarkDecodePaymentPayload (codec_test.go) is
// base64 + JSON of a real v2 PAYMENT-SIGNATURE header.

func BenchmarkFloorEcrecover(b *testing.B) {
	v := verifier(b)
	payer := x402test.NewPayer(b)
	m := payer.Message(v.Offer, x402test.Now)
	digest, err := x402.TransferDigest(v.Offer.Domain(), m)
	if err != nil {
		b.Fatal(err)
	}
	sig, err := crypto.Sign(digest, payer.Key)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		pub, err := crypto.SigToPub(digest, sig)
		if err != nil || crypto.PubkeyToAddress(*pub) != payer.Address {
			b.Fatal("recovered the wrong signer", err)
		}
	}
}

// BenchmarkTransferDigest isolates the EIP-712 hashing inside Verify.
func BenchmarkTransferDigest(b *testing.B) {
	v := verifier(b)
	m := x402test.NewPayer(b).Message(v.Offer, x402test.Now)
	d := v.Offer.Domain()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := x402.TransferDigest(d, m); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkChallenge is the 402 answer: requirements encoded as the v2 header and the v1 body.
func BenchmarkChallenge(b *testing.B) {
	o := x402test.Offer(b)
	b.ReportAllocs()
	for b.Loop() {
		c, err := o.Challenge("https://api.example.com/x402/report", "", "pay")
		if err != nil || c.Header == "" {
			b.Fatal(err)
		}
	}
}

// BenchmarkVerifySecondAsset is the worst local check with two assets: a v1
// payment (no asset named) in the second asset, so the first asset's domain is
// hashed and recovered in vain before the second matches. Compare with
// BenchmarkVerify (one asset).
func BenchmarkVerifySecondAsset(b *testing.B) {
	o, err := x402.NewOffer(x402test.ParamsTwoAssets())
	if err != nil {
		b.Fatal(err)
	}
	v := &x402.Verifier{Offer: o, Now: func() time.Time { return x402test.Now }}
	p := x402test.NewPayer(b).PayAsset(b, o, x402test.USDT0, x402.StyleV1, x402test.Now)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := v.Verify(x402.StyleV1, &p.Payload); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkChallengeTwoAssets is the 402 answer listing two assets.
func BenchmarkChallengeTwoAssets(b *testing.B) {
	o, err := x402.NewOffer(x402test.ParamsTwoAssets())
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if c, err := o.Challenge("https://api.example.com/x402/report", "", "pay"); err != nil || c.Header == "" {
			b.Fatal(err)
		}
	}
}
