package x402gateway_test

import (
	"context"
	"encoding/json"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/insforge/edge-functions-go/shared/facilitator/okxtest"
	"github.com/insforge/edge-functions-go/shared/insforge/insforgetest"
	"github.com/insforge/edge-functions-go/shared/launch"
	"github.com/insforge/edge-functions-go/shared/x402/payer"
	"github.com/insforge/edge-functions-go/shared/x402/x402test"
	"github.com/insforge/edge-functions-go/shared/x402gateway"
	"github.com/insforge/edge-functions-go/shared/x402payments"
)

// The deployed wiring: Build from the environment, pay two routes with the
// payer CLI's client, and read the revenue per route from GET /x402/payments.
func TestBuiltGatewayPaysAndReportsRevenuePerRoute(t *testing.T) {
	s := insforgetest.New(t)
	o := okxtest.New(t, "v2")
	up := newUpstream(t)
	for k, v := range map[string]string{
		"PAYMENT_RECIPIENT": x402test.PayTo, "INSFORGE_BASE_URL": s.URL, "INSFORGE_SERVICE_KEY": s.ServiceKey,
		"ENVIRONMENT": "staging", "OKX_BASE_URL": o.URL, "OKX_API_KEY": okxtest.Key, "OKX_SECRET_KEY": okxtest.Secret,
		"OKX_PASSPHRASE": okxtest.Passphrase, "MOCK_OKX_FACILITATOR": "false",
		x402gateway.VarUpstreamURL: up.URL + "/base", x402gateway.VarRoutes: testRoutes,
		x402gateway.VarReceiptKey: receiptKey, x402gateway.VarUpstreamAuthHeader: "X-Api-Key", x402gateway.VarUpstreamAuth: upstreamKey,
	} {
		t.Setenv(k, v)
	}
	h, err := x402gateway.Build(launch.Runtime{Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	defer srv.Close()
	key, _, _ := payer.LoadKey("")
	c := &payer.Client{Key: key, MaxAmount: big.NewInt(10_000)}
	for _, target := range []string{"/pay/quote", "/pay/items/9", "/pay/items/10"} {
		res, err := c.Pay(context.Background(), http.MethodGet, srv.URL+target, nil)
		if err != nil || res.Status != http.StatusOK || res.Settlement == nil || !res.Settlement.Success {
			t.Fatalf("%s: %+v %v", target, res, err)
		}
	}
	if calls := up.Calls(); len(calls) != 3 || calls[0].ReceiptErr != nil || calls[0].Header.Get("X-Api-Key") != upstreamKey {
		t.Fatalf("upstream calls %+v", calls)
	}

	ph, err := x402payments.Build(launch.Runtime{Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	w := httptest.NewRecorder()
	ph.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/x402/payments", nil))
	var body x402payments.Body
	if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil || w.Code != http.StatusOK {
		t.Fatalf("payments %d %s", w.Code, w.Body)
	}
	got := map[string]string{}
	for _, e := range body.Stats.Endpoints {
		got[e.Endpoint] = e.Revenue + "/" + big.NewInt(e.Requests).String()
	}
	want := map[string]string{"GET /pay/quote": "1000/1", "GET /pay/items/{id}": "4/2"}
	if len(got) != len(want) || got["GET /pay/quote"] != want["GET /pay/quote"] || got["GET /pay/items/{id}"] != want["GET /pay/items/{id}"] ||
		body.Stats.TotalRevenue != "1004" {
		t.Fatalf("per-route stats %v total %s", got, body.Stats.TotalRevenue)
	}
	for _, p := range body.Payments {
		if !strings.HasPrefix(p.Endpoint, "GET /pay/") {
			t.Fatalf("row endpoint %q", p.Endpoint)
		}
	}
}
