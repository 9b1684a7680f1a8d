package runner

import (
	"context"
	"encoding/json"
	"math/big"
	"net/http"
	"strings"
	"testing"

	"github.com/insforge/edge-functions-go/shared/insforge/insforgetest"
	"github.com/insforge/edge-functions-go/shared/x402/payer"
)

// With zero configuration the real x402-gateway binary, run through the Runtime
// API, sells the dev upstream: the project's payer client pays GET /pay/quote and
// gets the upstream's answer (which checked the credential and the receipt); the
// failing route is not charged; an unpriced path is 404.
func TestDevGatewaySellsTheLocalUpstreamWithZeroConfiguration(t *testing.T) {
	const fn = "X402GatewayFunction"
	env := startOne(t, fn, "")
	insforgetest.RequireStarted(t, env.Insforge, env.InsforgeErr)
	if env.Upstream == nil {
		t.Fatalf("dev profile did not start the upstream: %v", env.Notes)
	}
	srv := gatewayFor(env, fn)
	defer srv.Close()

	key, _, err := payer.LoadKey("")
	if err != nil {
		t.Fatal(err)
	}
	c := &payer.Client{Key: key, MaxAmount: big.NewInt(10_000)}
	res, err := c.Pay(context.Background(), http.MethodGet, srv.URL+"/pay/quote?symbol=ETH", nil)
	if err != nil {
		t.Fatal(err)
	}
	var quote map[string]any
	if err := json.Unmarshal(res.Body, &quote); err != nil || res.Status != http.StatusOK || !res.Paid ||
		res.Settlement == nil || !res.Settlement.Success || quote["symbol"] != "ETH" ||
		!strings.EqualFold(quote["paid_by"].(string), res.Payer.Hex()) || quote["amount"] != "1000" {
		t.Fatalf("status %d settlement %+v body %s", res.Status, res.Settlement, res.Body)
	}

	res, err = c.Pay(context.Background(), http.MethodGet, srv.URL+"/pay/fail", nil)
	if err != nil || res.Status != http.StatusBadGateway || (res.Settlement != nil && res.Settlement.Success) {
		t.Fatalf("failing route: %+v %v", res, err)
	}

	r, err := http.Get(srv.URL + "/pay/admin")
	if err != nil {
		t.Fatal(err)
	}
	r.Body.Close()
	if r.StatusCode != http.StatusNotFound {
		t.Fatalf("unpriced path: %d", r.StatusCode)
	}
}

// A bad route table fails the gateway's cold start the way Lambda reports it,
// naming the variable.
func TestDevGatewayInitFailureNamesTheRouteVariable(t *testing.T) {
	const fn = "X402GatewayFunction"
	env := startOne(t, fn, `{"Parameters": {"X402_GATEWAY_ROUTES": "[{\"method\":\"GET\",\"path\":\"/a\",\"price\":\"0\",\"description\":\"free?\"}]"}}`)
	ev := sampleEvent(t, env, "x402-gateway-challenge.json")
	payload, _ := json.Marshal(ev)
	res, err := env.Pools[fn].Invoke(context.Background(), payload)
	if err != nil {
		t.Fatal(err)
	}
	if res.Err == nil || res.Err.Phase != "init" || res.Err.Type != "Runtime.ConfigError" || !strings.Contains(res.Err.Message, "X402_GATEWAY_ROUTES") {
		t.Fatalf("result %+v, want an init Runtime.ConfigError naming X402_GATEWAY_ROUTES", res.Err)
	}
}
