package x402_test

import (
	"encoding/base64"
	"errors"
	"testing"
	"time"

	"github.com/insforge/edge-functions-go/shared/x402"
	"github.com/insforge/edge-functions-go/shared/x402/x402test"
)

// The decoders face anonymous input: they must never panic, and every failure
// must be a *HeaderError (so the paywall answers 400, never 500).
func checkDecodeErr(t *testing.T, err error) {
	var he *x402.HeaderError
	if err != nil && !errors.As(err, &he) {
		t.Fatalf("error is not a HeaderError: %v", err)
	}
}

func seedHeaders(f *testing.F) {
	o := x402test.Offer(f)
	p := x402test.NewPayer(f)
	for _, s := range []x402.Style{x402.StyleV2, x402.StyleV1, x402.StyleHybrid} {
		f.Add(p.Pay(f, o, s, x402test.Now).Encode(f))
	}
	c, _ := o.Challenge("http://localhost/r", "", "")
	f.Add(c.Header)
	r, _ := x402.EncodeHeader(x402.SettlementResponse{Success: true, Transaction: "0x01", Network: "eip155:196"})
	f.Add(r)
	for _, s := range []string{"", "=", "e30", "e30=", "W10=", base64.StdEncoding.EncodeToString([]byte(`{"payload":{"authorization":null}}`)), "\x00\xff"} {
		f.Add(s)
	}
}

func FuzzDecodePaymentPayload(f *testing.F) {
	seedHeaders(f)
	v := &x402.Verifier{Offer: x402test.Offer(f), Now: func() time.Time { return x402test.Now }}
	f.Fuzz(func(t *testing.T, h string) {
		p, err := x402.DecodePaymentPayload(x402.HeaderPaymentSignature, h)
		checkDecodeErr(t, err)
		if err == nil {
			// Verification of arbitrary input must fail cleanly, never panic.
			for _, s := range []x402.Style{x402.StyleV2, x402.StyleV1, x402.StyleHybrid} {
				if _, verr := v.Verify(s, p); verr != nil {
					var ce *x402.CheckError
					if !errors.As(verr, &ce) {
						t.Fatalf("verify error is not a CheckError: %v", verr)
					}
				}
			}
		}
	})
}

func FuzzDecodePaymentRequired(f *testing.F) {
	seedHeaders(f)
	f.Fuzz(func(t *testing.T, h string) {
		_, err := x402.DecodePaymentRequired(h)
		checkDecodeErr(t, err)
	})
}

func FuzzDecodeSettlementResponse(f *testing.F) {
	seedHeaders(f)
	f.Fuzz(func(t *testing.T, h string) {
		_, err := x402.DecodeSettlementResponse(x402.HeaderPaymentResponse, h)
		checkDecodeErr(t, err)
	})
}
