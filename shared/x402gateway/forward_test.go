package x402gateway_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"path"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"
	"golang.org/x/text/unicode/norm"

	"github.com/insforge/edge-functions-go/shared/httpapi"
	"github.com/insforge/edge-functions-go/shared/ledger"
	"github.com/insforge/edge-functions-go/shared/x402"
	"github.com/insforge/edge-functions-go/shared/x402gateway"
)

// frameworkPath is how a lenient upstream framework reads a request path,
// every normalisation at once: Tomcat/Spring drop ";" path parameters from
// each segment (before and after decoding), some servers decode twice and take
// "\" for "/", and some fold Unicode compatibility forms (NFKC) or trim
// trailing dots and spaces (Windows); then dot segments are resolved.
// https://tomcat.apache.org/tomcat-10.1-doc/config/http.html (allowBackslash,
// encodedSolidusHandling), https://unicode.org/reports/tr15/
func frameworkPath(requestURI string) string {
	p, _, _ := strings.Cut(requestURI, "?")
	p = stripParams(p)
	for range 2 {
		if d, err := url.PathUnescape(p); err == nil {
			p = d
		}
	}
	p = norm.NFKC.String(strings.ReplaceAll(stripParams(p), `\`, "/"))
	segs := strings.Split(p, "/")
	for i, s := range segs {
		if t := strings.TrimRight(s, ". "); t == "" && s != "" {
			segs[i] = strings.Repeat(".", min(len(s), 2)) // "..." and ".. " end up as ".."
		}
	}
	return path.Clean(strings.Join(segs, "/"))
}

func stripParams(p string) string {
	segs := strings.Split(p, "/")
	for i, s := range segs {
		segs[i], _, _ = strings.Cut(s, ";")
	}
	return strings.Join(segs, "/")
}

// The gateway's route match and a normalising upstream agree on every path the
// gateway forwards: the path the upstream framework routes is the path the
// receipt names, which is the one that was priced. The attacks that reached an
// unpriced admin path with the gateway's credential, or bought a 5000 route at
// another route's price, are refused before any payment processing.
func TestNormalisingUpstreamsSeeOnlyThePricedPath(t *testing.T) {
	hs := newHarness(t)
	var mu sync.Mutex
	routed := map[string]string{} // receipt path → the path the framework routed
	hs.up.Respond(func(w http.ResponseWriter, r *http.Request) {
		fp := frameworkPath(r.RequestURI)
		rc, err := x402gateway.VerifyReceipt([]byte(receiptKey), r.Header.Get(x402gateway.HeaderReceipt), hs.up.URL+"/base", time.Now())
		if err != nil {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		mu.Lock()
		routed[rc.Path] = fp
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"routed":"` + fp + `"}`))
	})
	files := hs.offer("7", "A file", "text/plain")
	items := hs.offer("2", "Read an item", "application/json")

	refused := []string{
		"/pay/files/..;/..;/admin/users",
		"/pay/files/..;/..;/..;/admin/users",
		"/pay/items/featured;x=1",
		"/pay/items/featured;",
		"/pay/items/featured%3Bx=1",
		"/pay/items/%66eatured",
		"/pay/files/%2e%2e/%2e%2e/admin/users",
		"/pay/files/%252e%252e/%252e%252e/admin/users",
		"/pay/files/..%5C..%5Cadmin%5Cusers",
		"/pay/files/..%255C..%255Cadmin",
		"/pay/files/%c0%ae%c0%ae/%c0%ae%c0%ae/admin/users",
		"/pay/files/%EF%BC%8E%EF%BC%8E/%EF%BC%8E%EF%BC%8E/admin/users",
		"/pay/files/...%20/...%20/admin/users",
		"/pay/files/a%00/admin",
		"/pay/files/a%2F..%2F..%2Fadmin",
	}
	for _, target := range refused {
		o := files
		if strings.HasPrefix(target, "/pay/items/") {
			o = items
		}
		w, _ := hs.paid(req{method: http.MethodGet, target: target}, o, x402.StyleV2)
		if w.Code != http.StatusBadRequest || errorCode(t, w) != "invalid_path" {
			t.Errorf("%s: status %d body %s", target, w.Code, w.Body)
		}
	}
	if n := len(hs.up.Calls()); n != 0 || len(hs.okx.Calls("")) != 0 || len(hs.rows()) != 0 {
		t.Fatalf("refused paths reached: upstream %d okx %d rows %d", n, len(hs.okx.Calls("")), len(hs.rows()))
	}

	// Paths that are safe to forward reach the upstream in one spelling the
	// framework reads as exactly the priced path.
	forwarded := []struct{ target, priced string }{
		{"/pay/items/a%20b", "/items/a b"},
		{"/pay/items/caf%c3%a9", "/items/café"},
		{"/pay/items/a%2Bb", "/items/a+b"},
		{"/pay/items/a:b@c", "/items/a:b@c"},
		{"/pay/items/a%3Fb%23c", "/items/a?b#c"},
		{"/pay/files/docs/v1.2/a..b.txt", "/files/docs/v1.2/a..b.txt"},
	}
	for _, tc := range forwarded {
		o := items
		if strings.HasPrefix(tc.target, "/pay/files/") {
			o = files
		}
		w, _ := hs.paid(req{method: http.MethodGet, target: tc.target}, o, x402.StyleV2)
		mu.Lock()
		fp, ok := routed[tc.priced]
		mu.Unlock()
		if w.Code != http.StatusOK || !ok || fp != "/base"+tc.priced {
			t.Errorf("%s: status %d, framework routed %q for receipt path %q (%v)", tc.target, w.Code, fp, tc.priced, ok)
		}
	}
	// One spelling: re-encoded from the decoded path, whatever the caller sent.
	spelt := map[string]bool{}
	for _, c := range hs.up.Calls() {
		spelt[c.RawPath] = true
	}
	for _, want := range []string{"/base/items/caf%C3%A9", "/base/items/a+b", "/base/items/a%3Fb%23c", "/base/items/a%20b"} {
		if !spelt[want] {
			t.Errorf("upstream never saw %s (saw %v)", want, spelt)
		}
	}
	for _, r := range hs.rows() {
		if r.Endpoint != "GET /pay/items/{id}" && r.Endpoint != "GET /pay/files/{rest...}" {
			t.Errorf("row for %s", r.Endpoint)
		}
	}
}

// X-HTTP-Method-Override and its kin never reach the upstream: a route paid as
// POST runs as POST on an upstream that honours them.
func TestMethodOverridesNeverReachTheUpstream(t *testing.T) {
	hs := newHarness(t)
	var mu sync.Mutex
	var ran []string
	hs.up.Respond(func(w http.ResponseWriter, r *http.Request) {
		m := r.Method
		for _, h := range []string{"X-Http-Method-Override", "X-Http-Method", "X-Method-Override"} {
			if v := r.Header.Get(h); v != "" {
				m = v // what method-override middleware does
			}
		}
		mu.Lock()
		ran = append(ran, m)
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{}`))
	})
	w, _ := hs.paid(req{method: http.MethodPost, target: "/pay/items/1", body: `{}`, header: http.Header{
		"X-Http-Method-Override": {"DELETE"}, "X-Http-Method": {"DELETE"}, "X-Method-Override": {"DELETE"}}},
		hs.offer("3", "Update an item", "application/json"), x402.StyleV2)
	if w.Code != http.StatusOK || len(ran) != 1 || ran[0] != http.MethodPost {
		t.Fatalf("status %d, upstream ran %q", w.Code, ran)
	}
}

// 201 and 206 answers are paid deliveries with their Location and
// Content-Range; Range and If-Range reach the upstream.
func TestCreatedAndPartialAnswersKeepLocationAndContentRange(t *testing.T) {
	hs := newHarness(t)
	hs.up.Respond(func(w http.ResponseWriter, r *http.Request) {
		switch r.Method {
		case http.MethodPost:
			w.Header().Set("Location", "/items/7")
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusCreated)
			_, _ = w.Write([]byte(`{"id":7}`))
		default:
			if r.Header.Get("Range") != "bytes=0-3" || r.Header.Get("If-Range") != `"v1"` {
				w.WriteHeader(http.StatusBadRequest)
				return
			}
			w.Header().Set("Content-Range", "bytes 0-3/10")
			w.Header().Set("Accept-Ranges", "bytes")
			w.Header().Set("Content-Type", "text/plain")
			w.WriteHeader(http.StatusPartialContent)
			_, _ = w.Write([]byte("0123"))
		}
	})
	w, _ := hs.paid(req{method: http.MethodPost, target: "/pay/items/new", body: `{"a":1}`},
		hs.offer("3", "Update an item", "application/json"), x402.StyleV2)
	if w.Code != http.StatusCreated || w.Header().Get("Location") != "/items/7" || !settlementOf(t, w).Success {
		t.Fatalf("201: %d %v", w.Code, w.Header())
	}
	w, _ = hs.paid(req{method: http.MethodGet, target: "/pay/files/a.txt", header: http.Header{"Range": {"bytes=0-3"}, "If-Range": {`"v1"`}}},
		hs.offer("7", "A file", "text/plain"), x402.StyleV2)
	if w.Code != http.StatusPartialContent || w.Header().Get("Content-Range") != "bytes 0-3/10" || w.Header().Get("Accept-Ranges") != "bytes" ||
		w.Body.String() != "0123" || !settlementOf(t, w).Success {
		t.Fatalf("206: %d %v %s", w.Code, w.Header(), w.Body)
	}
	if hs.okx.Accepted("settle") != 2 {
		t.Fatalf("settles %d", hs.okx.Accepted("settle"))
	}
}

// invokeLambda runs one request through the gateway as Lambda does: an API
// Gateway event through httpapi.LambdaHandler and aws-lambda-go's handler,
// returning the payload Lambda receives.
func invokeLambda(t *testing.T, h http.Handler, method, target string, header http.Header) ([]byte, events.APIGatewayV2HTTPResponse) {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	ev := events.APIGatewayV2HTTPRequest{RawPath: u.EscapedPath(), RawQueryString: u.RawQuery, Headers: map[string]string{"host": "localhost"},
		RequestContext: events.APIGatewayV2HTTPRequestContext{DomainName: "localhost",
			HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{Method: method, Path: u.Path, SourceIP: "203.0.113.7"}}}
	for k, vs := range header {
		ev.Headers[strings.ToLower(k)] = strings.Join(vs, ", ")
	}
	raw, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	payload, err := lambda.NewHandler(httpapi.LambdaHandler(h)).Invoke(context.Background(), raw)
	if err != nil {
		t.Fatal(err)
	}
	var res events.APIGatewayV2HTTPResponse
	if err := json.Unmarshal(payload, &res); err != nil {
		t.Fatal(err)
	}
	return payload, res
}

// header reads a response header whatever its spelling.
func header(res events.APIGatewayV2HTTPResponse, name string) string {
	for k, v := range res.Headers {
		if strings.EqualFold(k, name) {
			return v
		}
	}
	return ""
}

// An upstream answer under X402_GATEWAY_MAX_RESPONSE_BYTES that Lambda could
// not return once encoded (a text body's JSON escapes) is found out before the
// payment settles: 502, nothing charged, the authorization usable again. The
// largest binary answer the configuration allows (4 MiB, base64-encoded) fits.
func TestAnswersTooLargeForLambdaAreRefusedBeforeSettling(t *testing.T) {
	hs := newHarness(t, func(c *x402gateway.Config) { c.MaxResponseBytes = x402gateway.MaxResponseBytesLimit })
	escaped := bytes.Repeat([]byte{0x01}, 1<<20+128<<10) // 1.125 MiB of text, 6.75 MB once JSON-escaped
	binary := bytes.Repeat([]byte{0xfe}, x402gateway.MaxResponseBytesLimit)
	var mu sync.Mutex
	body, ctype := escaped, "text/plain; charset=utf-8"
	hs.up.Respond(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		b, ct := body, ctype
		mu.Unlock()
		w.Header().Set("Content-Type", ct)
		_, _ = w.Write(b)
	})
	o := hs.offer("7", "A file", "text/plain")
	p := hs.payer.Pay(t, o, x402.StyleV2, time.Now())
	h := http.Header{p.Header(): {p.Encode(t)}}

	payload, res := invokeLambda(t, hs.h, http.MethodGet, "/pay/files/big.txt", h)
	if res.StatusCode != http.StatusBadGateway || !strings.Contains(res.Body, `"upstream_response_too_large"`) ||
		header(res, x402.HeaderPaymentResponse) != "" || len(payload) > httpapi.MaxResponsePayloadBytes {
		t.Fatalf("status %d (%d bytes) body %.300s", res.StatusCode, len(payload), res.Body)
	}
	if hs.okx.Accepted("settle") != 0 || len(hs.up.Calls()) != 1 {
		t.Fatalf("settles %d upstream calls %d", hs.okx.Accepted("settle"), len(hs.up.Calls()))
	}
	rows := hs.rows()
	if len(rows) != 1 || rows[0].Status != ledger.StatusReleased {
		t.Fatalf("rows %+v", rows)
	}

	// The same authorization buys the largest binary answer, which fits.
	mu.Lock()
	body, ctype = binary, "application/octet-stream"
	mu.Unlock()
	payload, res = invokeLambda(t, hs.h, http.MethodGet, "/pay/files/big.bin", h)
	if res.StatusCode != http.StatusOK || !res.IsBase64Encoded || len(payload) > httpapi.MaxResponsePayloadBytes ||
		header(res, x402.HeaderPaymentResponse) == "" {
		t.Fatalf("status %d (%d bytes) headers %v", res.StatusCode, len(payload), res.Headers)
	}
	if rows := hs.rows(); hs.okx.Accepted("settle") != 1 || len(rows) != 1 || rows[0].Status != ledger.StatusSettled {
		t.Fatalf("settles %d rows %+v", hs.okx.Accepted("settle"), rows)
	}
}
