package paywall_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/insforge/edge-functions-go/shared/facilitator"
	"github.com/insforge/edge-functions-go/shared/paywall"
	"github.com/insforge/edge-functions-go/shared/x402"
	"github.com/insforge/edge-functions-go/shared/x402/x402test"
)

// withTwoAssets makes the harness offer USDG and USD₮0.
func withTwoAssets(t *testing.T) option {
	return func(o *paywall.Options, hs *harness) {
		offer, err := x402.NewOffer(x402test.ParamsTwoAssets())
		if err != nil {
			t.Fatal(err)
		}
		o.Offer, hs.offer = offer, offer
	}
}

func TestAChallengeListsEveryAcceptedAsset(t *testing.T) {
	hs := newHarness(t, facilitator.APIV2, withTwoAssets(t))
	w := hs.do("", "")
	pr, err := x402.DecodePaymentRequired(w.Header().Get(x402.HeaderPaymentRequired))
	if err != nil || w.Code != http.StatusPaymentRequired {
		t.Fatalf("status %d: %v", w.Code, err)
	}
	var body x402.PaymentRequiredV1
	if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil {
		t.Fatal(err)
	}
	if len(pr.Accepts) != 2 || len(body.Accepts) != 2 || pr.Accepts[1].Asset != x402test.USDT0 || body.Accepts[1].Asset != x402test.USDT0 {
		t.Fatalf("accepts: header %+v, body %+v", pr.Accepts, body.Accepts)
	}
}

// Each asset pays through the strict OKX emulator onto real PostgreSQL: the
// facilitator is sent our requirement for that asset and the row records it.
func TestAPaymentInEachAcceptedAssetSettlesAndIsRecordedWithItsAsset(t *testing.T) {
	for _, api := range []string{facilitator.APIV2, facilitator.APIV1} {
		for _, asset := range []string{x402test.Asset, x402test.USDT0} {
			for _, style := range []x402.Style{x402.StyleV2, x402.StyleV1, x402.StyleHybrid} {
				t.Run(api+"/"+asset[:8]+"/"+style.String(), func(t *testing.T) {
					hs := newHarness(t, api, withTwoAssets(t))
					w := hs.pay(hs.payer.PayAsset(t, hs.offer, asset, style, time.Now()))
					if w.Code != http.StatusOK {
						t.Fatalf("status %d: %s", w.Code, w.Body)
					}
					rows := hs.rows()
					if len(rows) != 1 || !strings.EqualFold(rows[0].Asset, asset) || rows[0].Status != "settled" {
						t.Fatalf("rows %+v", rows)
					}
					for _, c := range hs.okx.Calls("") {
						req, _ := c.Body["paymentRequirements"].(map[string]any)
						if got, _ := req["asset"].(string); !strings.EqualFold(got, asset) {
							t.Fatalf("%s sent asset %q, want %s", c.Op, got, asset)
						}
					}
					if hs.okx.Accepted("verify") != 1 || hs.okx.Accepted("settle") != 1 {
						t.Fatalf("okx calls %+v", hs.okx.Calls(""))
					}
				})
			}
		}
	}
}

func TestAPaymentInAnAssetTheOfferDoesNotListIsRefusedBeforeTheFacilitator(t *testing.T) {
	two, err := x402.NewOffer(x402test.ParamsTwoAssets())
	if err != nil {
		t.Fatal(err)
	}
	for _, style := range []x402.Style{x402.StyleV2, x402.StyleV1, x402.StyleHybrid} {
		t.Run(style.String(), func(t *testing.T) {
			hs := newHarness(t, facilitator.APIV2) // USDG only
			w := hs.pay(hs.payer.PayAsset(t, two, x402test.USDT0, style, time.Now()))
			reason := challengeReason(t, w)
			if reason != x402.ReasonInvalidRequirements && reason != x402.ReasonSignature {
				t.Fatalf("reason %q", reason)
			}
			if n := len(hs.okx.Calls("")); n != 0 || len(hs.rows()) != 0 || hs.served.Load() != 0 {
				t.Fatalf("facilitator calls %d, rows %d, served %d", n, len(hs.rows()), hs.served.Load())
			}
		})
	}
}
