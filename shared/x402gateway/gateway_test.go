package x402gateway_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/insforge/edge-functions-go/shared/facilitator"
	"github.com/insforge/edge-functions-go/shared/facilitator/okxtest"
	"github.com/insforge/edge-functions-go/shared/insforge/insforgetest"
	"github.com/insforge/edge-functions-go/shared/ledger"
	"github.com/insforge/edge-functions-go/shared/x402"
	"github.com/insforge/edge-functions-go/shared/x402/x402test"
	"github.com/insforge/edge-functions-go/shared/x402gateway"
)

func TestMain(m *testing.M) { insforgetest.Main(m) }

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

const (
	receiptKey   = "gateway-test-receipt-key-0123456789abcdef"
	upstreamKey  = "upstream-api-key-value"
	testMaxBytes = 2048
)

// testRoutes: a literal route, a parameterised one per method (the POST one
// with its own header lists), a literal beside a parameter at another price,
// a catch-all, and one that forwards the caller's Authorization.
const testRoutes = `[
 {"method":"GET","path":"/quote","price":"1000","description":"Quote","mimeType":"application/json"},
 {"method":"POST","path":"/items/{id}","price":"3","description":"Update an item","maxRequestBytes":256,
  "forwardHeaders":["X-Client-Trace","Idempotency-Key"],"responseHeaders":["X-Upstream-Version"]},
 {"method":"GET","path":"/items/{id}","price":"2","description":"Read an item"},
 {"method":"GET","path":"/items/featured","price":"5000","description":"Featured items"},
 {"method":"GET","path":"/files/{rest...}","price":"7","description":"A file","mimeType":"text/plain"},
 {"method":"GET","path":"/me","price":"5","description":"Caller profile","forwardAuthorization":true}
]`

// seen is one request the upstream received.
type seen struct {
	Method, Path, RawPath, Query string
	Header                       http.Header
	Body                         string
	Receipt                      *x402gateway.Receipt
	ReceiptErr                   error
}

// upstream is a real HTTP server standing for the API being sold; respond
// decides each answer (default: 200 JSON echoing the path).
type upstream struct {
	*httptest.Server
	mu      sync.Mutex
	calls   []seen
	respond func(w http.ResponseWriter, r *http.Request)
}

func newUpstream(t testing.TB) *upstream {
	u := &upstream{}
	u.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		s := seen{Method: r.Method, Path: r.URL.Path, RawPath: r.URL.EscapedPath(), Query: r.URL.RawQuery, Header: r.Header.Clone(), Body: string(b)}
		s.Receipt, s.ReceiptErr = x402gateway.VerifyReceipt([]byte(receiptKey), r.Header.Get(x402gateway.HeaderReceipt), u.URL+"/base", time.Now())
		u.mu.Lock()
		u.calls = append(u.calls, s)
		respond := u.respond
		u.mu.Unlock()
		if respond != nil {
			respond(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"upstream":"ok","path":"` + r.URL.Path + `"}`))
	}))
	t.Cleanup(u.Close)
	return u
}

func (u *upstream) Calls() []seen {
	u.mu.Lock()
	defer u.mu.Unlock()
	return append([]seen(nil), u.calls...)
}

func (u *upstream) Respond(f func(w http.ResponseWriter, r *http.Request)) {
	u.mu.Lock()
	u.respond = f
	u.mu.Unlock()
}

type harness struct {
	t      testing.TB
	okx    *okxtest.Server
	up     *upstream
	ledger *ledger.Ledger
	cfg    x402gateway.Config
	payer  *x402test.Payer
	h      http.Handler
	logs   *syncBuffer
}

// syncBuffer collects log lines from concurrent requests.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func newHarness(t testing.TB, mutate ...func(*x402gateway.Config)) *harness {
	hs := &harness{t: t, okx: okxtest.New(t, facilitator.APIV2), up: newUpstream(t), payer: x402test.NewPayer(t), logs: &syncBuffer{}}
	hs.ledger = ledger.New(insforgetest.New(t).ServiceClient())
	hs.cfg = x402gateway.Config{
		UpstreamURL: hs.up.URL + "/base", Routes: testRoutes,
		UpstreamAuthHeader: "X-Api-Key", UpstreamAuth: upstreamKey, ReceiptKey: receiptKey,
		UpstreamTimeout: 2 * time.Second, SettleReserve: 5 * time.Second, MaxResponseBytes: testMaxBytes,
		AllowedOrigins: []string{"https://app.example.com"},
	}
	hs.cfg.Paywall.PaymentRecipient, hs.cfg.Paywall.Network, hs.cfg.Paywall.Asset = x402test.PayTo, x402test.Network, x402test.Asset
	hs.cfg.Paywall.AssetName, hs.cfg.Paywall.AssetVersion, hs.cfg.Paywall.MaxTimeoutSeconds = x402test.TokenName, x402test.TokenVer, 300
	hs.cfg.Paywall.Price, hs.cfg.Facilitator.OKXAPI = "1", facilitator.APIV2
	for _, m := range mutate {
		m(&hs.cfg)
	}
	fac, err := facilitator.NewOKX(facilitator.OKXOptions{
		BaseURL: hs.okx.URL, APIKey: okxtest.Key, SecretKey: okxtest.Secret, Passphrase: okxtest.Passphrase,
		API: facilitator.APIV2, VerifyTimeout: 2 * time.Second, SettleTimeout: 2 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	hs.h, err = x402gateway.New(hs.cfg, x402gateway.Deps{Facilitator: fac, Ledger: hs.ledger,
		Logger: slog.New(slog.NewJSONHandler(hs.logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	return hs
}

// offer is what the gateway offers for a route: the shared x402 settings with
// the route's price, description and MIME type.
func (hs *harness) offer(price, description, mime string) *x402.Offer {
	p := hs.cfg.Paywall.Params(description)
	p.Price, p.MimeType = price, mime
	o, err := x402.NewOffer(p)
	if err != nil {
		hs.t.Fatal(err)
	}
	return o
}

func (hs *harness) quoteOffer() *x402.Offer { return hs.offer("1000", "Quote", "application/json") }

type req struct {
	method, target, body string
	header               http.Header
}

func (hs *harness) do(r req) *httptest.ResponseRecorder {
	hs.t.Helper()
	var body io.Reader
	if r.body != "" {
		body = strings.NewReader(r.body)
	}
	hr := httptest.NewRequest(r.method, "http://localhost"+r.target, body)
	hr.RemoteAddr = "203.0.113.7:4711"
	for k, vs := range r.header {
		for _, v := range vs {
			hr.Header.Add(k, v)
		}
	}
	w := httptest.NewRecorder()
	hs.h.ServeHTTP(w, hr)
	return w
}

// paid sends r with a fresh payment for o in style.
func (hs *harness) paid(r req, o *x402.Offer, style x402.Style) (*httptest.ResponseRecorder, *x402test.Payment) {
	hs.t.Helper()
	p := hs.payer.Pay(hs.t, o, style, time.Now())
	if r.header == nil {
		r.header = http.Header{}
	}
	r.header.Set(p.Header(), p.Encode(hs.t))
	return hs.do(r), p
}

func (hs *harness) rows() []ledger.Payment {
	hs.t.Helper()
	rows, err := hs.ledger.List(context.Background(), 100)
	if err != nil {
		hs.t.Fatal(err)
	}
	return rows
}

func challenge(t *testing.T, w *httptest.ResponseRecorder) *x402.PaymentRequired {
	t.Helper()
	if w.Code != http.StatusPaymentRequired {
		t.Fatalf("status %d, want 402; body %s", w.Code, w.Body)
	}
	pr, err := x402.DecodePaymentRequired(w.Header().Get(x402.HeaderPaymentRequired))
	if err != nil {
		t.Fatal(err)
	}
	return pr
}

func settlementOf(t *testing.T, w *httptest.ResponseRecorder) *x402.SettlementResponse {
	t.Helper()
	s, err := x402.DecodeSettlementResponse(x402.HeaderPaymentResponse, w.Header().Get(x402.HeaderPaymentResponse))
	if err != nil {
		t.Fatalf("PAYMENT-RESPONSE: %v (headers %v)", err, w.Header())
	}
	return s
}

func errorCode(t *testing.T, w *httptest.ResponseRecorder) string {
	t.Helper()
	var b struct{ Error, Message string }
	if err := json.Unmarshal(w.Body.Bytes(), &b); err != nil || b.Error == "" || b.Message == "" {
		t.Fatalf("body %q is not {error,message}", w.Body)
	}
	return b.Error
}

// Anything that is not a priced method + path answers 404, and a path an
// upstream could read as another 400, before any payment processing: no
// facilitator, ledger or upstream call.
func TestUnpricedAndNonCanonicalPathsAreRefusedWithoutAnyCall(t *testing.T) {
	hs := newHarness(t)
	pay := hs.payer.Pay(t, hs.quoteOffer(), x402.StyleV2, time.Now()).Encode(t)
	for _, tc := range []struct {
		r      req
		status int
		code   string
	}{
		{req{method: http.MethodGet, target: "/pay/unknown"}, http.StatusNotFound, "no_priced_route"},
		{req{method: http.MethodGet, target: "/pay"}, http.StatusNotFound, "no_priced_route"},
		{req{method: http.MethodGet, target: "/pay/"}, http.StatusNotFound, "no_priced_route"},
		{req{method: http.MethodGet, target: "/quote"}, http.StatusNotFound, "no_priced_route"},
		{req{method: http.MethodGet, target: "/payquote"}, http.StatusNotFound, "no_priced_route"},
		{req{method: http.MethodPost, target: "/pay/quote"}, http.StatusNotFound, "no_priced_route"},
		{req{method: http.MethodHead, target: "/pay/quote"}, http.StatusNotFound, "no_priced_route"},
		{req{method: http.MethodDelete, target: "/pay/items/1"}, http.StatusNotFound, "no_priced_route"},
		{req{method: http.MethodGet, target: "/pay/unknown", header: http.Header{x402.HeaderPaymentSignature: {pay}}}, http.StatusNotFound, "no_priced_route"},
		{req{method: http.MethodGet, target: "/pay/quote/"}, http.StatusBadRequest, "invalid_path"},
		{req{method: http.MethodGet, target: "/pay//quote"}, http.StatusBadRequest, "invalid_path"},
		{req{method: http.MethodGet, target: "/pay/items/../quote"}, http.StatusBadRequest, "invalid_path"},
		{req{method: http.MethodGet, target: "/pay/items/a%2Fb"}, http.StatusBadRequest, "invalid_path"},
		{req{method: http.MethodGet, target: "/pay/items/featured;x=1", header: http.Header{x402.HeaderPaymentSignature: {pay}}}, http.StatusBadRequest, "invalid_path"},
	} {
		w := hs.do(tc.r)
		if w.Code != tc.status || errorCode(t, w) != tc.code {
			t.Errorf("%s %s: status %d body %s", tc.r.method, tc.r.target, w.Code, w.Body)
		}
	}
	if n := len(hs.okx.Calls("")); n != 0 || len(hs.up.Calls()) != 0 || len(hs.rows()) != 0 {
		t.Fatalf("calls: okx %d upstream %d rows %d", n, len(hs.up.Calls()), len(hs.rows()))
	}
}

// Every route offers its own price, description, MIME type and resource URL.
func TestEachRouteChallengesWithItsOwnOffer(t *testing.T) {
	hs := newHarness(t)
	cases := []struct {
		r                 req
		price, desc, mime string
		resource          string
	}{
		{req{method: http.MethodGet, target: "/pay/quote?symbol=BTC"}, "1000", "Quote", "application/json", "http://localhost/pay/quote"},
		{req{method: http.MethodGet, target: "/pay/items/42"}, "2", "Read an item", "application/json", "http://localhost/pay/items/42"},
		{req{method: http.MethodPost, target: "/pay/items/42", body: `{"a":1}`}, "3", "Update an item", "application/json", "http://localhost/pay/items/42"},
		{req{method: http.MethodGet, target: "/pay/files/a/b.txt"}, "7", "A file", "text/plain", "http://localhost/pay/files/a/b.txt"},
	}
	for _, tc := range cases {
		pr := challenge(t, hs.do(tc.r))
		a := pr.Accepts[0]
		if len(pr.Accepts) != 1 || a.Amount != tc.price || a.MaxAmountRequired != tc.price || pr.Resource.URL != tc.resource ||
			pr.Resource.Description != tc.desc || pr.Resource.MimeType != tc.mime || !strings.EqualFold(a.PayTo, x402test.PayTo) {
			t.Errorf("%s %s: challenge %+v resource %+v", tc.r.method, tc.r.target, a, pr.Resource)
		}
	}
	if len(hs.okx.Calls("")) != 0 || len(hs.up.Calls()) != 0 {
		t.Fatal("a challenge called the facilitator or the upstream")
	}
	// A payment signed for one route's price does not buy another route.
	w, _ := hs.paid(req{method: http.MethodGet, target: "/pay/items/1"}, hs.quoteOffer(), x402.StyleV2)
	if pr := challenge(t, w); pr.Error == "payment_required" || len(hs.up.Calls()) != 0 || hs.okx.Accepted("settle") != 0 {
		t.Fatalf("cross-route payment: reason %q, upstream %d", pr.Error, len(hs.up.Calls()))
	}
}

// The paid request reaches the upstream as sent (method, path suffix, query,
// body), with the gateway's credential and a receipt naming the ledger row; the
// caller gets the upstream's answer with the settlement receipt, and the ledger
// records the route and the price.
func TestPaidRequestIsForwardedSettledAndDelivered(t *testing.T) {
	for _, style := range []x402.Style{x402.StyleV2, x402.StyleV1} {
		t.Run(style.String(), func(t *testing.T) {
			hs := newHarness(t)
			hs.up.Respond(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json; charset=utf-8")
				w.Header().Set("X-Upstream-Version", "7")
				w.Header().Set("Location", "/items/a%20b")
				w.Header().Set("X-Not-Listed", "1")
				w.WriteHeader(http.StatusCreated)
				_, _ = w.Write([]byte(`{"updated":true}`))
			})
			o := hs.offer("3", "Update an item", "application/json")
			w, p := hs.paid(req{method: http.MethodPost, target: "/pay/items/a%20b?x=1&y=%2F", body: `{"name":"new"}`,
				header: http.Header{"Content-Type": {"application/json"}, "X-Client-Trace": {"abc"}}}, o, style)
			if w.Code != http.StatusCreated || w.Body.String() != `{"updated":true}` ||
				w.Header().Get("Content-Type") != "application/json; charset=utf-8" || w.Header().Get("X-Upstream-Version") != "7" ||
				w.Header().Get("Location") != "/items/a%20b" || w.Header().Get("X-Not-Listed") != "" ||
				w.Header().Get("Cache-Control") != "no-store" {
				t.Fatalf("status %d headers %v body %s", w.Code, w.Header(), w.Body)
			}
			a := p.Payload.Payload.Authorization
			respHeader := x402.HeaderPaymentResponse
			if style == x402.StyleV1 {
				respHeader = x402.HeaderXPaymentResponse
			}
			s, err := x402.DecodeSettlementResponse(respHeader, w.Header().Get(respHeader))
			if err != nil || !s.Success || s.Transaction != okxtest.TxHash(a.From, a.Nonce) {
				t.Fatalf("settlement %+v %v", s, err)
			}
			calls := hs.up.Calls()
			if len(calls) != 1 {
				t.Fatalf("upstream calls %d", len(calls))
			}
			c := calls[0]
			if c.Method != http.MethodPost || c.Path != "/base/items/a b" || c.RawPath != "/base/items/a%20b" || c.Query != "x=1&y=%2F" ||
				c.Body != `{"name":"new"}` || c.Header.Get("Content-Type") != "application/json" || c.Header.Get("X-Client-Trace") != "abc" ||
				c.Header.Get("X-Api-Key") != upstreamKey || c.Header.Get("X-Forwarded-For") != "203.0.113.7" {
				t.Fatalf("upstream saw %+v", c)
			}
			rows := hs.rows()
			if len(rows) != 1 || rows[0].Status != ledger.StatusSettled || rows[0].Endpoint != "POST /pay/items/{id}" || rows[0].Amount != "3" {
				t.Fatalf("rows %+v", rows)
			}
			rc := c.Receipt
			if c.ReceiptErr != nil || rc.PaymentID != rows[0].ID || !strings.EqualFold(rc.Payer, a.From) || rc.Amount != "3" ||
				rc.Nonce != strings.ToLower(a.Nonce) || rc.Network != x402test.Network || rc.Asset != strings.ToLower(x402test.Asset) ||
				rc.Route != "POST /pay/items/{id}" || rc.Method != http.MethodPost || rc.Path != "/items/a b" || rc.Query != "x=1&y=%2F" ||
				rc.Status != x402gateway.ReceiptStatusVerified || !rc.Matches(http.MethodPost, "/items/a b", "x=1&y=%2F", []byte(`{"name":"new"}`)) {
				t.Fatalf("receipt %+v (%v)", rc, c.ReceiptErr)
			}
			// The receipt names this body: the same receipt with another body is refused.
			if rc.Matches(http.MethodPost, "/items/a b", "x=1&y=%2F", []byte(`{"name":"other"}`)) {
				t.Fatal("receipt matches another body")
			}
			if hs.okx.Accepted("verify") != 1 || hs.okx.Accepted("settle") != 1 {
				t.Fatalf("okx calls %+v", hs.okx.Calls(""))
			}
		})
	}
}

// Only allow-listed headers cross the gateway, in both directions. Nothing a
// caller sends can rewrite the request upstream (method or URL overrides),
// claim a client address, forge the receipt or the gateway's credential, or
// reach the upstream with the caller's cookie or (unless the route says so)
// Authorization; nothing an upstream sends beyond the list reaches the caller,
// least of all the gateway's own key echoed back.
func TestOnlyAllowListedHeadersCrossTheGateway(t *testing.T) {
	hs := newHarness(t)
	hs.up.Respond(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Set-Cookie", "upstream_session=1")
		h.Set("Access-Control-Allow-Origin", "*")
		h.Set(x402.HeaderPaymentResponse, "forged")
		h.Set("X-Payment-Receipt", "forged")
		h.Set("Cache-Control", "public, max-age=3600")
		h.Set("X-Api-Key", r.Header.Get("X-Api-Key")) // an upstream echoing its key
		h.Set("X-Debug", "key="+r.Header.Get("X-Api-Key"))
		h.Set("Link", "</quote?key="+r.Header.Get("X-Api-Key")+">; rel=next") // allow-listed, but carries the key
		h.Set("X-Upstream-Version", "7")                                      // listed on another route only
		h.Set("Etag", `"v7"`)
		h.Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{}`))
	})
	sent := http.Header{
		"Accept": {"application/json"}, "Accept-Language": {"de"}, "If-None-Match": {`"v6"`}, "User-Agent": {"client/1"},
		"Authorization": {"Bearer caller-token"}, "Cookie": {"session=caller"},
		"Connection": {"X-Hop-Named"}, "X-Hop-Named": {"must-go"}, "Keep-Alive": {"timeout=5"},
		"Proxy-Authorization": {"Basic cHJveHk="}, "Te": {"trailers"}, "Upgrade": {"websocket"},
		"X-Payment-Receipt": {"forged-receipt"}, "X-Api-Key": {"forged-gateway-key"},
		"X-Http-Method-Override": {"DELETE"}, "X-Http-Method": {"DELETE"}, "X-Method-Override": {"DELETE"},
		"X-Original-Url": {"/admin/users"}, "X-Rewrite-Url": {"/admin/users"},
		"X-Forwarded-For": {"10.9.9.9"}, "X-Forwarded-Prefix": {"/admin"}, "X-Forwarded-Proto": {"http"},
		"X-Forwarded-Host": {"evil.example"}, "Forwarded": {"for=10.9.9.9"}, "X-Real-Ip": {"10.9.9.9"},
		"True-Client-Ip": {"10.9.9.9"}, "Cf-Connecting-Ip": {"10.9.9.9"}, "X-Client-Ip": {"10.9.9.9"},
		"Origin": {"https://app.example.com"}, "X-Request-Id": {"caller-chosen"}, "X-Client-Trace": {"abc"},
	}
	w, _ := hs.paid(req{method: http.MethodGet, target: "/pay/quote", header: sent.Clone()}, hs.quoteOffer(), x402.StyleV2)
	if w.Code != http.StatusOK {
		t.Fatalf("status %d body %s", w.Code, w.Body)
	}
	c := hs.up.Calls()[0]
	// Exactly: the allow-listed caller headers, the gateway's own, and what Go's
	// transport adds (Accept-Encoding: gzip).
	want := []string{"Accept", "Accept-Encoding", "Accept-Language", "If-None-Match", "User-Agent",
		"X-Api-Key", "X-Forwarded-For", "X-Forwarded-Host", "X-Payment-Receipt"}
	if got := slices.Sorted(maps.Keys(c.Header)); !slices.Equal(got, want) {
		t.Fatalf("upstream received %q, want %q", got, want)
	}
	if c.Header.Get("X-Api-Key") != upstreamKey || c.ReceiptErr != nil || c.Header.Get("X-Forwarded-For") != "203.0.113.7" ||
		c.Header.Get("X-Forwarded-Host") != "localhost" || c.Header.Get("User-Agent") != "client/1" || c.Header.Get("Accept-Encoding") != "gzip" {
		t.Errorf("upstream headers %v (receipt %v)", c.Header, c.ReceiptErr)
	}
	wantRes := []string{"Access-Control-Allow-Credentials", "Access-Control-Allow-Origin", "Access-Control-Expose-Headers",
		"Cache-Control", "Content-Type", "Etag", "Payment-Response", "Vary", "X-Content-Type-Options", "X-Request-Id"}
	if got := slices.Sorted(maps.Keys(w.Header())); !slices.Equal(got, wantRes) {
		t.Fatalf("caller received %q, want %q", got, wantRes)
	}
	if w.Header().Get("Cache-Control") != "no-store" || w.Header().Get("X-Request-Id") == "caller-chosen" ||
		strings.Contains(fmt.Sprint(w.Header()), upstreamKey) || strings.Contains(w.Body.String(), upstreamKey) {
		t.Errorf("response headers %v", w.Header())
	}
	if s := settlementOf(t, w); !s.Success {
		t.Errorf("settlement %+v", s)
	}
	if !strings.Contains(hs.logs.String(), "carry the gateway's credential") || strings.Contains(hs.logs.String(), upstreamKey) {
		t.Errorf("logs: %s", hs.logs)
	}

	// The route that forwards Authorization (the credential header is X-Api-Key
	// here), and the POST route's own forwardHeaders.
	w, _ = hs.paid(req{method: http.MethodGet, target: "/pay/me", header: http.Header{"Authorization": {"Bearer caller-token"}}},
		hs.offer("5", "Caller profile", "application/json"), x402.StyleV2)
	if w.Code != http.StatusOK || hs.up.Calls()[1].Header.Get("Authorization") != "Bearer caller-token" {
		t.Fatalf("forwardAuthorization route: %d %v", w.Code, hs.up.Calls()[1].Header)
	}
	w, _ = hs.paid(req{method: http.MethodPost, target: "/pay/items/1", body: `{}`, header: http.Header{
		"Content-Type": {"application/json"}, "Idempotency-Key": {"k-1"}, "X-Client-Trace": {"abc"}, "X-Unlisted": {"no"}}},
		hs.offer("3", "Update an item", "application/json"), x402.StyleV2)
	if h := hs.up.Calls()[2].Header; w.Code != http.StatusOK || h.Get("Idempotency-Key") != "k-1" || h.Get("X-Client-Trace") != "abc" ||
		h.Get("X-Unlisted") != "" || h.Get("Authorization") != "" {
		t.Fatalf("forwardHeaders route: %d %v", w.Code, h)
	}
}

// A body over the route's cap is refused before any payment processing.
func TestOversizedRequestBodyIs413BeforeAnyCall(t *testing.T) {
	hs := newHarness(t)
	o := hs.offer("3", "Update an item", "application/json")
	w, _ := hs.paid(req{method: http.MethodPost, target: "/pay/items/1", body: strings.Repeat("x", 257)}, o, x402.StyleV2)
	if w.Code != http.StatusRequestEntityTooLarge || len(hs.okx.Calls("")) != 0 || len(hs.up.Calls()) != 0 || len(hs.rows()) != 0 {
		t.Fatalf("status %d okx %d upstream %d", w.Code, len(hs.okx.Calls("")), len(hs.up.Calls()))
	}
}
