package payer_test

import (
	"context"
	"encoding/json"
	"math/big"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/insforge/edge-functions-go/shared/x402"
	"github.com/insforge/edge-functions-go/shared/x402/payer"
	"github.com/insforge/edge-functions-go/shared/x402/x402test"
)

// server is a minimal paywall: challenge, then local verification only.
func server(t *testing.T) (*httptest.Server, *int) { return serverFor(t, x402test.Params()) }

func serverFor(t *testing.T, params x402.Params) (*httptest.Server, *int) {
	o, err := x402.NewOffer(params)
	if err != nil {
		t.Fatal(err)
	}
	v := &x402.Verifier{Offer: o}
	paid := 0
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		style, name := x402.StyleV2, x402.HeaderPaymentSignature
		if r.Header.Get(x402.HeaderXPayment) != "" {
			style, name = x402.StyleV1, x402.HeaderXPayment
		}
		if h := r.Header.Get(name); h != "" {
			p, err := x402.DecodePaymentPayload(name, h)
			if err == nil {
				_, err = v.Verify(style, p)
			}
			if err != nil {
				http.Error(w, err.Error(), http.StatusPaymentRequired)
				return
			}
			paid++
			s, _ := x402.EncodeHeader(x402.SettlementResponse{Success: true, Transaction: "0xabc", Network: x402test.Network, Payer: p.Payload.Authorization.From})
			w.Header().Set(style.ResponseHeader(), s)
			w.Write([]byte(`{"ok":true}`))
			return
		}
		c, _ := o.Challenge("http://"+r.Host+r.URL.Path, "", "pay")
		w.Header().Set(x402.HeaderPaymentRequired, c.Header)
		w.WriteHeader(http.StatusPaymentRequired)
		json.NewEncoder(w).Encode(c.Body)
	})), &paid
}

func TestPayAnswersTheChallengeInV2AndV1(t *testing.T) {
	for _, v1 := range []bool{false, true} {
		srv, paid := server(t)
		key, gen, err := payer.LoadKey("")
		if err != nil || !gen {
			t.Fatal(err)
		}
		c := &payer.Client{Key: key, PreferV1: v1, MaxAmount: big.NewInt(1_000_000)}
		res, err := c.Pay(context.Background(), http.MethodPost, srv.URL+"/x402/report", nil)
		srv.Close()
		if err != nil {
			t.Fatal(err)
		}
		wantStyle := map[bool]x402.Style{false: x402.StyleV2, true: x402.StyleV1}[v1]
		if res.Status != 200 || !res.Paid || res.Style != wantStyle || *paid != 1 || res.Settlement == nil || !res.Settlement.Success {
			t.Fatalf("v1=%v: result %+v body %s", v1, res, res.Body)
		}
	}
}

func TestPayRefusesAPriceAboveTheLimit(t *testing.T) {
	srv, paid := server(t)
	defer srv.Close()
	key, _, _ := payer.LoadKey("")
	c := &payer.Client{Key: key, MaxAmount: big.NewInt(999)} // price is 1000
	if _, err := c.Pay(context.Background(), http.MethodPost, srv.URL, nil); err == nil || *paid != 0 {
		t.Fatalf("err = %v, paid = %d", err, *paid)
	}
}

func TestLoadKey(t *testing.T) {
	if _, _, err := payer.LoadKey("0x1234"); err == nil {
		t.Fatal("short key accepted")
	}
	k, gen, err := payer.LoadKey("0x4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318")
	if err != nil || gen || k == nil {
		t.Fatalf("LoadKey = %v, %v, %v", k, gen, err)
	}
}

// Asset picks the token among those a challenge offers, in both styles, and a
// challenge without it is refused before anything is signed.
func TestPayWithAChosenAsset(t *testing.T) {
	key, _, _ := payer.LoadKey("")
	for _, v1 := range []bool{false, true} {
		srv, paid := serverFor(t, x402test.ParamsTwoAssets())
		c := &payer.Client{Key: key, PreferV1: v1, MaxAmount: big.NewInt(1_000_000), Asset: "0x779ded0c9e1022225f8e0630b35a9b54be713736"}
		res, err := c.Pay(context.Background(), http.MethodPost, srv.URL+"/x402/report", nil)
		srv.Close()
		if err != nil || !res.Paid || *paid != 1 || res.Requirement.Asset != x402test.USDT0 {
			t.Fatalf("v1=%v: %+v %v", v1, res, err)
		}
	}
	srv, paid := server(t) // USDG only
	defer srv.Close()
	c := &payer.Client{Key: key, MaxAmount: big.NewInt(1_000_000), Asset: x402test.USDT0}
	if _, err := c.Pay(context.Background(), http.MethodPost, srv.URL+"/x402/report", nil); err == nil || *paid != 0 {
		t.Fatalf("paid an asset the challenge does not offer: %v", err)
	}
}
