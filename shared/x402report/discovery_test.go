package x402report_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/pb33f/jsonschema/v6"

	"github.com/insforge/edge-functions-go/shared/httpapi/openapitest"
	"github.com/insforge/edge-functions-go/shared/insforge/insforgetest"
	"github.com/insforge/edge-functions-go/shared/launch"
	"github.com/insforge/edge-functions-go/shared/x402"
	"github.com/insforge/edge-functions-go/shared/x402pass"
	"github.com/insforge/edge-functions-go/shared/x402report"
)

const gatewayRoutes = `[
 {"method":"GET","path":"/v1/quote/{symbol}","price":"2500","description":"A quote",
  "outputSchema":{"type":"object","properties":{"price":{"type":"number"}}}},
 {"method":"POST","path":"/v1/search","price":"1000","description":"Search",
  "inputSchema":{"type":"object","required":["q"]}}
]`

func discoveryHandler(t *testing.T, kv map[string]string) http.Handler {
	s := insforgetest.New(t)
	base := map[string]string{"MOCK_OKX_FACILITATOR": "true", "X402_EXTRA_ASSETS": "USDT0", "X402_GATEWAY_ROUTES": gatewayRoutes,
		"OKX_API_KEY": "okx-key-never-listed"}
	for k, v := range kv {
		base[k] = v
	}
	return built(t, s, base)
}

func get(h http.Handler, header http.Header) (*http.Request, *httptest.ResponseRecorder) {
	r := httptest.NewRequest(http.MethodGet, "https://api.example.com"+x402.DiscoveryPath, nil)
	for k, v := range header {
		r.Header[k] = v
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return r, w
}

// The document lists the report and every gateway route with all accepted
// assets and the route schemas, validates against its JSON Schema and
// docs/openapi.yaml, and holds no secret.
func TestDiscoveryListsEveryPricedResourceInTheDocumentedShape(t *testing.T) {
	h := discoveryHandler(t, nil)
	r, w := get(h, nil)
	if w.Code != http.StatusOK || w.Header().Get("Content-Type") != "application/json" {
		t.Fatalf("status %d %s", w.Code, w.Body)
	}
	openapitest.CheckRecorder(t, r, w)
	validateSchema(t, w.Body.Bytes())
	if strings.Contains(w.Body.String(), "okx-key-never-listed") {
		t.Fatal("the document leaks configuration secrets")
	}
	var doc x402.Discovery
	if err := json.Unmarshal(w.Body.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	want := []struct{ method, url, amount string }{
		{"POST", "https://api.example.com/x402/report", "1"},
		{"GET", "https://api.example.com/pay/v1/quote/{symbol}", "2500"},
		{"POST", "https://api.example.com/pay/v1/search", "1000"},
	}
	if len(doc.Items) != len(want) || doc.Pagination.Total != len(want) {
		t.Fatalf("items %+v", doc.Items)
	}
	for i, w := range want {
		it := doc.Items[i]
		if it.Resource != w.url || it.Metadata.Input.Method != w.method || len(it.Accepts) != 2 ||
			it.Accepts[0].Amount != w.amount || it.Accepts[1].Amount != w.amount ||
			it.Accepts[1].Asset != "0x779Ded0c9e1022225f8E0630b35a9b54bE713736" {
			t.Errorf("item %d: %+v", i, it)
		}
	}
	if doc.Items[1].Metadata.Output == nil || doc.Items[2].Metadata.Input.Schema == nil || doc.Items[0].Metadata.Output == nil {
		t.Fatalf("schemas missing: %s", w.Body)
	}
}

// Cacheable: Cache-Control and a strong ETag; a matching If-None-Match is 304
// with no body; the same bytes are served every time.
func TestDiscoveryIsCacheableWithAnETag(t *testing.T) {
	h := discoveryHandler(t, nil)
	_, first := get(h, nil)
	etag := first.Header().Get("ETag")
	if !strings.HasPrefix(etag, `"`) || !strings.Contains(first.Header().Get("Cache-Control"), "max-age=") {
		t.Fatalf("headers %v", first.Header())
	}
	_, again := get(h, nil)
	if !bytes.Equal(first.Body.Bytes(), again.Body.Bytes()) || again.Header().Get("ETag") != etag {
		t.Fatal("the document changed between requests")
	}
	for _, inm := range []string{etag, "W/" + etag, `"other", ` + etag, "*"} {
		_, w := get(h, http.Header{"If-None-Match": {inm}})
		if w.Code != http.StatusNotModified || w.Body.Len() != 0 || w.Header().Get("ETag") != etag {
			t.Fatalf("If-None-Match %s: %d", inm, w.Code)
		}
	}
	if _, w := get(h, http.Header{"If-None-Match": {`"stale"`}}); w.Code != http.StatusOK {
		t.Fatalf("stale ETag: %d", w.Code)
	}
}

func TestDiscoveryWithoutAGatewayListsTheReportAlone(t *testing.T) {
	h := discoveryHandler(t, map[string]string{"X402_GATEWAY_ROUTES": "", "X402_EXTRA_ASSETS": ""})
	_, w := get(h, nil)
	var doc x402.Discovery
	if err := json.Unmarshal(w.Body.Bytes(), &doc); err != nil || len(doc.Items) != 1 || len(doc.Items[0].Accepts) != 1 {
		t.Fatalf("doc %s (%v)", w.Body, err)
	}
	validateSchema(t, w.Body.Bytes())
}

func TestDiscoveryRefusesOtherMethodsAndBadRoutesFailTheColdStart(t *testing.T) {
	h := discoveryHandler(t, nil)
	r := httptest.NewRequest(http.MethodPost, "https://api.example.com"+x402.DiscoveryPath, nil)
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	if w.Code != http.StatusMethodNotAllowed {
		t.Fatalf("POST: %d", w.Code)
	}
	s := insforgetest.New(t)
	env(t, s, map[string]string{"MOCK_OKX_FACILITATOR": "true", "X402_GATEWAY_ROUTES": `[{"method":"GET","path":"/x","price":"1","description":"d","outputSchema":[1]}]`})
	if _, err := x402report.Build(launch.Runtime{Logger: quiet}); err == nil || !strings.Contains(err.Error(), "X402_GATEWAY_ROUTES") {
		t.Fatalf("bad routes: %v", err)
	}
}

const passProducts = `[{"id":"pro","price":"10000","duration":"720h","description":"Premium reports for 30 days"},
 {"id":"day","price":"700","duration":"24h","description":"Premium reports for a day"}]`

// With X402_PASS_PRODUCTS the document lists every pass after the report and
// the gateway's routes, and each pass's accepts (extra assets included) are
// exactly those of the 402 the pass function answers from the same
// environment; the document still matches its JSON Schema and docs/openapi.yaml.
func TestDiscoveryListsThePassesWithTheAcceptsOfTheirChallenge(t *testing.T) {
	h := discoveryHandler(t, map[string]string{"X402_PASS_PRODUCTS": passProducts,
		"INSFORGE_JWT_SECRET": strings.Repeat("s", 32)})
	pass, err := x402pass.Build(launch.Runtime{Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	r, w := get(h, nil)
	if w.Code != http.StatusOK {
		t.Fatalf("status %d %s", w.Code, w.Body)
	}
	openapitest.CheckRecorder(t, r, w)
	validateSchema(t, w.Body.Bytes())
	var doc x402.Discovery
	if err := json.Unmarshal(w.Body.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	if len(doc.Items) != 5 || doc.Pagination.Total != 5 {
		t.Fatalf("want the report, 2 routes and 2 passes: %s", w.Body)
	}
	for i, id := range []string{"pro", "day"} {
		it := doc.Items[3+i]
		url := "https://api.example.com" + x402pass.Prefix + id
		pr := httptest.NewRecorder()
		pass.ServeHTTP(pr, httptest.NewRequest(http.MethodPost, url, nil))
		if pr.Code != http.StatusPaymentRequired {
			t.Fatalf("pass %s: status %d %s", id, pr.Code, pr.Body)
		}
		challenge, err := x402.DecodePaymentRequired(pr.Header().Get(x402.HeaderPaymentRequired))
		if err != nil {
			t.Fatal(err)
		}
		// The challenge's entries are the v2 requirements plus maxAmountRequired,
		// the v1 name of the same amount (x402.ChallengeRequirement).
		offeredReqs := make([]x402.Requirements, len(challenge.Accepts))
		for j, a := range challenge.Accepts {
			if a.MaxAmountRequired != a.Amount {
				t.Errorf("pass %s: maxAmountRequired %q, amount %q", id, a.MaxAmountRequired, a.Amount)
			}
			offeredReqs[j] = a.Requirements
		}
		listed, _ := json.Marshal(it.Accepts)
		offered, _ := json.Marshal(offeredReqs)
		if string(listed) != string(offered) || len(challenge.Accepts) != 2 {
			t.Errorf("pass %s: listed accepts %s, the 402 offers %s", id, listed, offered)
		}
		if it.Resource != url || challenge.Resource == nil || challenge.Resource.URL != url ||
			it.Metadata.Input.Method != http.MethodPost || it.Metadata.MimeType != "application/json" ||
			it.Metadata.Description != challenge.Resource.Description || it.Metadata.Output == nil {
			t.Errorf("pass %s: listed %+v, the 402 names %+v", id, it, challenge.Resource)
		}
	}
	if d := doc.Items[4].Metadata.Description; d != "Premium reports for a day" {
		t.Errorf("description %q", d)
	}
}

func TestDiscoveryBadPassProductsFailTheColdStartNamingTheVariable(t *testing.T) {
	for name, products := range map[string]string{
		"not JSON":      `{"id":"pro"}`,
		"zero price":    `[{"id":"pro","price":"0","duration":"1h","description":"d"}]`,
		"unknown field": `[{"id":"pro","price":"1","duration":"1h","description":"d","tier":"gold"}]`,
	} {
		t.Run(name, func(t *testing.T) {
			s := insforgetest.New(t)
			env(t, s, map[string]string{"MOCK_OKX_FACILITATOR": "true", "X402_PASS_PRODUCTS": products})
			_, err := x402report.Build(launch.Runtime{Logger: quiet})
			if err == nil || !strings.Contains(err.Error(), "X402_PASS_PRODUCTS") {
				t.Fatalf("bad products: %v", err)
			}
			if strings.Contains(err.Error(), products) {
				t.Fatalf("the error repeats the value: %v", err)
			}
		})
	}
}

func validateSchema(t *testing.T, body []byte) {
	t.Helper()
	// The compiler loads the file itself (its default loader reads local paths).
	sch, err := jsonschema.NewCompiler().Compile("../../docs/x402-discovery.schema.json")
	if err != nil {
		t.Fatal(err)
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if err := sch.Validate(inst); err != nil {
		t.Fatalf("the document does not match docs/x402-discovery.schema.json: %v", err)
	}
}
