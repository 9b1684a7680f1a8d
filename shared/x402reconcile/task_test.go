package x402reconcile_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/insforge/edge-functions-go/shared/insforge/insforgetest"
	"github.com/insforge/edge-functions-go/shared/launch"
	"github.com/insforge/edge-functions-go/shared/ledger"
	"github.com/insforge/edge-functions-go/shared/metrics"
	"github.com/insforge/edge-functions-go/shared/x402reconcile"
)

func TestBuildValidatesAndRuns(t *testing.T) {
	s := insforgetest.New(t)
	quiet := slog.New(slog.DiscardHandler)
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
		"XLAYER_RPC_URL":       {"XLAYER_RPC_URL": "http://rpc.xlayer.tech/k3y"},
		"MOCK_OKX_FACILITATOR": {"ENVIRONMENT": "production"},
	} {
		set(kv)
		_, err := x402reconcile.Build(launch.Runtime{Logger: quiet})
		if err == nil || !strings.Contains(err.Error(), name) {
			t.Fatalf("%s: err = %v", name, err)
		}
		for _, v := range kv {
			if strings.Contains(err.Error(), v) {
				t.Fatalf("%s: the message repeats the value %q: %v", name, v, err)
			}
		}
	}
	set(nil)
	run, err := x402reconcile.Build(launch.Runtime{Logger: quiet})
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

func TestRecordEmitsTheAlarmMetrics(t *testing.T) {
	cases := []struct {
		name    string
		rep     x402reconcile.Report
		err     error
		want    map[string]float64
		notWant string
	}{
		{"quiet run reports zero age", x402reconcile.Report{Checked: 1, Settled: 1}, nil,
			map[string]float64{x402reconcile.MetricOldestPendingMinutes: 0}, x402reconcile.MetricRunsFailed},
		{"stuck rows report the oldest age in minutes", x402reconcile.Report{Unresolved: 2, OldestUnresolved: 47*time.Minute + 30*time.Second}, nil,
			map[string]float64{x402reconcile.MetricOldestPendingMinutes: 47}, x402reconcile.MetricRunsFailed},
		{"a run that could not read the ledger reports only the failure", x402reconcile.Report{}, errors.New("insforge unreachable"),
			map[string]float64{x402reconcile.MetricRunsFailed: 1}, x402reconcile.MetricOldestPendingMinutes},
		{"a run that failed on some rows still reports their age", x402reconcile.Report{Checked: 3, Unresolved: 1, OldestUnresolved: 5 * time.Minute},
			errors.New("payment x: chain unreachable"),
			map[string]float64{x402reconcile.MetricRunsFailed: 1, x402reconcile.MetricOldestPendingMinutes: 5}, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var buf bytes.Buffer
			x402reconcile.Record(metrics.New(&buf, "x402-reconcile"), c.rep, c.err)
			got := map[string]float64{}
			for _, line := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
				var m map[string]any
				if err := json.Unmarshal([]byte(line), &m); err != nil {
					t.Fatalf("not JSON: %s", line)
				}
				aws, _ := m["_aws"].(map[string]any)
				cw, _ := aws["CloudWatchMetrics"].([]any)
				if len(cw) != 1 || cw[0].(map[string]any)["Namespace"] != metrics.Namespace {
					t.Fatalf("not an EMF line in %s: %s", metrics.Namespace, line)
				}
				for _, d := range cw[0].(map[string]any)["Metrics"].([]any) {
					name := d.(map[string]any)["Name"].(string)
					got[name] = m[name].(float64)
				}
			}
			for k, v := range c.want {
				if g, ok := got[k]; !ok || g != v {
					t.Errorf("%s = %v (present %v), want %v", k, g, ok, v)
				}
			}
			if _, ok := got[c.notWant]; c.notWant != "" && ok {
				t.Errorf("%s emitted", c.notWant)
			}
		})
	}
}
