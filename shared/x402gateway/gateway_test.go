package x402gateway_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
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

// testRoutes: a literal route, a parameterised one per method, a catch-all,
// and one that forwards the caller's Authorization.
const testRoutes = `[
 {"method":"GET","path":"/quote","price":"1000","description":"Quote","mimeType":"application/json"},
 {"method":"POST","path":"/items/{id}","price":"3","description":"Update an item","maxRequestBytes":256},
 {"method":"GET","path":"/items/{id}","price":"2","description":"Read an item"},
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

// Anything that is not a priced method + path answers 404 before any payment
// processing: no facilitator, ledger or upstream call.
func TestUnpricedRoutesAre404WithoutAnyCall(t *testing.T) {
	hs := newHarness(t)
	pay := hs.payer.Pay(t, hs.quoteOffer(), x402.StyleV2, time.Now()).Encode(t)
	for _, r := range []req{
		{method: http.MethodGet, target: "/pay/unknown"},
		{method: http.MethodGet, target: "/pay"},
		{method: http.MethodGet, target: "/pay/"},
		{method: http.MethodGet, target: "/quote"},
		{method: http.MethodGet, target: "/payquote"},
		{method: http.MethodPost, target: "/pay/quote"},
		{method: http.MethodHead, target: "/pay/quote"},
		{method: http.MethodDelete, target: "/pay/items/1"},
		{method: http.MethodGet, target: "/pay/quote/"},
		{method: http.MethodGet, target: "/pay//quote"},
		{method: http.MethodGet, target: "/pay/items/../quote"},
		{method: http.MethodGet, target: "/pay/items/a%2Fb"},
		{method: http.MethodGet, target: "/pay/unknown", header: http.Header{x402.HeaderPaymentSignature: {pay}}},
	} {
		w := hs.do(r)
		if w.Code != http.StatusNotFound || errorCode(t, w) != "no_priced_route" {
			t.Errorf("%s %s: status %d body %s", r.method, r.target, w.Code, w.Body)
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
				w.WriteHeader(http.StatusCreated)
				_, _ = w.Write([]byte(`{"updated":true}`))
			})
			o := hs.offer("3", "Update an item", "application/json")
			w, p := hs.paid(req{method: http.MethodPost, target: "/pay/items/a%20b?x=1&y=%2F", body: `{"name":"new"}`,
				header: http.Header{"Content-Type": {"application/json"}, "X-Client-Trace": {"abc"}}}, o, style)
			if w.Code != http.StatusCreated || w.Body.String() != `{"updated":true}` ||
				w.Header().Get("Content-Type") != "application/json; charset=utf-8" || w.Header().Get("X-Upstream-Version") != "7" ||
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
				rc.Status != x402gateway.ReceiptStatusVerified {
				t.Fatalf("receipt %+v (%v)", rc, c.ReceiptErr)
			}
			if hs.okx.Accepted("verify") != 1 || hs.okx.Accepted("settle") != 1 {
				t.Fatalf("okx calls %+v", hs.okx.Calls(""))
			}
		})
	}
}

// Payment, hop-by-hop and caller credentials never reach the upstream; a forged
// receipt or gateway credential is replaced; only a route that says so gets the
// caller's Authorization. Upstream headers that could confuse the caller
// (cookies, CORS, x402 headers) stay behind.
func TestForwardingStripsPaymentHopByHopAndCallerCredentials(t *testing.T) {
	hs := newHarness(t)
	hs.up.Respond(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Set-Cookie", "upstream_session=1")
		h.Set("Access-Control-Allow-Origin", "*")
		h.Set(x402.HeaderPaymentResponse, "forged")
		h.Set("X-Payment-Receipt", "forged")
		h.Set("Cache-Control", "public, max-age=3600")
		h.Set("X-Kept", "yes")
		h.Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{}`))
	})
	hop := http.Header{
		"Authorization":       {"Bearer caller-token"},
		"Cookie":              {"session=caller"},
		"Connection":          {"X-Hop-Named"},
		"X-Hop-Named":         {"must-go"},
		"Keep-Alive":          {"timeout=5"},
		"Proxy-Authorization": {"Basic cHJveHk="},
		"Te":                  {"trailers"},
		"Upgrade":             {"websocket"},
		"X-Payment-Receipt":   {"forged-receipt"},
		"X-Api-Key":           {"forged-gateway-key"},
		"X-Forwarded-For":     {"10.9.9.9"},
		"Forwarded":           {"for=10.9.9.9"},
		"Origin":              {"https://app.example.com"},
		"X-Kept-Request":      {"yes"},
	}
	w, _ := hs.paid(req{method: http.MethodGet, target: "/pay/quote", header: hop.Clone()}, hs.quoteOffer(), x402.StyleV2)
	if w.Code != http.StatusOK {
		t.Fatalf("status %d body %s", w.Code, w.Body)
	}
	c := hs.up.Calls()[0]
	for _, name := range []string{"Authorization", "Cookie", "Connection", "X-Hop-Named", "Keep-Alive", "Proxy-Authorization", "Te", "Upgrade",
		"Payment-Signature", "X-Payment", "Forwarded", "Origin"} {
		if v := c.Header.Values(name); len(v) != 0 {
			t.Errorf("upstream received %s: %q", name, v)
		}
	}
	if c.Header.Get("X-Api-Key") != upstreamKey || c.ReceiptErr != nil || c.Header.Get("X-Forwarded-For") != "203.0.113.7" ||
		c.Header.Get("X-Kept-Request") != "yes" || len(c.Header.Values(x402gateway.HeaderReceipt)) != 1 {
		t.Errorf("upstream headers %v (receipt %v)", c.Header, c.ReceiptErr)
	}
	if w.Header().Get("Set-Cookie") != "" || w.Header().Get(x402gateway.HeaderReceipt) != "" || w.Header().Get("X-Kept") != "yes" ||
		w.Header().Get("Cache-Control") != "no-store" || w.Header().Get("Access-Control-Allow-Origin") != "https://app.example.com" {
		t.Errorf("response headers %v", w.Header())
	}
	if s := settlementOf(t, w); !s.Success {
		t.Errorf("settlement %+v", s)
	}

	// The route that forwards Authorization (the credential header is X-Api-Key here).
	w, _ = hs.paid(req{method: http.MethodGet, target: "/pay/me", header: http.Header{"Authorization": {"Bearer caller-token"}}},
		hs.offer("5", "Caller profile", "application/json"), x402.StyleV2)
	if w.Code != http.StatusOK || hs.up.Calls()[1].Header.Get("Authorization") != "Bearer caller-token" {
		t.Fatalf("forwardAuthorization route: %d %v", w.Code, hs.up.Calls()[1].Header)
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
