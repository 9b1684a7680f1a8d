package paywall_test

import (
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/insforge/edge-functions-go/shared/config"
	"github.com/insforge/edge-functions-go/shared/facilitator"
	"github.com/insforge/edge-functions-go/shared/insforge"
	"github.com/insforge/edge-functions-go/shared/paywall"
)

// A paid function's collaborators come from its configuration: the balance
// check exists exactly when XLAYER_RPC_URL is set, and a bad InsForge or
// facilitator configuration fails the build.
func TestUpstreamsFromConfig(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
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
