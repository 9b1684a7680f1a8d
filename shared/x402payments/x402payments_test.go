package x402payments_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/insforge/edge-functions-go/shared/httpapi/openapitest"
	"github.com/insforge/edge-functions-go/shared/insforge/insforgetest"
	"github.com/insforge/edge-functions-go/shared/ledger"
	"github.com/insforge/edge-functions-go/shared/paywall"
	"github.com/insforge/edge-functions-go/shared/x402payments"
)

type down struct{}

func (down) List(context.Context, int) ([]ledger.Payment, error) { return nil, ledger.ErrUnavailable }
func (down) Stats(context.Context) (ledger.Stats, error) {
	return ledger.Stats{}, ledger.ErrUnavailable
}

func TestLedgerUnavailableIs503JSONAndOnlyGETIsAllowed(t *testing.T) {
	h := x402payments.New(x402payments.Config{AllowedOrigins: []string{"*"}}, x402payments.Deps{Source: down{}, Logger: slog.New(slog.DiscardHandler)})
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/x402/payments", nil))
	var body map[string]string
	if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil || w.Code != 503 || body["error"] != "ledger_unavailable" {
		t.Fatalf("status %d body %s", w.Code, w.Body)
	}
	w = httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest(http.MethodPost, "/x402/payments", nil))
	if w.Code != http.StatusMethodNotAllowed {
		t.Fatalf("POST = %d", w.Code)
	}
}

func TestDashboardRoutesGoToThePageAndTheRestToTheAPI(t *testing.T) {
	page := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Header().Set("X-Served-By", "page") })
	api := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Header().Set("X-Served-By", "api") })
	h := x402payments.WithDashboard(api, page, slog.New(slog.DiscardHandler))
	cases := []struct{ method, path, by string }{
		{http.MethodGet, "/x402/dashboard", "page"},
		{http.MethodGet, "/x402/dashboard/app.mjs", "page"},
		{http.MethodGet, "/x402/payments", "api"},
		{http.MethodGet, "/x402/dashboards", "api"},
		{http.MethodPost, "/x402/dashboard", ""},
	}
	for _, c := range cases {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest(c.method, c.path, nil))
		if got := w.Header().Get("X-Served-By"); got != c.by {
			t.Errorf("%s %s served by %q, want %q (status %d)", c.method, c.path, got, c.by, w.Code)
		}
		if c.by == "" && w.Code != http.StatusMethodNotAllowed {
			t.Errorf("%s %s: %d, want 405", c.method, c.path, w.Code)
		}
	}
}

// The payments endpoint answers CORS with the paid endpoints' header lists (it
// keeps its own copy so as not to link the paywall).
func TestCORSListsAreThePaywalls(t *testing.T) {
	allow, expose := x402payments.CORSHeaders()
	if !slices.Equal(allow, paywall.CORSAllowHeaders) || !slices.Equal(expose, paywall.CORSExposeHeaders) {
		t.Fatalf("allow %q expose %q, want %q %q", allow, expose, paywall.CORSAllowHeaders, paywall.CORSExposeHeaders)
	}
}

func TestMain(m *testing.M) { insforgetest.Main(m) }

func quiet() *slog.Logger { return slog.New(slog.DiscardHandler) }

func TestPaymentsHavePerEndpointTotalsAndNoErrorText(t *testing.T) {
	s := insforgetest.New(t)
	l := ledger.New(s.ServiceClient())
	ctx := context.Background()
	n := 0
	claim := func(endpoint, amount string) *ledger.Payment {
		n++
		r, _, err := l.Claim(ctx, ledger.Claim{PayerAddress: "0x1111111111111111111111111111111111111111", Endpoint: endpoint,
			Amount: amount, Network: "eip155:196", Asset: "0x4ae46a509f6b1d9056937ba4500cb143933d2dc8",
			PayTo: "0x209693bc6afc0c5328ba36faf03c514ef312287c", Nonce: "0x" + strings.Repeat("0", 62) + string(rune('a'+n)) + "0",
			ValidBefore: time.Now().Add(time.Minute).Unix()})
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	for i, e := range []string{"/x402/report", "/x402/report", "/x402/gateway"} {
		r := claim(e, "5")
		if err := l.SettleDelivered(ctx, r.ID, r.Holder(), "0x"+strings.Repeat(string(rune('a'+i)), 64), false, time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	failed := claim("/x402/report", "5")
	if err := l.Fail(ctx, failed.ID, "OKX said something private"); err != nil {
		t.Fatal(err)
	}
	w := httptest.NewRecorder()
	x402payments.New(x402payments.Config{AllowedOrigins: []string{"*"}}, x402payments.Deps{Source: l, Logger: quiet()}).ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/x402/payments", nil))
	if w.Code != 200 || strings.Contains(w.Body.String(), "private") || strings.Contains(w.Body.String(), `"error"`) {
		t.Fatalf("status %d body %s", w.Code, w.Body)
	}
	var b struct {
		Payments []map[string]any `json:"payments"`
		Stats    struct {
			TotalRequests int64  `json:"totalRequests"`
			TotalRevenue  string `json:"totalRevenue"`
			Endpoints     []struct {
				Endpoint string `json:"endpoint"`
				Requests int64  `json:"requests"`
				Revenue  string `json:"revenue"`
			} `json:"endpoints"`
		} `json:"stats"`
	}
	if err := json.Unmarshal(w.Body.Bytes(), &b); err != nil {
		t.Fatal(err)
	}
	st := b.Stats
	if len(b.Payments) != 4 || st.TotalRequests != 3 || st.TotalRevenue != "15" || len(st.Endpoints) != 2 ||
		st.Endpoints[0].Endpoint != "/x402/gateway" || st.Endpoints[0].Requests != 1 || st.Endpoints[1].Revenue != "10" {
		t.Fatalf("body %s", w.Body)
	}
}

// BenchmarkPaymentsAt100kRows serves GET /x402/payments over a ledger of
// 100,000 settled rows: the stats read from the trigger-kept totals, against
// the previous definition (a scan of every settled row) installed beside it.
func BenchmarkPaymentsAt100kRows(b *testing.B) {
	s := insforgetest.New(b)
	ctx := context.Background()
	if _, err := s.Pool.Exec(ctx, `INSERT INTO public.x402_payments
		(payer_address, endpoint, amount, tx_hash, status, network, asset, pay_to, nonce, valid_before, delivered_at)
		SELECT '0x' || lpad(to_hex(i % 5000), 40, '0'), CASE WHEN i % 3 = 0 THEN '/x402/gateway' ELSE '/x402/report' END,
		       '1000', '0x' || lpad(to_hex(i), 64, '0'), 'settled', 'eip155:196', '0x4ae46a509f6b1d9056937ba4500cb143933d2dc8',
		       '0x209693bc6afc0c5328ba36faf03c514ef312287c', '0x' || lpad(to_hex(i), 64, 'f'), 1, now()
		  FROM generate_series(1, 100000) i`); err != nil {
		b.Fatal(err)
	}
	if _, err := s.Pool.Exec(ctx, `ANALYZE public.x402_payments`); err != nil {
		b.Fatal(err)
	}
	// The 0003 definition, under another name.
	if err := s.AdminExec(ctx, `CREATE FUNCTION public.x402_payment_stats_scan() RETURNS jsonb LANGUAGE sql STABLE
		SET search_path = pg_catalog, pg_temp AS $$
		SELECT jsonb_build_object('totalRequests', count(*),
		  'totalRevenue', coalesce(sum(amount::numeric) FILTER (WHERE NOT mock), 0)::text, 'latestPayment', max(created_at))
		FROM public.x402_payments WHERE status = 'settled' $$`); err != nil {
		b.Fatal(err)
	}
	l := ledger.New(s.ServiceClient())
	for _, c := range []struct {
		name string
		src  x402payments.Source
	}{{"totals table", l}, {"full scan (previous)", scanStats{l, s}}} {
		b.Run(c.name, func(b *testing.B) {
			h := x402payments.New(x402payments.Config{AllowedOrigins: []string{"*"}}, x402payments.Deps{Source: c.src, Logger: quiet()})
			for b.Loop() {
				w := httptest.NewRecorder()
				h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/x402/payments", nil))
				if w.Code != 200 || !strings.Contains(w.Body.String(), `"totalRequests":100000`) {
					b.Fatalf("status %d %.300s", w.Code, w.Body)
				}
			}
		})
	}
}

// scanStats is the ledger with the previous stats function.
type scanStats struct {
	*ledger.Ledger
	s *insforgetest.Stack
}

func (x scanStats) Stats(ctx context.Context) (ledger.Stats, error) {
	var raw json.RawMessage
	if err := x.s.ServiceClient().RPC(ctx, "x402_payment_stats_scan", nil, &raw); err != nil {
		return ledger.Stats{}, err
	}
	var st ledger.Stats
	err := json.Unmarshal(raw, &st)
	return st, err
}

// The payments body counts passes per product: sold (real and mock apart) and
// the wallets holding one now; validated against docs/openapi.yaml.
func TestPaymentsCountPassesSoldAndActivePerProduct(t *testing.T) {
	s := insforgetest.New(t)
	l := ledger.New(s.ServiceClient())
	ctx := context.Background()
	g := ledger.Grant{Endpoint: "/x402/pass/pro", Product: "pro", Duration: time.Hour}
	for i, payer := range []string{"0x1111111111111111111111111111111111111111", "0x1111111111111111111111111111111111111111", "0x2222222222222222222222222222222222222222"} {
		r, _, err := l.Claim(ctx, ledger.Claim{PayerAddress: payer, Endpoint: g.Endpoint, Amount: "10", Network: "eip155:196",
			Asset: "0x4ae46a509f6b1d9056937ba4500cb143933d2dc8", PayTo: "0x209693bc6afc0c5328ba36faf03c514ef312287c",
			Nonce: "0x" + strings.Repeat(string(rune('a'+i)), 64), ValidBefore: time.Now().Add(time.Minute).Unix(), Mock: i == 2})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := l.SettleDeliveredGrant(ctx, r.ID, r.Holder(), "0x"+strings.Repeat(string(rune('1'+i)), 64), i == 2, time.Now(), g); err != nil {
			t.Fatal(err)
		}
	}
	r := httptest.NewRequest(http.MethodGet, "/x402/payments", nil)
	w := httptest.NewRecorder()
	x402payments.New(x402payments.Config{AllowedOrigins: []string{"*"}}, x402payments.Deps{Source: l, Logger: quiet()}).ServeHTTP(w, r)
	openapitest.CheckRecorder(t, r, w)
	var b x402payments.Body
	if err := json.Unmarshal(w.Body.Bytes(), &b); err != nil {
		t.Fatal(err)
	}
	if len(b.Passes) != 1 || b.Passes[0] != (ledger.PassStats{Product: "pro", Sold: 2, SoldMock: 1, Active: 2}) {
		t.Fatalf("passes %+v", b.Passes)
	}
}
