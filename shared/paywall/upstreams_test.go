package paywall_test

import (
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/insforge/edge-functions-go/shared/config"
	"github.com/insforge/edge-functions-go/shared/facilitator"
	"github.com/insforge/edge-functions-go/shared/facilitator/okxtest"
	"github.com/insforge/edge-functions-go/shared/insforge"
	"github.com/insforge/edge-functions-go/shared/paywall"
)

// A paid function's collaborators come from its configuration: the balance
// check exists exactly when XLAYER_RPC_URL is set, and a bad InsForge or
// facilitator configuration fails the build.
func TestUpstreamsFromConfig(t *testing.T) {
	log := slog.New(slog.DiscardHandler)
	ic := insforge.Config{BaseURL: "http://127.0.0.1:1", ServiceKey: "ik_0123456789abcdef0123456789abcdef", Timeout: time.Second}
	mock := facilitator.Config{MockFacilitator: true, Environment: config.Environment{Name: "test"}}
	for _, tc := range []struct {
		name         string
		rpc          string
		ic           insforge.Config
		fc           facilitator.Config
		wantErr      bool
		wantBalances bool
	}{
		{name: "no RPC: no balance check", ic: ic, fc: mock},
		{name: "an RPC: balanceOf before verify", rpc: "http://127.0.0.1:8545", ic: ic, fc: mock, wantBalances: true},
		{name: "no InsForge URL", ic: insforge.Config{ServiceKey: ic.ServiceKey}, fc: mock, wantErr: true},
		{name: "mock facilitator in production", ic: ic,
			fc: facilitator.Config{MockFacilitator: true, Environment: config.Environment{Name: "production"}}, wantErr: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			up, err := paywall.UpstreamsFromConfig(paywall.Config{XLayerRPCURL: tc.rpc}, tc.fc, tc.ic, log)
			if tc.wantErr {
				if err == nil {
					t.Fatal("built from a bad configuration")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if up.Ledger == nil || up.Facilitator == nil || (up.Balances != nil) != tc.wantBalances {
				t.Fatalf("upstreams %+v, want balances %v", up, tc.wantBalances)
			}
		})
	}
}

// The facilitator's /supported is read at cold start: an offer it does not
// serve fails the build naming the variable; an outage does not.
func TestUpstreamsCheckTheFacilitatorsCapabilities(t *testing.T) {
	log := slog.New(slog.DiscardHandler)
	ic := insforge.Config{BaseURL: "http://127.0.0.1:1", ServiceKey: "ik_0123456789abcdef0123456789abcdef", Timeout: time.Second}
	pc := paywall.Config{PaymentRecipient: "0x209693Bc6afc0C5328bA36FaF03C514EF312287C", Network: "eip155:196",
		Asset: "0x4ae46a509f6b1d9056937ba4500cb143933d2dc8", AssetName: "Global Dollar", AssetVersion: "1", MaxTimeoutSeconds: 300,
		ExtraAssets: config.CSV{"USDT0"}}
	for _, tc := range []struct {
		name    string
		setup   func(*okxtest.Server)
		wantVar string
	}{
		{name: "served", setup: func(*okxtest.Server) {}},
		{name: "another network", setup: func(o *okxtest.Server) {
			o.SetKinds([]map[string]any{{"x402Version": 2, "scheme": "exact", "network": "eip155:1952", "extra": nil}})
		}, wantVar: "X402_NETWORK"},
		{name: "USD₮0 not listed", setup: func(o *okxtest.Server) {
			o.SetKinds([]map[string]any{{"x402Version": 2, "scheme": "exact", "network": "eip155:196",
				"extra": map[string]any{"assets": []string{"0x4ae46a509f6b1d9056937ba4500cb143933d2dc8"}}}})
		}, wantVar: "X402_EXTRA_ASSETS"},
		{name: "facilitator down", setup: func(o *okxtest.Server) { o.HTTPError("supported", http.StatusBadGateway) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			okx := okxtest.New(t, facilitator.APIV2)
			tc.setup(okx)
			fc := facilitator.Config{OKXAPIKey: okxtest.Key, OKXSecretKey: okxtest.Secret, OKXPassphrase: okxtest.Passphrase,
				OKXBaseURL: okx.URL, OKXAPI: facilitator.APIV2}
			_, err := paywall.UpstreamsFromConfig(pc, fc, ic, log)
			var ve *config.VarError
			switch {
			case tc.wantVar == "" && err != nil:
				t.Fatal(err)
			case tc.wantVar != "" && (!errors.As(err, &ve) || ve.Var != tc.wantVar || !strings.Contains(err.Error(), tc.wantVar)):
				t.Fatalf("err %v, want one naming %s", err, tc.wantVar)
			}
			if okx.Accepted("supported") < 1 {
				t.Fatal("/supported was not asked")
			}
		})
	}
}
