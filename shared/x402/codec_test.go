package x402_test

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/insforge/edge-functions-go/shared/x402"
	"github.com/insforge/edge-functions-go/shared/x402/x402test"
)

func TestEncodeHeaderIsStandardPaddedBase64(t *testing.T) {
	// A non-ASCII token name (USD₮0) must round-trip as UTF-8.
	v := map[string]string{"name": "USD₮0", "x": "??>>"}
	s, err := x402.EncodeHeader(v)
	if err != nil {
		t.Fatal(err)
	}
	if strings.ContainsAny(s, "-_") || len(s)%4 != 0 {
		t.Fatalf("not std padded base64: %q", s)
	}
	raw, err := base64.StdEncoding.DecodeString(s)
	if err != nil || !strings.Contains(string(raw), "USD₮0") {
		t.Fatalf("decoded %q, %v", raw, err)
	}
}

func TestDecodePaymentPayloadAcceptsBase64Variants(t *testing.T) {
	p := x402test.NewPayer(t).Pay(t, x402test.Offer(t), x402.StyleV2, x402test.Now)
	js, _ := json.Marshal(p.Payload)
	for name, enc := range map[string]*base64.Encoding{
		"std": base64.StdEncoding, "rawstd": base64.RawStdEncoding, "url": base64.URLEncoding, "rawurl": base64.RawURLEncoding,
	} {
		t.Run(name, func(t *testing.T) {
			got, err := x402.DecodePaymentPayload(x402.HeaderPaymentSignature, " "+enc.EncodeToString(js)+" ")
			if err != nil {
				t.Fatal(err)
			}
			if got.Payload.Authorization.Nonce != p.Payload.Payload.Authorization.Nonce || got.Accepted == nil {
				t.Fatalf("decoded %+v", got)
			}
		})
	}
}

func TestDecodePaymentPayloadRejectsMalformedHeaders(t *testing.T) {
	b64 := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	cases := map[string]string{
		"empty":           "",
		"not base64":      "%%%not-base64%%%",
		"not json":        b64("hello"),
		"json array":      b64(`[1,2]`),
		"json string":     b64(`"x"`),
		"truncated json":  b64(`{"x402Version":2,`),
		"wrong types":     b64(`{"x402Version":"2"}`),
		"authorization #": b64(`{"x402Version":2,"payload":{"authorization":{"value":1}}}`),
		"oversized":       strings.Repeat("A", 8196),
	}
	for name, h := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := x402.DecodePaymentPayload(x402.HeaderXPayment, h)
			var he *x402.HeaderError
			if !errors.As(err, &he) || he.Header != x402.HeaderXPayment {
				t.Fatalf("err = %v, want HeaderError for X-PAYMENT", err)
			}
		})
	}
}

// The documented cap (docs/x402.md: "8 KiB cap") is pinned with literals, not
// derived from MaxHeaderLen, so raising or lowering the constant fails here.
// Both headers are a real payment padded with JSON whitespace, so only their
// length can refuse them: 8192 characters is the largest accepted, 8196 the next
// length a padded base64 header can have.
func TestDecodeHeaderCapIs8KiB(t *testing.T) {
	p := x402test.NewPayer(t).Pay(t, x402test.Offer(t), x402.StyleV2, x402test.Now)
	js, err := json.Marshal(p.Payload)
	if err != nil {
		t.Fatal(err)
	}
	padded := func(encodedLen int) string {
		t.Helper()
		raw := encodedLen / 4 * 3 // std base64: 4 characters per 3 bytes
		if encodedLen%4 != 0 || raw < len(js) {
			t.Fatalf("cannot pad to %d characters", encodedLen)
		}
		h := base64.StdEncoding.EncodeToString([]byte("{" + strings.Repeat(" ", raw-len(js)) + string(js[1:])))
		if len(h) != encodedLen {
			t.Fatalf("padded header has %d characters, want %d", len(h), encodedLen)
		}
		return h
	}
	got, err := x402.DecodePaymentPayload(x402.HeaderPaymentSignature, padded(8192))
	if err != nil {
		t.Fatalf("8192-character header refused: %v", err)
	}
	if got.Payload.Authorization.Nonce != p.Payload.Payload.Authorization.Nonce {
		t.Fatalf("8192-character header decoded to %+v", got)
	}
	_, err = x402.DecodePaymentPayload(x402.HeaderPaymentSignature, padded(8196))
	var he *x402.HeaderError
	if !errors.As(err, &he) || he.Header != x402.HeaderPaymentSignature {
		t.Fatalf("8196-character header: err = %v, want the length refusal", err)
	}
}

func TestChallengeServesAllThreeClientStyles(t *testing.T) {
	o := x402test.Offer(t)
	c, err := o.Challenge("https://api.example.com/x402/report", "", "pay")
	if err != nil {
		t.Fatal(err)
	}
	raw, err := base64.StdEncoding.DecodeString(c.Header)
	if err != nil {
		t.Fatalf("header not std base64: %v", err)
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	if m["x402Version"] != float64(2) {
		t.Fatalf("x402Version = %v", m["x402Version"])
	}
	res := m["resource"].(map[string]any)
	if res["url"] != "https://api.example.com/x402/report" {
		t.Fatalf("resource = %v", res)
	}
	acc := m["accepts"].([]any)[0].(map[string]any)
	for k, want := range map[string]any{
		"scheme": "exact", "network": x402test.Network, "amount": x402test.Price,
		"maxAmountRequired": x402test.Price, // the guide's client reads this field
		"payTo":             x402test.PayTo, "asset": common.HexToAddress(x402test.Asset).Hex(),
		"maxTimeoutSeconds": float64(300),
	} {
		if acc[k] != want {
			t.Errorf("accepts[0].%s = %v, want %v", k, acc[k], want)
		}
	}
	extra := acc["extra"].(map[string]any)
	if extra["name"] != "Global Dollar" || extra["version"] != "1" {
		t.Errorf("extra = %v", extra)
	}
	body, _ := json.Marshal(c.Body)
	var v1 map[string]any
	_ = json.Unmarshal(body, &v1)
	a1 := v1["accepts"].([]any)[0].(map[string]any)
	if v1["x402Version"] != float64(1) || a1["maxAmountRequired"] != x402test.Price ||
		a1["resource"] != "https://api.example.com/x402/report" || v1["error"] == "" {
		t.Fatalf("v1 body = %s", body)
	}
}

func BenchmarkDecodePaymentPayload(b *testing.B) {
	p := x402test.NewPayer(b).Pay(b, x402test.Offer(b), x402.StyleV2, x402test.Now)
	h := p.Encode(b)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := x402.DecodePaymentPayload(x402.HeaderPaymentSignature, h); err != nil {
			b.Fatal(err)
		}
	}
}

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
