package x402report_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"

	"github.com/insforge/edge-functions-go/shared/facilitator/okxtest"
	"github.com/insforge/edge-functions-go/shared/insforge/insforgetest"
	"github.com/insforge/edge-functions-go/shared/launch"
	"github.com/insforge/edge-functions-go/shared/ledger"
	"github.com/insforge/edge-functions-go/shared/localchain"
	"github.com/insforge/edge-functions-go/shared/x402/onchain"
	"github.com/insforge/edge-functions-go/shared/x402/onchain/onchaintest"
	"github.com/insforge/edge-functions-go/shared/x402/payer"
	"github.com/insforge/edge-functions-go/shared/x402/x402test"
	"github.com/insforge/edge-functions-go/shared/x402gateway"
	"github.com/insforge/edge-functions-go/shared/x402pass"
	"github.com/insforge/edge-functions-go/shared/x402payments"
	"github.com/insforge/edge-functions-go/shared/x402reconcile"
	"github.com/insforge/edge-functions-go/shared/x402report"
)

func TestMain(m *testing.M) { insforgetest.Main(m) }

var quiet = slog.New(slog.DiscardHandler)

func env(t *testing.T, s *insforgetest.Stack, kv map[string]string) {
	base := map[string]string{
		"PAYMENT_RECIPIENT": x402test.PayTo, "X402_PRICE": "1",
		"INSFORGE_BASE_URL": s.URL, "INSFORGE_SERVICE_KEY": s.ServiceKey,
		"ENVIRONMENT": "development", "ALLOWED_ORIGINS": "https://app.example.com",
	}
	for k, v := range kv {
		base[k] = v
	}
	for k, v := range base {
		t.Setenv(k, v)
	}
}

// built is the report function built from the environment env makes.
func built(t *testing.T, s *insforgetest.Stack, kv map[string]string) http.Handler {
	t.Helper()
	env(t, s, kv)
	h, err := x402report.Build(launch.Runtime{Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// served is built behind a test server.
func served(t *testing.T, s *insforgetest.Stack, kv map[string]string) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(built(t, s, kv))
	t.Cleanup(srv.Close)
	return srv
}

// The deployed wiring, end to end: Build from the environment, pay with the
// payer CLI's client, then read the ledger through GET /x402/payments.
func TestBuiltFunctionsPayAndReportThroughTheLedger(t *testing.T) {
	for _, mode := range []string{"mock", "okx"} {
		t.Run(mode, func(t *testing.T) {
			s := insforgetest.New(t)
			kv := map[string]string{"MOCK_OKX_FACILITATOR": "true"}
			if mode == "okx" {
				o := okxtest.New(t, "v2")
				kv = map[string]string{"OKX_BASE_URL": o.URL, "OKX_API_KEY": okxtest.Key, "OKX_SECRET_KEY": okxtest.Secret, "OKX_PASSPHRASE": okxtest.Passphrase}
			}
			srv := served(t, s, kv)
			key, _, _ := payer.LoadKey("")
			c := &payer.Client{Key: key, MaxAmount: big.NewInt(10)}
			res, err := c.Pay(context.Background(), http.MethodPost, srv.URL+x402report.Endpoint, nil)
			if err != nil {
				t.Fatal(err)
			}
			var body x402report.Body
			if err := json.Unmarshal(res.Body, &body); err != nil || res.Status != 200 || !res.Settlement.Success ||
				body.Payment.ID == "" || body.Payment.TxHash != "" || res.Settlement.Transaction == "" || len(body.Report.Assets) != 5 || body.Payment.Mock != (mode == "mock") {
				t.Fatalf("status %d body %s settlement %+v", res.Status, res.Body, res.Settlement)
			}

			ph, err := x402payments.Build(launch.Runtime{Logger: quiet})
			if err != nil {
				t.Fatal(err)
			}
			w := httptest.NewRecorder()
			ph.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/x402/payments", nil))
			var pb x402payments.Body
			if err := json.Unmarshal(w.Body.Bytes(), &pb); err != nil || w.Code != 200 || len(pb.Payments) != 1 {
				t.Fatalf("payments %d %s", w.Code, w.Body)
			}
			wantRevenue := map[string]string{"mock": "0", "okx": "1"}[mode]
			if pb.Stats.TotalRequests != 1 || pb.Stats.TotalRevenue != wantRevenue || pb.Stats.LatestPayment == nil ||
				!strings.EqualFold(pb.Payments[0].PayerAddress, res.Payer.Hex()) {
				t.Fatalf("stats %+v payments %+v", pb.Stats, pb.Payments)
			}
		})
	}
}

func TestBuildRefusesMockInProductionAndBadConfig(t *testing.T) {
	s := insforgetest.New(t)
	cases := map[string]map[string]string{
		"MOCK_OKX_FACILITATOR": {"MOCK_OKX_FACILITATOR": "true", "ENVIRONMENT": "staging"},
		"PAYMENT_RECIPIENT":    {"MOCK_OKX_FACILITATOR": "true", "PAYMENT_RECIPIENT": "0x1234"},
		"INSFORGE_SERVICE_KEY": {"MOCK_OKX_FACILITATOR": "true", "INSFORGE_SERVICE_KEY": "not-a-key"},
		"OKX_API_KEY":          {},
	}
	for name, kv := range cases {
		t.Run(name, func(t *testing.T) {
			env(t, s, kv)
			if _, err := x402report.Build(launch.Runtime{Logger: quiet}); err == nil || !strings.Contains(err.Error(), name) {
				t.Fatalf("err = %v, want one naming %s", err, name)
			}
		})
	}
}

// X402_PRICE is the report's price and nobody else's: the gateway (priced per
// route) and the pass function (priced per product) cold-start without it and
// ignore a bad one, while the report refuses a bad one naming the variable and
// never quoting it. No database is needed: a cold start does not call InsForge.
func TestOnlyTheReportReadsX402Price(t *testing.T) {
	builds := map[string]func(launch.Runtime) (http.Handler, error){
		"report": x402report.Build, "gateway": x402gateway.Build, "pass": x402pass.Build,
	}
	for fn, build := range builds {
		for _, price := range []string{"", "0.5", "-1", "1000"} {
			t.Run(fn+"/"+price, func(t *testing.T) {
				for k, v := range map[string]string{
					"PAYMENT_RECIPIENT": x402test.PayTo, "ENVIRONMENT": "development", "MOCK_OKX_FACILITATOR": "true",
					"INSFORGE_BASE_URL": "http://127.0.0.1:1", "INSFORGE_SERVICE_KEY": "ik_0123456789abcdef0123456789abcdef",
					"INSFORGE_JWT_SECRET": strings.Repeat("s", 32), x402pass.VarProducts: `[{"id":"pro","price":"10","duration":"1h"}]`,
					x402gateway.VarUpstreamURL: "https://api.example.com", x402gateway.VarReceiptKey: strings.Repeat("k", 32),
					x402gateway.VarRoutes: `[{"method":"GET","path":"/quote","price":"1000","description":"A quote"}]`,
					x402report.VarPrice:   price,
				} {
					t.Setenv(k, v)
				}
				_, err := build(launch.Runtime{Logger: quiet})
				if bad := fn == "report" && (price == "0.5" || price == "-1"); !bad {
					if err != nil {
						t.Fatalf("cold start: %v", err)
					}
					return
				}
				if err == nil || !strings.Contains(err.Error(), x402report.VarPrice) || strings.Contains(err.Error(), price) {
					t.Fatalf("err = %v, want one naming %s without its value", err, x402report.VarPrice)
				}
			})
		}
	}
}

func TestReportEndpointOnlyAcceptsPOSTAndOwnsCORS(t *testing.T) {
	s := insforgetest.New(t)
	h := built(t, s, map[string]string{"MOCK_OKX_FACILITATOR": "true"})
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, x402report.Endpoint, nil))
	if w.Code != http.StatusMethodNotAllowed {
		t.Fatalf("GET = %d", w.Code)
	}
	r := httptest.NewRequest(http.MethodPost, x402report.Endpoint, nil)
	r.Header.Set("Origin", "https://app.example.com")
	w = httptest.NewRecorder()
	h.ServeHTTP(w, r)
	if w.Code != http.StatusPaymentRequired || !strings.Contains(w.Header().Get("Access-Control-Expose-Headers"), "PAYMENT-REQUIRED") {
		t.Fatalf("status %d headers %v", w.Code, w.Header())
	}
}

// The deployed wiring on the local X Layer: the balance check (XLAYER_RPC_URL)
// reads the devnet, the OKX emulator settles there for real, and the reconciler
// confirms the ledger row on the transaction's receipt.
func TestBuiltFunctionSettlesOnTheDevnet(t *testing.T) {
	ctx := context.Background()
	s := insforgetest.New(t)
	d := onchaintest.New(t)
	o := okxtest.New(t, "v2")
	o.SettleOn(d)
	srv := served(t, s, map[string]string{"OKX_BASE_URL": o.URL, "OKX_API_KEY": okxtest.Key, "OKX_SECRET_KEY": okxtest.Secret,
		"OKX_PASSPHRASE": okxtest.Passphrase, "XLAYER_RPC_URL": d.URL})

	// Unfunded on the devnet: refused before any verify or settle (the cold
	// start's /supported is the only facilitator call).
	poor, _, _ := payer.LoadKey("")
	res, err := (&payer.Client{Key: poor, MaxAmount: big.NewInt(10)}).Pay(ctx, http.MethodPost, srv.URL+x402report.Endpoint, nil)
	if err != nil {
		t.Fatalf("unfunded payer: %v", err)
	}
	if paid := len(o.Calls("verify")) + len(o.Calls("settle")); res.Status != http.StatusPaymentRequired || paid != 0 {
		t.Fatalf("unfunded payer: status %d, verify+settle calls %d", res.Status, paid)
	}

	key, _, _ := payer.LoadKey("")
	payerAddr := localchain.Address(key)
	onchaintest.Mint(t, d, d.USDG, payerAddr, 10)
	began := time.Now()
	res, err = (&payer.Client{Key: key, MaxAmount: big.NewInt(10)}).Pay(ctx, http.MethodPost, srv.URL+x402report.Endpoint, nil)
	if err != nil || res.Status != 200 || !res.Settlement.Success {
		t.Fatalf("paid request: %+v %v", res, err)
	}
	t.Logf("challenge + paid request with a real settle on the devnet: %s", time.Since(began))
	rc, err := d.Receipt(ctx, common.HexToHash(res.Settlement.Transaction))
	if err != nil || rc.Status != types.ReceiptStatusSuccessful {
		t.Fatalf("settlement receipt %+v %v", rc, err)
	}
	if b, _ := d.BalanceOf(ctx, d.USDG, payerAddr); b.Int64() != 9 {
		t.Fatalf("payer balance %v", b)
	}
	if b, _ := d.BalanceOf(ctx, d.USDG, common.HexToAddress(x402test.PayTo)); b.Int64() != 1 {
		t.Fatalf("recipient balance %v", b)
	}

	l := ledger.New(s.ServiceClient())
	r := x402reconcile.New(x402reconcile.Config{After: time.Minute}, x402reconcile.Deps{Store: l,
		Chain: onchain.Reader{Caller: d.Client()}, Logger: quiet, Now: func() time.Time { return time.Now().Add(5 * time.Minute) }})
	if rep, err := r.Run(ctx); err != nil || rep.Confirmed != 1 {
		t.Fatalf("reconciler %+v %v", rep, err)
	}
}
