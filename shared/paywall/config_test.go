package paywall_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/insforge/edge-functions-go/shared/config"
	"github.com/insforge/edge-functions-go/shared/facilitator"
	"github.com/insforge/edge-functions-go/shared/paywall"
)

func setEnv(t *testing.T, kv map[string]string) {
	base := map[string]string{
		"PAYMENT_RECIPIENT": "0x209693Bc6afc0C5328bA36FaF03C514EF312287C",
		"OKX_API_KEY":       "k", "OKX_SECRET_KEY": "s", "OKX_PASSPHRASE": "p",
		"ENVIRONMENT": "production",
	}
	for k, v := range kv {
		base[k] = v
	}
	for k, v := range base {
		t.Setenv(k, v)
	}
}

func TestEnvDefaultsAndFacilitator(t *testing.T) {
	setEnv(t, nil)
	var e paywall.Config
	var fc facilitator.Config
	if err := config.Load(&e, &fc); err != nil {
		t.Fatal(err)
	}
	if e.Network != "eip155:196" || e.AssetName != "Global Dollar" || e.AssetVersion != "1" ||
		e.MaxTimeoutSeconds != 300 || fc.OKXBaseURL != "https://web3.okx.com" || fc.OKXAPI != "v2" || fc.MockFacilitator {
		t.Fatalf("defaults: %+v %+v", e, fc)
	}
	f, err := facilitator.FromConfig(fc, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := f.(*facilitator.OKX); !ok {
		t.Fatalf("facilitator is %T", f)
	}
}

func TestEnvRejectsBadValuesNamingTheVariable(t *testing.T) {
	cases := []struct {
		env  map[string]string
		name string
	}{
		{map[string]string{"PAYMENT_RECIPIENT": ""}, "PAYMENT_RECIPIENT"},
		{map[string]string{"PAYMENT_RECIPIENT": "XKO209693Bc6afc0C5328bA36FaF03C514EF312287C"}, "PAYMENT_RECIPIENT"},
		{map[string]string{"PAYMENT_RECIPIENT": "0x0000000000000000000000000000000000000000"}, "PAYMENT_RECIPIENT"},
		{map[string]string{"X402_NETWORK": "xlayer"}, "X402_NETWORK"},
		{map[string]string{"X402_ASSET": "USDG"}, "X402_ASSET"},
		{map[string]string{"X402_MAX_TIMEOUT_SECONDS": "5"}, "X402_MAX_TIMEOUT_SECONDS"},
		{map[string]string{"X402_MAX_TIMEOUT_SECONDS": "abc"}, "X402_MAX_TIMEOUT_SECONDS"},
		{map[string]string{"OKX_API": "v3"}, "OKX_API"},
		{map[string]string{"OKX_BASE_URL": "http://web3.okx.com"}, "OKX_BASE_URL"},
		{map[string]string{"OKX_SECRET_KEY": ""}, "OKX_SECRET_KEY"},
		{map[string]string{"MOCK_OKX_FACILITATOR": "true"}, "MOCK_OKX_FACILITATOR"},
		{map[string]string{"X402_EXTRA_ASSETS": "DAI"}, "X402_EXTRA_ASSETS"},
		{map[string]string{"X402_EXTRA_ASSETS": "USDT0", "X402_NETWORK": "eip155:8453"}, "X402_EXTRA_ASSETS"},
		{map[string]string{"X402_EXTRA_ASSETS": "USDT0", "X402_ASSET": "0x0000000000000000000000000000000000000001"}, "X402_EXTRA_ASSETS"},
		{map[string]string{"X402_EXTRA_ASSETS": "USDG"}, "X402_EXTRA_ASSETS"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			setEnv(t, tc.env)
			var e paywall.Config
			var fc facilitator.Config
			err := config.Load(&e, &fc)
			if err == nil || !strings.Contains(err.Error(), tc.name) {
				t.Fatalf("err = %v, want one naming %s", err, tc.name)
			}
		})
	}
}

func TestEnvMockOutsideProductionNeedsNoOKXKeys(t *testing.T) {
	setEnv(t, map[string]string{"MOCK_OKX_FACILITATOR": "true", "ENVIRONMENT": "development", "OKX_API_KEY": ""})
	var e paywall.Config
	var fc facilitator.Config
	if err := config.Load(&e, &fc); err != nil {
		t.Fatal(err)
	}
	f, err := facilitator.FromConfig(fc, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := f.(facilitator.Mock); !ok {
		t.Fatalf("facilitator is %T", f)
	}
	fc.Name = "production"
	if _, err := facilitator.FromConfig(fc, nil); !errors.Is(err, facilitator.ErrMockInProduction) {
		t.Fatalf("production mock: %v", err)
	}
}

func TestEnvExtraAssetsAddUSDT0AfterTheConfiguredAsset(t *testing.T) {
	setEnv(t, map[string]string{"X402_EXTRA_ASSETS": "usdt0"})
	var e paywall.Config
	var fc facilitator.Config
	if err := config.Load(&e, &fc); err != nil {
		t.Fatal(err)
	}
	o, err := e.Offer("2500", "d", "")
	if err != nil {
		t.Fatal(err)
	}
	acc := o.Accepts()
	if len(acc) != 2 || !strings.EqualFold(acc[0].Asset, e.Asset) || acc[1].Asset != "0x779Ded0c9e1022225f8E0630b35a9b54bE713736" ||
		acc[1].Amount != "2500" || acc[1].Extra.Name != "USD\u20ae0" || acc[1].Extra.Version != "1" {
		t.Fatalf("accepts %+v", acc)
	}
}
