package x402_test

import (
	"errors"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"

	"github.com/insforge/edge-functions-go/shared/x402"
	"github.com/insforge/edge-functions-go/shared/x402/x402test"
)

func verifier(t testing.TB) *x402.Verifier {
	return &x402.Verifier{Offer: x402test.Offer(t), Now: func() time.Time { return x402test.Now }}
}

func TestVerifyAcceptsEveryClientStyle(t *testing.T) {
	v := verifier(t)
	payer := x402test.NewPayer(t)
	for _, style := range []x402.Style{x402.StyleV2, x402.StyleV1, x402.StyleHybrid} {
		t.Run(style.String(), func(t *testing.T) {
			p := payer.Pay(t, v.Offer, style, x402test.Now)
			got, err := v.Verify(style, &p.Payload)
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if got.Msg.From != payer.Address || got.Msg.Value.Cmp(v.Offer.Price()) != 0 {
				t.Fatalf("verified %+v", got.Msg)
			}
		})
	}
}

func TestVerifyAcceptsHybridV1AndRecoveryIDZeroOne(t *testing.T) {
	v := verifier(t)
	payer := x402test.NewPayer(t)
	p := payer.Pay(t, v.Offer, x402.StyleHybrid, x402test.Now)
	p.Payload.X402Version = 1
	sig := []byte(p.Payload.Payload.Signature)
	// v = 27/28 → 0/1: last byte "1b"/"1c" → "00"/"01".
	last := string(sig[len(sig)-2:])
	repl := map[string]string{"1b": "00", "1c": "01"}[last]
	p.Payload.Payload.Signature = string(sig[:len(sig)-2]) + repl
	if _, err := v.Verify(x402.StyleHybrid, &p.Payload); err != nil {
		t.Fatalf("Verify: %v", err)
	}
}

// Each case breaks exactly one thing in an otherwise valid payment.
func TestVerifyRejectsEachBrokenCheckWithItsReason(t *testing.T) {
	v := verifier(t)
	payer := x402test.NewPayer(t)
	other := x402test.NewPayer(t)
	now := x402test.Now.Unix()
	resign := func(mut func(*x402.TransferMessage)) func(*x402test.Payment) {
		return func(p *x402test.Payment) {
			m := payer.Message(v.Offer, x402test.Now)
			mut(&m)
			*p = *payer.Sign(t, v.Offer, p.Style, m)
		}
	}
	cases := []struct {
		name   string
		style  x402.Style
		mutate func(*x402test.Payment)
		reason string
	}{
		{"v2 header with version 1", x402.StyleV2, func(p *x402test.Payment) { p.Payload.X402Version = 1 }, x402.ReasonInvalidVersion},
		{"v1 header with version 2", x402.StyleV1, func(p *x402test.Payment) { p.Payload.X402Version = 2 }, x402.ReasonInvalidVersion},
		{"hybrid with version 3", x402.StyleHybrid, func(p *x402test.Payment) { p.Payload.X402Version = 3 }, x402.ReasonInvalidVersion},
		{"v2 without accepted", x402.StyleV2, func(p *x402test.Payment) { p.Payload.Accepted = nil }, x402.ReasonInvalidPayload},
		{"v2 scheme upto", x402.StyleV2, func(p *x402test.Payment) { p.Payload.Accepted.Scheme = "upto" }, x402.ReasonUnsupportedScheme},
		{"v1 scheme upto", x402.StyleV1, func(p *x402test.Payment) { p.Payload.Scheme = "upto" }, x402.ReasonUnsupportedScheme},
		{"v2 other network", x402.StyleV2, func(p *x402test.Payment) { p.Payload.Accepted.Network = "eip155:8453" }, x402.ReasonInvalidNetwork},
		{"hybrid other network", x402.StyleHybrid, func(p *x402test.Payment) { p.Payload.Network = "base" }, x402.ReasonInvalidNetwork},
		{"v2 accepted other asset", x402.StyleV2, func(p *x402test.Payment) {
			p.Payload.Accepted.Asset = "0x779Ded0c9e1022225f8E0630b35a9b54bE713736"
		}, x402.ReasonInvalidRequirements},
		{"v2 accepted other payTo", x402.StyleV2, func(p *x402test.Payment) { p.Payload.Accepted.PayTo = other.Address.Hex() }, x402.ReasonRecipientMismatch},
		{"v2 accepted other amount", x402.StyleV2, func(p *x402test.Payment) { p.Payload.Accepted.Amount = "1" }, x402.ReasonValueMismatch},
		{"from not an address", x402.StyleV2, func(p *x402test.Payment) { p.Payload.Payload.Authorization.From = "0x1234" }, x402.ReasonInvalidPayload},
		{"to another recipient", x402.StyleV2, resign(func(m *x402.TransferMessage) { m.To = other.Address }), x402.ReasonRecipientMismatch},
		{"value below price", x402.StyleV2, resign(func(m *x402.TransferMessage) { m.Value = big.NewInt(999) }), x402.ReasonValueMismatch},
		{"value above price", x402.StyleV2, resign(func(m *x402.TransferMessage) { m.Value = big.NewInt(1001) }), x402.ReasonValueMismatch},
		{"v1 value mismatch uses v1 reason", x402.StyleV1, resign(func(m *x402.TransferMessage) { m.Value = big.NewInt(1) }), x402.ReasonValueV1},
		{"value not decimal", x402.StyleV2, func(p *x402test.Payment) { p.Payload.Payload.Authorization.Value = "0x3e8" }, x402.ReasonInvalidPayload},
		{"valid after in the future", x402.StyleV2, resign(func(m *x402.TransferMessage) { m.ValidAfter = big.NewInt(now + 1) }), x402.ReasonValidAfter},
		{"valid before too soon", x402.StyleV2, resign(func(m *x402.TransferMessage) { m.ValidBefore = big.NewInt(now + 5) }), x402.ReasonValidBefore},
		{"valid before already past", x402.StyleV2, resign(func(m *x402.TransferMessage) { m.ValidBefore = big.NewInt(now - 1) }), x402.ReasonValidBefore},
		{"valid before beyond max timeout", x402.StyleV2, resign(func(m *x402.TransferMessage) { m.ValidBefore = big.NewInt(now + 300 + 31) }), x402.ReasonValidBefore},
		{"nonce 31 bytes", x402.StyleV2, func(p *x402test.Payment) {
			p.Payload.Payload.Authorization.Nonce = "0x" + strings.Repeat("ab", 31)
		}, x402.ReasonInvalidPayload},
		{"nonce not hex", x402.StyleV2, func(p *x402test.Payment) {
			p.Payload.Payload.Authorization.Nonce = "0x" + strings.Repeat("zz", 32)
		}, x402.ReasonInvalidPayload},
		{"signature 64 bytes", x402.StyleV2, func(p *x402test.Payment) {
			p.Payload.Payload.Signature = p.Payload.Payload.Signature[:130]
		}, x402.ReasonSignature},
		{"signature v 29", x402.StyleV2, func(p *x402test.Payment) {
			p.Payload.Payload.Signature = p.Payload.Payload.Signature[:130] + "1d"
		}, x402.ReasonSignature},
		{"signature high s", x402.StyleV2, func(p *x402test.Payment) {
			p.Payload.Payload.Signature = x402test.HighS(p.Payload.Payload.Signature)
		}, x402.ReasonSignature},
		{"signature by someone else", x402.StyleV2, func(p *x402test.Payment) {
			m := payer.Message(v.Offer, x402test.Now)
			forged := other.Sign(t, v.Offer, x402.StyleV2, m)
			*p = *forged
		}, x402.ReasonSignature},
		{"signed for another token domain", x402.StyleV2, func(p *x402test.Payment) {
			m := payer.Message(v.Offer, x402test.Now)
			params := x402test.Params()
			params.AssetName, params.AssetVersion = "USDG", "2"
			o2, err := x402.NewOffer(params)
			if err != nil {
				t.Fatal(err)
			}
			*p = *payer.Sign(t, o2, x402.StyleV2, m)
		}, x402.ReasonSignature},
		{"authorization tampered after signing", x402.StyleV2, func(p *x402test.Payment) {
			p.Payload.Payload.Authorization.ValidBefore = big.NewInt(now + 100).String()
		}, x402.ReasonSignature},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := payer.Pay(t, v.Offer, tc.style, x402test.Now)
			tc.mutate(p)
			_, err := v.Verify(tc.style, &p.Payload)
			var ce *x402.CheckError
			if !errors.As(err, &ce) {
				t.Fatalf("Verify error = %v, want a CheckError", err)
			}
			if ce.Reason != tc.reason {
				t.Fatalf("reason = %q (%s), want %q", ce.Reason, ce.Message, tc.reason)
			}
		})
	}
}

func TestVerifyComparesAddressesCaseInsensitively(t *testing.T) {
	v := verifier(t)
	payer := x402test.NewPayer(t)
	p := payer.Pay(t, v.Offer, x402.StyleV2, x402test.Now)
	p.Payload.Accepted.PayTo = strings.ToLower(p.Payload.Accepted.PayTo)
	p.Payload.Accepted.Asset = strings.ToUpper(p.Payload.Accepted.Asset[2:])
	p.Payload.Accepted.Asset = "0x" + p.Payload.Accepted.Asset
	p.Payload.Payload.Authorization.To = strings.ToLower(p.Payload.Payload.Authorization.To)
	p.Payload.Payload.Authorization.From = strings.ToLower(p.Payload.Payload.Authorization.From)
	if _, err := v.Verify(x402.StyleV2, &p.Payload); err != nil {
		t.Fatalf("Verify: %v", err)
	}
}

func TestDomainSeparatorMatchesTheGuidesUSDGValue(t *testing.T) {
	o := x402test.Offer(t)
	got, err := x402.DomainSeparator(o.Domain())
	if err != nil {
		t.Fatal(err)
	}
	want := common.HexToHash("0x415f0706e345fcaf25d5be24c4fd7830d0054fc5742c51a0db9319c759bd3743")
	if got != want {
		t.Fatalf("separator = %s, want %s", got, want)
	}
}

func TestNewOfferRejectsBadParams(t *testing.T) {
	// param is the ParamError.Param the refusal names; "" = not a ParamError
	// (the network is reported by ChainID's own error).
	cases := map[string]struct {
		mut   func(*x402.Params)
		param string
	}{
		"network not caip2":  {func(p *x402.Params) { p.Network = "xlayer" }, ""},
		"network chain zero": {func(p *x402.Params) { p.Network = "eip155:0" }, ""},
		"asset not address":  {func(p *x402.Params) { p.Asset = "USDG" }, "asset"},
		"payTo no 0x":        {func(p *x402.Params) { p.PayTo = strings.TrimPrefix(x402test.PayTo, "0x") }, "payTo"},
		"payTo zero":         {func(p *x402.Params) { p.PayTo = "0x0000000000000000000000000000000000000000" }, "payTo"},
		"price zero":         {func(p *x402.Params) { p.Price = "0" }, "price"},
		"price decimal":      {func(p *x402.Params) { p.Price = "0.01" }, "price"},
		"no domain name":     {func(p *x402.Params) { p.AssetName = "" }, "domain"},
		"no domain version":  {func(p *x402.Params) { p.AssetVersion = "" }, "domain"},
		"timeout too small":  {func(p *x402.Params) { p.MaxTimeoutSeconds = 1 }, "maxTimeoutSeconds"},
		"timeout too large":  {func(p *x402.Params) { p.MaxTimeoutSeconds = 3601 }, "maxTimeoutSeconds"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			p := x402test.Params()
			c.mut(&p)
			_, err := x402.NewOffer(p)
			if err == nil {
				t.Fatal("NewOffer accepted bad params")
			}
			var pe *x402.ParamError
			switch ok := errors.As(err, &pe); {
			case c.param == "" && ok:
				t.Fatalf("err = ParamError{%q}, want a plain error", pe.Param)
			case c.param != "" && !ok:
				t.Fatalf("err = %T %v, want *x402.ParamError", err, err)
			case ok && (pe.Param != c.param || pe.Error() != pe.Err.Error()):
				t.Fatalf("ParamError{%q, %v}, message %q; want Param %q and the wrapped message", pe.Param, pe.Err, pe.Error(), c.param)
			}
		})
	}
}

func BenchmarkVerify(b *testing.B) {
	v := verifier(b)
	p := x402test.NewPayer(b).Pay(b, v.Offer, x402.StyleV2, x402test.Now)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := v.Verify(x402.StyleV2, &p.Payload); err != nil {
			b.Fatal(err)
		}
	}
}
