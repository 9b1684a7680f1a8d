package openapitest

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestSpecIsAValidOpenAPI31Document(t *testing.T) {
	if _, err := Load(SpecPath()); err != nil {
		t.Fatal(err)
	}
}

// The validator is only worth something if it refuses what the spec forbids.
func TestValidatorRefusesResponsesTheSpecForbids(t *testing.T) {
	json := http.Header{"Content-Type": {"application/json"}, "Cache-Control": {"no-store"}}
	cacheable := http.Header{"Content-Type": {"application/json"}, "Cache-Control": {"max-age=60"}}
	pending := json.Clone()
	pending.Set("Retry-After", "5")
	tok := `"token":"a.b.c","token_type":"Bearer","expires_in":60,"expires_at":1800000000`
	cases := []struct {
		name   string
		method string
		path   string
		status int
		header http.Header
		body   string
		ok     bool
	}{
		{"a token", "POST", "/token/clerk", 200, json, `{` + tok + `}`, true},
		{"a cacheable token", "POST", "/token/clerk", 200, cacheable, `{` + tok + `}`, false},
		{"a token with an extra field", "POST", "/token/clerk", 200, json, `{` + tok + `,"role":"service_role"}`, false},
		{"a token of another type", "POST", "/token/clerk", 200, json, `{"token":"a.b.c","token_type":"Basic","expires_in":60,"expires_at":1}`, false},
		{"a known 401 code", "POST", "/token/kinde", 401, json, `{"error":"token_expired","message":"m"}`, true},
		{"a 401 with a 503 code", "POST", "/token/kinde", 401, json, `{"error":"provider_unavailable","message":"m"}`, false},
		{"an unknown code", "POST", "/token/kinde", 503, pending, `{"error":"teapot","message":"m"}`, false},
		{"a provider 503 with Retry-After", "POST", "/token/kinde", 503, pending, `{"error":"provider_unavailable","message":"m"}`, true},
		{"a provider 503 without Retry-After", "POST", "/token/kinde", 503, json, `{"error":"provider_unavailable","message":"m"}`, false},
		{"a ledger code from a bridge", "POST", "/token/kinde", 503, pending, `{"error":"ledger_unavailable","message":"m"}`, false},
		{"a payment code from a bridge", "POST", "/token/kinde", 400, json, `{"error":"invalid_payment_header","message":"m"}`, false},
		{"a payment code from the paywall", "POST", "/x402/report", 400, json, `{"error":"invalid_payment_header","message":"m"}`, true},
		{"an error without message", "POST", "/token/kinde", 401, json, `{"error":"invalid_token"}`, false},
		{"an undocumented status", "POST", "/token/kinde", 418, json, `{"error":"invalid_token","message":"m"}`, false},
		{"202 with Retry-After", "POST", "/x402/report", 202, pending, `{"status":"pending","message":"m"}`, true},
		{"202 without Retry-After", "POST", "/x402/report", 202, json, `{"status":"pending","message":"m"}`, false},
		{"402 without PAYMENT-REQUIRED", "POST", "/x402/report", 402, json,
			`{"x402Version":1,"error":"payment_required","accepts":[{"scheme":"exact","network":"eip155:196","maxAmountRequired":"1","resource":"http://x/x402/report","payTo":"0x0000000000000000000000000000000000000001","maxTimeoutSeconds":60,"asset":"0x0000000000000000000000000000000000000002"}]}`, false},
		{"an unknown route", "POST", "/tokens/kinde", 200, json, `{` + tok + `}`, false},
		{"a route one segment too deep", "POST", "/token/kinde/extra", 200, json, `{` + tok + `}`, false},
		{"a plain JWT provider on the templated path", "POST", "/token/acme", 500, json, `{"error":"bridge_misconfigured","message":"m"}`, true},
		{"a concrete path wins over the templated one", "POST", "/token/clerk", 500, json, `{"error":"bridge_misconfigured","message":"m"}`, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := httptest.NewRequest(c.method, "http://127.0.0.1:3000"+c.path, nil)
			err := Validate(t, r, c.status, c.header, []byte(c.body))
			if (err == nil) != c.ok {
				t.Fatalf("valid = %v, want %v (%v)", err == nil, c.ok, err)
			}
		})
	}
}

// A concrete path is served by the path of the spec that OpenAPI picks: itself
// when listed, else the template with a literal segment earliest.
func TestMatchPrefersConcretePathsOverTemplates(t *testing.T) {
	paths := []string{"/token/{provider}", "/token/clerk", "/token/wallet/nonce", "/x402/{a}/b", "/x402/pass/{product}", "/pay/{proxy}"}
	for _, c := range []struct{ in, want string }{
		{"/token/clerk", "/token/clerk"},
		{"/token/kinde", "/token/{provider}"},
		{"/token/{provider}", "/token/{provider}"},
		{"/token/wallet/nonce", "/token/wallet/nonce"},
		{"/x402/pass/b", "/x402/pass/{product}"},
		{"/x402/other/b", "/x402/{a}/b"},
		{"/pay/quotes", "/pay/{proxy}"},
		{"/token/", ""},
		{"/token/kinde/extra", ""},
		{"/tokens/kinde", ""},
		{"/pay/v1/quotes", ""},
	} {
		got, ok := Match(paths, c.in)
		if got != c.want || ok != (c.want != "") {
			t.Errorf("Match(%s) = %q, %v; want %q", c.in, got, ok, c.want)
		}
	}
}
