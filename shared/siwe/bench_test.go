package siwe_test

import (
	"context"
	"testing"
	"time"

	"github.com/insforge/edge-functions-go/shared/siwe"
	"github.com/insforge/edge-functions-go/shared/siwe/siwetest"
)

// BenchmarkVerify is one sign-in check without its store round trip: parse,
// domain/chain/time rules, nonce tag, EIP-191 recovery (decred secp256k1).
func BenchmarkVerify(b *testing.B) {
	nonces := siwe.NewNonces(testSecret, time.Hour)
	w := siwetest.NewWallet(b)
	v, err := siwe.NewVerifier(siwe.Options{Origins: []string{"https://app.example.com"}, Nonces: nonces, Store: noStore{},
		Now: func() time.Time { return now }})
	if err != nil {
		b.Fatal(err)
	}
	n, _, _ := nonces.Issue(now)
	msg := siwetest.Fields{Domain: "app.example.com", Address: w.Address, URI: "https://app.example.com/", ChainID: 196, Nonce: n,
		IssuedAt: now}.Build()
	sig := w.Sign(msg)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := v.Verify(context.Background(), msg, sig); err != nil {
			b.Fatal(err)
		}
	}
}

// noStore accepts every nonce (the benchmark measures the local checks).
type noStore struct{}

func (noStore) Consume(context.Context, string, time.Time) error { return nil }
