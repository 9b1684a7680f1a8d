// Package x402test builds signed x402 payments for tests: a payer key, the
// authorization a real client would sign, and the header for each client style.
package x402test

import (
	"crypto/ecdsa"
	"crypto/rand"
	"encoding/hex"
	"math/big"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"

	"github.com/insforge/edge-functions-go/shared/x402"
)

// Fixed test values (X Layer USDG as in production, a throwaway recipient).
const (
	Network   = "eip155:196"
	Asset     = "0x4ae46a509f6b1d9056937ba4500cb143933d2dc8"
	PayTo     = "0x209693Bc6afc0C5328bA36FaF03C514EF312287C"
	Price     = "1000"
	TokenName = "Global Dollar"
	TokenVer  = "1"
)

// Now is the fixed clock tests use.
var Now = time.Unix(1_790_000_000, 0)

// Params returns offer parameters for tests.
func Params() x402.Params {
	return x402.Params{
		Network: Network, Asset: Asset, AssetName: TokenName, AssetVersion: TokenVer,
		PayTo: PayTo, Price: Price, MaxTimeoutSeconds: 300, Description: "test report",
	}
}

// USDT0 is the second asset two-asset tests offer: USD₮0 on X Layer.
const USDT0 = "0x779Ded0c9e1022225f8E0630b35a9b54bE713736"

// ParamsTwoAssets returns Params accepting USDG and USD₮0 (x402.LookupAsset).
func ParamsTwoAssets() x402.Params {
	p := Params()
	u, ok := x402.LookupAsset(Network, "USDT0")
	if !ok {
		panic("x402test: USDT0 is not a known asset")
	}
	p.Decimals = 6
	p.OtherAssets = []x402.AssetParams{{Asset: u.Address, Name: u.Name, Version: u.Version, Decimals: u.Decimals}}
	return p
}

// Offer returns the test offer.
func Offer(t testing.TB) *x402.Offer {
	t.Helper()
	o, err := x402.NewOffer(Params())
	if err != nil {
		t.Fatal(err)
	}
	return o
}

// Payer is a throwaway EOA.
type Payer struct {
	Key     *ecdsa.PrivateKey
	Address common.Address
}

// NewPayer generates a payer key.
func NewPayer(t testing.TB) *Payer {
	t.Helper()
	k, err := crypto.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	return &Payer{Key: k, Address: crypto.PubkeyToAddress(k.PublicKey)}
}

// Payment is one signed payment that tests can tamper with before encoding.
type Payment struct {
	Style   x402.Style
	Payload x402.PaymentPayload
}

// Message returns the authorization an honest client signs for o at now.
func (p *Payer) Message(o *x402.Offer, now time.Time) x402.TransferMessage {
	return p.messageFor(o.Requirements(), now)
}

func (p *Payer) messageFor(req x402.Requirements, now time.Time) x402.TransferMessage {
	var n [32]byte
	if _, err := rand.Read(n[:]); err != nil {
		panic(err)
	}
	value, _ := new(big.Int).SetString(req.Amount, 10)
	return x402.TransferMessage{
		From: p.Address, To: common.HexToAddress(req.PayTo), Value: value,
		ValidAfter:  big.NewInt(0),
		ValidBefore: big.NewInt(now.Unix() + int64(req.MaxTimeoutSeconds)),
		Nonce:       common.BytesToHash(n[:]),
	}
}

// Sign signs m for o's domain and wraps it in style's payload shape.
func (p *Payer) Sign(t testing.TB, o *x402.Offer, style x402.Style, m x402.TransferMessage) *Payment {
	t.Helper()
	sig, err := x402.SignTransfer(p.Key, o.Domain(), m)
	if err != nil {
		t.Fatal(err)
	}
	return Wrap(o, style, sig, m.Message())
}

// Resigned returns a mutation for a table of broken payments: the payment re-signed by p
// over its honest message for o at now, changed by change (a valid signature
// over wrong terms).
func (p *Payer) Resigned(t testing.TB, o *x402.Offer, now time.Time, change func(*x402.TransferMessage)) func(*Payment) {
	return func(pay *Payment) {
		m := p.Message(o, now)
		change(&m)
		*pay = *p.Sign(t, o, pay.Style, m)
	}
}

// PayAsset is Pay with the accepted asset asset instead of the primary one.
func (p *Payer) PayAsset(t testing.TB, o *x402.Offer, asset string, style x402.Style, now time.Time) *Payment {
	t.Helper()
	req, ok := o.Accepted(asset)
	d, _ := o.DomainOf(asset)
	if !ok {
		t.Fatalf("x402test: the offer does not list %s", asset)
	}
	m := p.messageFor(req, now)
	sig, err := x402.SignTransfer(p.Key, d, m)
	if err != nil {
		t.Fatal(err)
	}
	pay := Wrap(o, style, sig, m.Message())
	if pay.Payload.Accepted != nil {
		pay.Payload.Accepted = &req
	}
	return pay
}

// Pay is Sign(Message(o, now)).
func (p *Payer) Pay(t testing.TB, o *x402.Offer, style x402.Style, now time.Time) *Payment {
	t.Helper()
	return p.Sign(t, o, style, p.Message(o, now))
}

// Wrap builds the payload a client of style sends.
func Wrap(o *x402.Offer, style x402.Style, sig string, a x402.Authorization) *Payment {
	req := o.Requirements()
	pl := x402.PaymentPayload{Payload: x402.ExactPayload{Signature: sig, Authorization: a}}
	switch style {
	case x402.StyleV2:
		pl.X402Version = 2
		pl.Accepted = &req
		pl.Resource = o.Resource("http://localhost/x402/report")
	case x402.StyleV1:
		pl.X402Version, pl.Scheme, pl.Network = 1, req.Scheme, req.Network
	case x402.StyleHybrid:
		// The guide's client copies x402Version from our v2 header.
		pl.X402Version, pl.Scheme, pl.Network = 2, req.Scheme, req.Network
	}
	return &Payment{Style: style, Payload: pl}
}

// Header is the request header name for the payment's style.
func (p *Payment) Header() string {
	if p.Style == x402.StyleV1 {
		return x402.HeaderXPayment
	}
	return x402.HeaderPaymentSignature
}

// Encode returns the header value (standard base64 JSON).
func (p *Payment) Encode(t testing.TB) string {
	t.Helper()
	s, err := x402.EncodeHeader(p.Payload)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// HighS returns the malleable twin of a valid signature (s' = n - s, v flipped):
// it recovers the same signer, so only the low-s rule rejects it.
func HighS(sig string) string {
	b, _ := hex.DecodeString(sig[2:])
	n := crypto.S256().Params().N
	s := new(big.Int).SetBytes(b[32:64])
	s.Sub(n, s)
	s.FillBytes(b[32:64])
	if b[64] == 27 {
		b[64] = 28
	} else {
		b[64] = 27
	}
	return "0x" + hex.EncodeToString(b)
}
