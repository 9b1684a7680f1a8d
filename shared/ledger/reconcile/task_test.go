package reconcile_test

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"

	"github.com/insforge/edge-functions-go/shared/insforge/insforgetest"
	"github.com/insforge/edge-functions-go/shared/ledger"
	"github.com/insforge/edge-functions-go/shared/ledger/reconcile"
)

func TestBuildValidatesAndRuns(t *testing.T) {
	s := insforgetest.New(t)
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	set := func(kv map[string]string) {
		base := map[string]string{"INSFORGE_BASE_URL": s.URL, "INSFORGE_SERVICE_KEY": s.ServiceKey,
			"MOCK_OKX_FACILITATOR": "true", "ENVIRONMENT": "development", "X402_RECONCILE_AFTER": "2m", "XLAYER_RPC_URL": ""}
		for k, v := range kv {
			base[k] = v
		}
		for k, v := range base {
			t.Setenv(k, v)
		}
	}
	for name, kv := range map[string]map[string]string{
		"X402_RECONCILE_AFTER": {"X402_RECONCILE_AFTER": "10s"},
		"XLAYER_RPC_URL":       {"XLAYER_RPC_URL": "http://rpc.xlayer.tech"},
		"MOCK_OKX_FACILITATOR": {"ENVIRONMENT": "production"},
	} {
		set(kv)
		if _, err := reconcile.Build(quiet); err == nil || !strings.Contains(err.Error(), name) {
			t.Fatalf("%s: err = %v", name, err)
		}
	}
	set(nil)
	run, err := reconcile.Build(quiet)
	if err != nil {
		t.Fatal(err)
	}
	// A mock row left pending three minutes ago: the run closes it as failed.
	l := ledger.New(s.ServiceClient())
	row, _, err := l.Claim(context.Background(), ledger.Claim{
		PayerAddress: "0x1111111111111111111111111111111111111111", Endpoint: "/x402/report", Amount: "1",
		Network: "eip155:196", Asset: "0x4ae46a509f6b1d9056937ba4500cb143933d2dc8",
		PayTo: "0x209693bc6afc0c5328ba36faf03c514ef312287c", Nonce: "0x" + strings.Repeat("ab", 32),
		ValidBefore: 1, Mock: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Pool.Exec(context.Background(), `UPDATE x402_payments SET created_at = now() - interval '3 minutes' WHERE id = $1`, row.ID); err != nil {
		t.Fatal(err)
	}
	if err := run(context.Background()); err != nil {
		t.Fatal(err)
	}
	got, err := l.Get(context.Background(), row.ID)
	if err != nil || got.Status != ledger.StatusFailed || got.ErrorText() != "mock payment was never confirmed" {
		t.Fatalf("row after the run: %+v, %v", got, err)
	}
}
