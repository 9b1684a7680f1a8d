package runner

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/insforge/edge-functions-go/shared/insforge/insforgetest"
	"github.com/insforge/edge-functions-go/shared/x402"
)

// The dev profile gives the report the passes it gives the pass function, so
// the real x402-report binary lists them in GET /.well-known/x402.
func TestDevReportListsThePassesOnSale(t *testing.T) {
	const report, pass = "X402ReportFunction", "X402PassFunction"
	o := Options{Template: repoTemplate, Dev: true, IssuerAddr: "127.0.0.1:0", Only: []string{report, pass}, MaxProcs: 1,
		Logs: io.Discard, Log: slog.New(slog.DiscardHandler), CacheDir: t.TempDir()}
	env, err := Start(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(env.Close)
	insforgetest.RequireStarted(t, env.Insforge, env.InsforgeErr)
	if got, want := env.Vars[report]["X402_PASS_PRODUCTS"], env.Vars[pass]["X402_PASS_PRODUCTS"]; got != DevPassProducts || want != DevPassProducts {
		t.Fatalf("report %q, pass %q, want both %q", got, want, DevPassProducts)
	}

	ev := sampleEvent(t, env, "x402-report-discovery.json")
	payload, _ := json.Marshal(ev)
	res, err := env.Pools[report].Invoke(context.Background(), payload)
	if err != nil || res.Err != nil {
		t.Fatalf("invoke: %v %+v", err, res.Err)
	}
	var resp events.APIGatewayV2HTTPResponse
	var doc x402.Discovery
	if err := json.Unmarshal(res.Payload, &resp); err != nil || resp.StatusCode != 200 {
		t.Fatalf("response %s (%v)", res.Payload, err)
	}
	if err := json.Unmarshal([]byte(resp.Body), &doc); err != nil {
		t.Fatalf("body %s (%v)", resp.Body, err)
	}
	for _, it := range doc.Items {
		if strings.HasSuffix(it.Resource, "/x402/pass/pro") && it.Metadata.Input.Method == "POST" &&
			len(it.Accepts) > 0 && it.Accepts[0].Amount == "10000" {
			return
		}
	}
	t.Fatalf("no pass in the document: %s", resp.Body)
}
