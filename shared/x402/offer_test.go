package x402_test

import (
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/insforge/edge-functions-go/shared/x402"
	"github.com/insforge/edge-functions-go/shared/x402/x402test"
)

func twoAssetVerifier(t *testing.T) *x402.Verifier {
	o, err := x402.NewOffer(x402test.ParamsTwoAssets())
	if err != nil {
		t.Fatal(err)
	}
	return &x402.Verifier{Offer: o, Now: func() time.Time { return x402test.Now }}
}

func TestChallengeListsEveryAcceptedAssetInBothBodies(t *testing.T) {
	o := twoAssetVerifier(t).Offer
	c, err := o.Challenge("https://api.example/x402/report", "", "pay")
	if err != nil {
		t.Fatal(err)
	}
	decoded, err := x402.DecodePaymentRequired(c.Header)
	if err != nil {
		t.Fatal(err)
	}
	want := []struct{ asset, name string }{{"0x4ae46a509F6b1D9056937BA4500cb143933D2dc8", "Global Dollar"}, {x402test.USDT0, "USD₮0"}}
	if len(decoded.Accepts) != 2 || len(c.Body.Accepts) != 2 {
		t.Fatalf("accepts: header %d, body %d", len(decoded.Accepts), len(c.Body.Accepts))
	}
	for i, w := range want {
		h, b := decoded.Accepts[i], c.Body.Accepts[i]
		if h.Asset != w.asset || h.Extra.Name != w.name || h.Amount != x402test.Price || h.MaxAmountRequired != x402test.Price {
			t.Errorf("header accepts[%d] = %+v", i, h)
		}
		if b.Asset != w.asset || b.Extra.Name != w.name || b.MaxAmountRequired != x402test.Price || b.Resource == "" {
			t.Errorf("body accepts[%d] = %+v", i, b)
		}
	}
}

func TestVerifySelectsTheAssetThePaymentWasSignedFor(t *testing.T) {
	v := twoAssetVerifier(t)
	payer := x402test.NewPayer(t)
	for _, asset := range []string{x402test.Asset, x402test.USDT0} {
		for _, style := range []x402.Style{x402.StyleV2, x402.StyleV1, x402.StyleHybrid} {
			p := payer.PayAsset(t, v.Offer, asset, style, x402test.Now)
			got, err := v.Verify(style, &p.Payload)
			if err != nil {
				t.Fatalf("%s %s: %v", asset, style, err)
			}
			want, _ := v.Offer.Accepted(asset)
			if !reflect.DeepEqual(got.Accepted, want) {
				t.Errorf("%s %s: accepted %+v, want %+v", asset, style, got.Accepted, want)
			}
		}
	}
}

func TestVerifyRefusesAnAssetTheOfferDoesNotList(t *testing.T) {
	payer := x402test.NewPayer(t)
	two := twoAssetVerifier(t)
	one := verifier(t) // USDG only
	// v2 naming USD₮0 to a USDG-only offer: refused on the asset.
	p := payer.PayAsset(t, two.Offer, x402test.USDT0, x402.StyleV2, x402test.Now)
	var ce *x402.CheckError
	if _, err := one.Verify(x402.StyleV2, &p.Payload); !errors.As(err, &ce) || ce.Reason != x402.ReasonInvalidRequirements {
		t.Fatalf("v2 unlisted asset: %v", err)
	}
	// v1 names no asset: a USD₮0 signature matches no listed domain.
	p = payer.PayAsset(t, two.Offer, x402test.USDT0, x402.StyleV1, x402test.Now)
	if _, err := one.Verify(x402.StyleV1, &p.Payload); !errors.As(err, &ce) || ce.Reason != x402.ReasonSignature {
		t.Fatalf("v1 unlisted asset: %v", err)
	}
	// v2 claiming USDG while signed for USD₮0's domain: the signature fails.
	p = payer.PayAsset(t, two.Offer, x402test.USDT0, x402.StyleV2, x402test.Now)
	usdg, _ := two.Offer.Accepted(x402test.Asset)
	p.Payload.Accepted = &usdg
	if _, err := two.Verify(x402.StyleV2, &p.Payload); !errors.As(err, &ce) || ce.Reason != x402.ReasonSignature {
		t.Fatalf("v2 asset swapped: %v", err)
	}
}

func TestNewOfferConvertsThePriceExactlyIntoEachAssetsDecimals(t *testing.T) {
	cases := []struct {
		name          string
		price         string
		from, to      int
		want, errWant string
	}{
		{"same decimals", "1000", 6, 6, "1000", ""},
		{"more decimals", "1000", 6, 18, "1000000000000000", ""},
		{"fewer decimals, exact", "1000", 6, 3, "1", ""},
		{"fewer decimals, inexact", "1001", 6, 3, "", "price"},
		{"rounds to zero", "1", 6, 3, "", "price"},
		{"no first decimals", "1000", 0, 6, "", "otherAssets"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := x402test.Params()
			p.Price, p.Decimals = c.price, c.from
			p.OtherAssets = []x402.AssetParams{{Asset: x402test.USDT0, Name: "USD₮0", Version: "1", Decimals: c.to}}
			o, err := x402.NewOffer(p)
			var pe *x402.ParamError
			switch {
			case c.errWant != "":
				if !errors.As(err, &pe) || pe.Param != c.errWant {
					t.Fatalf("err %v, want param %s", err, c.errWant)
				}
			case err != nil:
				t.Fatal(err)
			default:
				if r, _ := o.Accepted(x402test.USDT0); r.Amount != c.want {
					t.Fatalf("amount %s, want %s", r.Amount, c.want)
				}
			}
		})
	}
}

func TestNewOfferRefusesTheSameAssetTwice(t *testing.T) {
	p := x402test.Params()
	p.Decimals = 6
	p.OtherAssets = []x402.AssetParams{{Asset: "0x4AE46A509F6B1D9056937BA4500CB143933D2DC8", Name: "USDG", Version: "2", Decimals: 6}}
	var pe *x402.ParamError
	if _, err := x402.NewOffer(p); !errors.As(err, &pe) || pe.Param != "otherAssets" {
		t.Fatalf("err %v", err)
	}
}

func TestLookupAssetFindsUSDT0OnXLayerBySymbolOrAddress(t *testing.T) {
	for _, key := range []string{"USDT0", "usdt0", "0x779ded0c9e1022225f8e0630b35a9b54be713736"} {
		a, ok := x402.LookupAsset("eip155:196", key)
		if !ok || a.Address != x402test.USDT0 || a.Name != "USD\u20ae0" || a.Version != "1" || a.Decimals != 6 {
			t.Fatalf("%s: %+v %v", key, a, ok)
		}
	}
	if _, ok := x402.LookupAsset("eip155:8453", "USDT0"); ok {
		t.Fatal("USDT0 is pinned on X Layer only")
	}
}
