package reconcile_test

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"

	"github.com/insforge/edge-functions-go/shared/insforge/insforgetest"
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
	if err := run(context.Background()); err != nil {
		t.Fatal(err)
	}
}
