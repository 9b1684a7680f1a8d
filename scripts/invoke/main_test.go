package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/insforge/edge-functions-go/scripts/internal/samtemplate"
	"github.com/insforge/edge-functions-go/scripts/runner"
	"github.com/insforge/edge-functions-go/scripts/runner/apigateway"
	"github.com/insforge/edge-functions-go/shared/httpapi/openapitest"
	"github.com/insforge/edge-functions-go/shared/insforge/insforgetest"
	"github.com/insforge/edge-functions-go/shared/x402/payer"
)

// checkingTransport validates every response that passes through it.
type checkingTransport struct {
	t     *testing.T
	inner http.RoundTripper
	n     int
}

func (c *checkingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	res, err := c.inner.RoundTrip(r)
	if err != nil {
		return nil, err
	}
	body, _ := io.ReadAll(res.Body)
	res.Body = io.NopCloser(bytes.NewReader(body))
	openapitest.Check(c.t, r, res.StatusCode, res.Header, body)
	c.n++
	return res, nil
}

// Every sample event in events/, invoked like `make invoke` (real binaries through
// the Runtime API, the dev profile filling credentials and payments), gets a
// response that docs/openapi.yaml describes — the paid event's 402 challenge and
// its paid 200 included.
func TestEverySampleEventsResponseMatchesTheOpenAPIDescription(t *testing.T) {
	files, err := filepath.Glob("../../events/*.json")
	if err != nil || len(files) == 0 {
		t.Fatalf("no sample events: %v", err)
	}
	env, err := runner.Start(context.Background(), runner.Options{
		Template: "../../template.yaml", Dev: true, IssuerAddr: "127.0.0.1:0", MaxProcs: 1,
		Logs: io.Discard, Log: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(env.Close)
	routes := map[string]string{} // route key → logical id
	for _, f := range env.Functions {
		for _, r := range f.Routes {
			routes[r.Method+" "+r.Path] = f.LogicalID
		}
	}
	needsLedger := map[string]bool{}
	for _, f := range env.Functions {
		needsLedger[f.LogicalID] = runner.NeedsInsforge(f)
	}
	checked, skipped := 0, 0
	for _, file := range files {
		raw, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		var probe struct {
			RouteKey string `json:"routeKey"`
		}
		_ = json.Unmarshal(raw, &probe)
		if probe.RouteKey == "" {
			continue // scheduled events have no HTTP response
		}
		fn, ok := routes[probe.RouteKey]
		if !ok {
			t.Errorf("%s: route %q is not in template.yaml", file, probe.RouteKey)
			continue
		}
		if _, ok := env.Pools[fn]; !ok {
			t.Fatalf("the runner has no %s", fn)
		}
		t.Run(filepath.Base(file), func(t *testing.T) {
			defer func() {
				if t.Skipped() {
					skipped++
				}
			}()
			if needsLedger[fn] {
				insforgetest.RequireStarted(t, env.Insforge, env.InsforgeErr)
			}
			if bytes.Contains(raw, []byte(runner.X402Placeholder)) {
				checked += payThroughChecks(t, env, fn, raw)
				return
			}
			payload, err := runner.Fill(raw, env.Issuer)
			if err != nil {
				t.Fatal(err)
			}
			var ev events.APIGatewayV2HTTPRequest
			if err := json.Unmarshal(payload, &ev); err != nil {
				t.Fatal(err)
			}
			res, err := env.Pools[fn].Invoke(context.Background(), payload)
			if err != nil || res.Err != nil {
				t.Fatalf("invoke: %v %v", err, res.Err)
			}
			var out events.APIGatewayV2HTTPResponse
			if err := json.Unmarshal(res.Payload, &out); err != nil || out.StatusCode == 0 {
				t.Fatalf("not an HTTP API response: %v %s", err, res.Payload)
			}
			h := http.Header{}
			for k, v := range out.Headers {
				h.Set(k, v)
			}
			for k, vs := range out.MultiValueHeaders {
				h[http.CanonicalHeaderKey(k)] = vs
			}
			body := []byte(out.Body)
			if out.IsBase64Encoded {
				if body, err = base64.StdEncoding.DecodeString(out.Body); err != nil {
					t.Fatal(err)
				}
			}
			openapitest.Check(t, requestOf(t, ev), out.StatusCode, h, body)
			checked++
		})
	}
	t.Logf("%d responses from %d sample events validated against docs/openapi.yaml", checked, len(files))
	if checked+skipped < len(files)-1 {
		t.Fatalf("only %d responses checked for %d events", checked, len(files))
	}
}

// payThroughChecks runs the paid-retry event as `make invoke` does, validating the
// 402 challenge and the paid response.
func payThroughChecks(t *testing.T, env *runner.Runner, fn string, raw []byte) int {
	filled, err := runner.Fill(bytes.ReplaceAll(raw, []byte(runner.X402Placeholder), []byte("__X402__")), env.Issuer)
	if err != nil {
		t.Fatal(err)
	}
	var ev events.APIGatewayV2HTTPRequest
	if err := json.Unmarshal(filled, &ev); err != nil {
		t.Fatal(err)
	}
	extra := http.Header{}
	for k, v := range ev.Headers {
		if v != "__X402__" {
			extra.Set(k, v)
		}
	}
	key, _, err := payer.LoadKey("")
	if err != nil {
		t.Fatal(err)
	}
	ct := &checkingTransport{t: t, inner: &runner.LambdaTransport{Pool: env.Pools[fn], RouteKey: ev.RouteKey, Extra: extra}}
	c := &payer.Client{Key: key, MaxAmount: big.NewInt(1_000_000), HTTP: &http.Client{Transport: ct}}
	res, err := c.Pay(context.Background(), ev.RequestContext.HTTP.Method, "http://localhost:3000"+ev.RawPath, []byte(ev.Body))
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != http.StatusOK || !res.Paid || ct.n != 2 {
		t.Fatalf("paid flow: status %d paid %v, %d responses", res.Status, res.Paid, ct.n)
	}
	return ct.n
}

// requestOf is the HTTP request an API Gateway event stands for.
func requestOf(t *testing.T, ev events.APIGatewayV2HTTPRequest) *http.Request {
	t.Helper()
	body := []byte(ev.Body)
	if ev.IsBase64Encoded {
		b, err := base64.StdEncoding.DecodeString(ev.Body)
		if err != nil {
			t.Fatal(err)
		}
		body = b
	}
	p := ev.RawPath
	// A greedy route (/pay/{proxy+}) is /pay/{proxy} in OpenAPI, whose parameters
	// match one segment: the remainder is folded into one so the route is found.
	if route := strings.TrimPrefix(ev.RouteKey, ev.RouteKey[:strings.Index(ev.RouteKey, " ")+1]); strings.Contains(route, "+}") {
		prefix := route[:strings.Index(route, "{")]
		if rest, ok := strings.CutPrefix(p, prefix); ok {
			p = prefix + strings.ReplaceAll(rest, "/", "_")
		}
	}
	r := httptest.NewRequest(ev.RequestContext.HTTP.Method, "http://localhost:3000"+p, bytes.NewReader(body))
	for k, v := range ev.Headers {
		r.Header.Set(k, v)
	}
	if len(ev.Cookies) > 0 {
		r.Header.Set("Cookie", strings.Join(ev.Cookies, "; "))
	}
	return r
}

// A request on a greedy route keeps its route when checked against the spec.
func TestRequestOfFoldsAGreedyRouteIntoOneSegment(t *testing.T) {
	for _, c := range []struct{ key, raw, want string }{
		{"ANY /pay/{proxy+}", "/pay/v1/quotes/btc", "/pay/v1_quotes_btc"},
		{"ANY /token/clerk", "/token/clerk", "/token/clerk"},
	} {
		ev := events.APIGatewayV2HTTPRequest{RouteKey: c.key, RawPath: c.raw}
		ev.RequestContext.HTTP.Method = http.MethodGet
		if got := requestOf(t, ev).URL.Path; got != c.want {
			t.Errorf("%s %s → %s, want %s", c.key, c.raw, got, c.want)
		}
	}
}

// Every sample event is valid JSON in the shape its trigger produces, HTTP events
// name a route of template.yaml, and every function has sample events.
func TestSampleEventsMatchTheTemplate(t *testing.T) {
	_, fns, err := samtemplate.LoadFunctions("../../template.yaml")
	if err != nil {
		t.Fatal(err)
	}
	routes := map[string]string{} // path → function
	covered := map[string]int{}
	var all []apigateway.Route
	for _, f := range fns {
		for _, r := range f.Routes {
			routes[r.Path] = f.LogicalID
			all = append(all, apigateway.Route{Method: r.Method, Path: r.Path, Function: f.LogicalID})
		}
	}
	router := apigateway.NewRouter(all)
	files, _ := filepath.Glob("../../events/*.json")
	if len(files) == 0 {
		t.Fatal("no sample events")
	}
	for _, file := range files {
		raw, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		var probe map[string]any
		if err := json.Unmarshal(raw, &probe); err != nil {
			t.Errorf("%s: %v", file, err)
			continue
		}
		if probe["source"] == "aws.events" {
			if probe["detail-type"] != "Scheduled Event" {
				t.Errorf("%s: not a scheduled event", file)
			}
			for _, f := range fns {
				if len(f.Schedules) > 0 && strings.Contains(file, strings.TrimPrefix(f.Package, "./functions/")) {
					covered[f.LogicalID]++
				}
			}
			continue
		}
		var ev events.APIGatewayV2HTTPRequest
		if err := json.Unmarshal(raw, &ev); err != nil {
			t.Errorf("%s: %v", file, err)
			continue
		}
		fn, ok := routes[ev.RawPath]
		routeKey := "ANY " + ev.RawPath
		// A greedy route ({proxy+}) names its pattern in routeKey, as API Gateway does.
		if m, found := router.Find(ev.RequestContext.HTTP.Method, ev.RawPath); !ok && found && strings.Contains(m.Path, "{") {
			fn, ok, routeKey = m.Function, true, m.RouteKey
		}
		switch {
		case ev.Version != "2.0":
			t.Errorf("%s: version %q, want 2.0", file, ev.Version)
		case !ok:
			t.Errorf("%s: rawPath %q is not a route in template.yaml", file, ev.RawPath)
		case ev.RouteKey != routeKey || ev.RequestContext.RouteKey != routeKey || ev.RequestContext.HTTP.Path != ev.RawPath || ev.RequestContext.HTTP.Method == "":
			t.Errorf("%s: routeKey/requestContext inconsistent with rawPath", file)
		}
		for k := range ev.Headers {
			if k != strings.ToLower(k) {
				t.Errorf("%s: header %q is not lower-case", file, k)
			}
		}
		covered[fn]++
	}
	for _, f := range fns {
		if covered[f.LogicalID] == 0 {
			t.Errorf("%s has no sample event", f.LogicalID)
		}
	}
}
