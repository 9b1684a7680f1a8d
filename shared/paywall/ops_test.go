package paywall_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/insforge/edge-functions-go/shared/facilitator"
	"github.com/insforge/edge-functions-go/shared/facilitator/okxtest"
	"github.com/insforge/edge-functions-go/shared/httpapi"
	"github.com/insforge/edge-functions-go/shared/insforge"
	"github.com/insforge/edge-functions-go/shared/ledger"
	"github.com/insforge/edge-functions-go/shared/logtest"
	"github.com/insforge/edge-functions-go/shared/metrics"
	"github.com/insforge/edge-functions-go/shared/paywall"
	"github.com/insforge/edge-functions-go/shared/x402"
)

// metricCounts sums EMF values by "Name" or "Name/stage".
func metricCounts(t *testing.T, s string) map[string]float64 {
	t.Helper()
	out := map[string]float64{}
	sc := bufio.NewScanner(strings.NewReader(s))
	for sc.Scan() {
		var l map[string]any
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatalf("metric line is not JSON: %q", sc.Text())
		}
		aws := l["_aws"].(map[string]any)["CloudWatchMetrics"].([]any)[0].(map[string]any)
		name := aws["Metrics"].([]any)[0].(map[string]any)["Name"].(string)
		if l["endpoint"] != "/x402/report" || l["function"] != "x402-report" {
			t.Fatalf("dimensions missing: %s", sc.Text())
		}
		key := name
		if st, ok := l["stage"].(string); ok {
			key += "/" + st
		}
		out[key] += l[name].(float64)
	}
	return out
}

type opsCase struct {
	name   string
	opts   []option
	script func(*okxtest.Server)
	status int
	want   map[string]float64
	// logs are messages the case must log (so the secret scan reads real lines).
	logs []string
}

func opsCases() []opsCase {
	return []opsCase{
		{"settled", nil, nil, 200, map[string]float64{paywall.MetricSettled: 1, paywall.MetricDelivered: 1}, []string{"payment settled and delivered"}},
		{"verify rejected", nil, func(s *okxtest.Server) { s.VerifyInvalid("insufficient_funds") }, 402,
			map[string]float64{paywall.MetricFailed + "/" + paywall.StageVerify: 1, paywall.MetricReleased: 1}, []string{"payment refused by the facilitator"}},
		{"verify unreachable", nil, func(s *okxtest.Server) { s.HTTPError("verify", 503) }, 502,
			map[string]float64{paywall.MetricFailed + "/" + paywall.StageVerifyError: 1, paywall.MetricReleased: 1}, []string{"request failed"}},
		{"settle failed", nil, func(s *okxtest.Server) { s.SettleFail("insufficient_funds") }, 402,
			map[string]float64{paywall.MetricFailed + "/" + paywall.StageSettle: 1}, []string{"settlement failed"}},
		{"settle refused", nil, func(s *okxtest.Server) { s.Code("settle", "50113") }, 502,
			map[string]float64{paywall.MetricFailed + "/" + paywall.StageSettleRefused: 1, paywall.MetricReleased: 1}, []string{"request failed"}},
		{"settle pending", nil, func(s *okxtest.Server) { s.SettleStatus("timeout") }, 202,
			map[string]float64{paywall.MetricPending: 1}, []string{"settlement pending; row left for the reconciler"}},
		{"settle outcome unknown", nil, func(s *okxtest.Server) { s.HTTPError("settle", 500) }, 202,
			map[string]float64{paywall.MetricPending: 1}, []string{"settle outcome unknown; row left pending"}},
		{"ledger down before settle", []option{func(c *paywall.Options, h *harness) {
			down, err := insforge.New(insforge.Options{BaseURL: "http://127.0.0.1:1", Token: "ik_down_0123456789", MaxRetries: -1})
			if err != nil {
				h.t.Fatal(err)
			}
			c.Ledger = ledger.New(down)
		}}, nil, 503, map[string]float64{paywall.MetricFailed + "/" + paywall.StageLedgerLookup: 1}, []string{"request failed"}},
		{"ledger update fails after settle", []option{func(c *paywall.Options, h *harness) {
			c.Ledger = &settleFails{Ledger: h.ledger}
			c.SettleRecordAttempts = 3
		}}, nil, 202, map[string]float64{paywall.MetricSettled: 1, paywall.MetricLedgerRetries: 2, paywall.MetricLedgerRecordFailed: 1},
			[]string{"settled payment could not be recorded; row left pending for the reconciler"}},
	}
}

// runOps runs one case with metrics and request-scoped DEBUG logs captured.
func runOps(t *testing.T, c opsCase) (h *harness, header string, logs, emf *logtest.Buffer) {
	logs, emf = &logtest.Buffer{}, &logtest.Buffer{}
	opts := append([]option{func(cfg *paywall.Options, _ *harness) { cfg.Metrics = metrics.New(emf, "x402-report") }}, c.opts...)
	h = newHarness(t, facilitator.APIV2, opts...)
	logger := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	h.h = httpapi.Chain(h.h, httpapi.RequestID(logger))
	if c.script != nil {
		c.script(h.okx)
	}
	p := h.payer.Pay(t, h.offer, x402.StyleV2, time.Now())
	header = p.Encode(t)
	if w := h.do(p.Header(), header); w.Code != c.status {
		t.Fatalf("status %d, want %d: %s", w.Code, c.status, w.Body)
	}
	return h, header, logs, emf
}

func TestMetricsRecordSettledFailedPendingAndLedgerRetries(t *testing.T) {
	for _, c := range opsCases() {
		t.Run(c.name, func(t *testing.T) {
			_, _, _, emf := runOps(t, c)
			got := metricCounts(t, emf.String())
			if fmt.Sprint(got) != fmt.Sprint(c.want) {
				t.Fatalf("metrics = %v, want %v", got, c.want)
			}
		})
	}
}

// TestNoSecretOrPaymentHeaderIsLogged: on every money-path outcome, neither the
// payment header, its signature, the OKX credentials nor the InsForge key reach
// a log or metric line.
func TestNoSecretOrPaymentHeaderIsLogged(t *testing.T) {
	for _, c := range opsCases() {
		t.Run(c.name, func(t *testing.T) {
			h, header, logs, emf := runOps(t, c)
			all := logs.String() + emf.String()
			if len(c.logs) == 0 {
				t.Fatal("every case names the lines it must log")
			}
			for _, msg := range c.logs {
				if !strings.Contains(logs.String(), `"msg":"`+msg+`"`) {
					t.Fatalf("expected log line %q missing:\n%s", msg, logs.String())
				}
			}
			var pl x402.PaymentPayload
			if err := x402.DecodeHeader(x402.HeaderPaymentSignature, header, &pl); err != nil {
				t.Fatal(err)
			}
			sig := pl.Payload.Signature
			secrets := map[string]string{
				"payment header": header, "payment header (prefix)": header[:48],
				"signature": sig, "signature without 0x": strings.TrimPrefix(sig, "0x")[:40],
				"OKX secret": okxtest.Secret, "OKX passphrase": okxtest.Passphrase, "OKX API key": okxtest.Key,
				"InsForge key (ledger down)": "ik_down_0123456789",
			}
			if h.stack != nil {
				secrets["InsForge service key"] = h.stack.ServiceKey
			}
			for what, v := range secrets {
				if v != "" && strings.Contains(all, v) {
					t.Errorf("%s appears in the logs:\n%s", what, all)
				}
			}
			sc := bufio.NewScanner(strings.NewReader(logs.String()))
			for sc.Scan() {
				if !strings.Contains(sc.Text(), `"level":`) || !strings.Contains(sc.Text(), `"request_id":`) {
					t.Errorf("log line without level or request_id: %s", sc.Text())
				}
			}
		})
	}
}
