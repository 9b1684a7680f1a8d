package x402gateway_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"math/big"
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
	"github.com/insforge/edge-functions-go/shared/launch"
	"github.com/insforge/edge-functions-go/shared/ledger"
	"github.com/insforge/edge-functions-go/shared/logtest"
	"github.com/insforge/edge-functions-go/shared/x402"
	"github.com/insforge/edge-functions-go/shared/x402/payer"
	"github.com/insforge/edge-functions-go/shared/x402/x402test"
	"github.com/insforge/edge-functions-go/shared/x402gateway"
	"github.com/insforge/edge-functions-go/shared/x402payments"
)

func TestMain(m *testing.M) { insforgetest.Main(m) }

var quiet = slog.New(slog.DiscardHandler)

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
type syncBuffer = logtest.Buffer

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
	hs.cfg.Facilitator.OKXAPI = facilitator.APIV2
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
	o, err := hs.cfg.Paywall.Offer(price, description, mime)
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
	sent := x402gateway.CallerHeaders()
	sent.Del(x402.HeaderXPayment)         // paid adds its own; two payment headers are refused as ambiguous
	sent.Set("Connection", "X-Hop-Named") // only the custom header is hop-by-hop here: Accept-Language crosses
	sent.Del("Range")                     // Go's transport asks for gzip only without a Range
	w, _ := hs.paid(req{method: http.MethodGet, target: "/pay/quote", header: sent.Clone()}, hs.quoteOffer(), x402.StyleV2)
	if w.Code != http.StatusOK {
		t.Fatalf("status %d body %s", w.Code, w.Body)
	}
	c := hs.up.Calls()[0]
	// Exactly: the allow-listed caller headers, the gateway's own, and what Go's
	// transport adds (Accept-Encoding: gzip).
	want := []string{"Accept", "Accept-Encoding", "Accept-Language", "Content-Type", "If-None-Match", "User-Agent",
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
	if w.Header().Get("Cache-Control") != "no-store" || w.Header().Get("X-Request-Id") == sent.Get("X-Request-Id") ||
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

// An upstream that fails in any way is not paid for: no settlement, the claim is
// released, and the same signed authorization buys the call once the upstream
// works again (exactly one settle, one delivery).
func TestUpstreamFailuresAreNotChargedAndTheAuthorizationStaysUsable(t *testing.T) {
	cases := []struct {
		name    string
		respond func(w http.ResponseWriter, r *http.Request)
		status  int
		code    string
	}{
		{"5xx", func(w http.ResponseWriter, r *http.Request) {
			http.Error(w, "database on fire at 10.0.0.3", http.StatusInternalServerError)
		}, http.StatusBadGateway, "upstream_error"},
		{"timeout", func(w http.ResponseWriter, r *http.Request) {
			select {
			case <-r.Context().Done():
			case <-time.After(5 * time.Second):
			}
		}, http.StatusGatewayTimeout, "upstream_timeout"},
		{"oversized answer", func(w http.ResponseWriter, r *http.Request) {
			_, _ = w.Write([]byte(strings.Repeat("x", testMaxBytes+1)))
		}, http.StatusBadGateway, "upstream_response_too_large"},
		{"redirect", func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, "/base/elsewhere", http.StatusFound)
		}, http.StatusBadGateway, "upstream_redirect"},
		{"credential refused", func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusUnauthorized)
		}, http.StatusBadGateway, "upstream_refused"},
		{"upstream asks for its own payment", func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusPaymentRequired)
		}, http.StatusBadGateway, "upstream_refused"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			hs := newHarness(t, func(c *x402gateway.Config) { c.UpstreamTimeout = 300 * time.Millisecond })
			hs.up.Respond(tc.respond)
			w, p := hs.paid(req{method: http.MethodGet, target: "/pay/quote"}, hs.quoteOffer(), x402.StyleV2)
			if w.Code != tc.status || errorCode(t, w) != tc.code {
				t.Fatalf("status %d body %s", w.Code, w.Body)
			}
			if strings.Contains(w.Body.String(), "10.0.0.3") || w.Header().Get(x402.HeaderPaymentResponse) != "" {
				t.Fatalf("upstream detail or a receipt leaked: %v %s", w.Header(), w.Body)
			}
			if hs.okx.Accepted("settle") != 0 {
				t.Fatal("settled a failed delivery")
			}
			for _, r := range hs.rows() {
				if r.Status == ledger.StatusSettled {
					t.Fatalf("row settled: %+v", r)
				}
			}
			if n := len(hs.up.Calls()); n != 1 {
				t.Fatalf("upstream called %d times (redirect followed?)", n)
			}

			// The upstream recovers: the same authorization pays, once.
			hs.up.Respond(nil)
			h := http.Header{}
			h.Set(p.Header(), p.Encode(t))
			again := hs.do(req{method: http.MethodGet, target: "/pay/quote", header: h})
			if again.Code != http.StatusOK || !settlementOf(t, again).Success {
				t.Fatalf("re-presented: %d %s", again.Code, again.Body)
			}
			rows := hs.rows()
			if hs.okx.Accepted("settle") != 1 || len(rows) != 1 || rows[0].Status != ledger.StatusSettled || rows[0].Endpoint != "GET /pay/quote" {
				t.Fatalf("settles %d rows %+v", hs.okx.Accepted("settle"), rows)
			}
		})
	}
}

// A 4xx about the caller's own request is relayed, and not charged.
func TestUpstreamClientErrorIsRelayedAndNotCharged(t *testing.T) {
	hs := newHarness(t)
	hs.up.Respond(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusNotFound)
		_, _ = w.Write([]byte(`{"error":"no such item"}`))
	})
	w, _ := hs.paid(req{method: http.MethodGet, target: "/pay/items/404"}, hs.offer("2", "Read an item", "application/json"), x402.StyleV2)
	if w.Code != http.StatusNotFound || w.Body.String() != `{"error":"no such item"}` || hs.okx.Accepted("settle") != 0 {
		t.Fatalf("status %d body %s settles %d", w.Code, w.Body, hs.okx.Accepted("settle"))
	}
}

// A delivered payment is never served again, in any encoding: 402 with the
// original receipt, no facilitator call, no upstream call.
func TestReplayOfADeliveredPaymentIsRefusedWithoutCalls(t *testing.T) {
	hs := newHarness(t)
	o := hs.quoteOffer()
	w, p := hs.paid(req{method: http.MethodGet, target: "/pay/quote"}, o, x402.StyleV2)
	if w.Code != http.StatusOK {
		t.Fatalf("first: %d %s", w.Code, w.Body)
	}
	tx := settlementOf(t, w).Transaction
	verifies := hs.okx.Accepted("verify")
	v1 := *p
	v1.Style = x402.StyleV1
	v1.Payload.X402Version, v1.Payload.Accepted, v1.Payload.Resource = 1, nil, nil
	v1.Payload.Scheme, v1.Payload.Network = x402.SchemeExact, x402test.Network
	for _, replay := range []*x402test.Payment{p, &v1} {
		h := http.Header{}
		h.Set(replay.Header(), replay.Encode(t))
		r := hs.do(req{method: http.MethodGet, target: "/pay/quote", header: h})
		if pr := challenge(t, r); pr.Error != x402.ReasonNonceUsed {
			t.Fatalf("replay reason %q", pr.Error)
		}
		name := replay.Style.ResponseHeader()
		s, err := x402.DecodeSettlementResponse(name, r.Header().Get(name))
		if err != nil || s.Transaction != tx {
			t.Fatalf("replay receipt %+v %v", s, err)
		}
	}
	// Presented on another route it buys nothing there either.
	other := http.Header{}
	other.Set(p.Header(), p.Encode(t))
	r := hs.do(req{method: http.MethodGet, target: "/pay/items/1", header: other})
	if r.Code != http.StatusPaymentRequired {
		t.Fatalf("other route: %d", r.Code)
	}
	if hs.okx.Accepted("verify") != verifies || hs.okx.Accepted("settle") != 1 || len(hs.up.Calls()) != 1 {
		t.Fatalf("replays cost calls: verify %d→%d settle %d upstream %d", verifies, hs.okx.Accepted("verify"),
			hs.okx.Accepted("settle"), len(hs.up.Calls()))
	}
}

// Concurrent copies of one payment call the upstream once and settle once.
func TestConcurrentCopiesCallTheUpstreamOnce(t *testing.T) {
	hs := newHarness(t)
	hs.up.Respond(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(50 * time.Millisecond)
		_, _ = w.Write([]byte(`{}`))
	})
	p := hs.payer.Pay(t, hs.quoteOffer(), x402.StyleV2, time.Now())
	header := p.Encode(t)
	const n = 10
	codes := make([]int, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			h := http.Header{}
			h.Set(p.Header(), header)
			codes[i] = hs.do(req{method: http.MethodGet, target: "/pay/quote", header: h}).Code
		}()
	}
	wg.Wait()
	ok := 0
	for _, c := range codes {
		switch c {
		case http.StatusOK:
			ok++
		case http.StatusAccepted, http.StatusPaymentRequired:
		default:
			t.Fatalf("codes %v", codes)
		}
	}
	if ok != 1 || len(hs.up.Calls()) != 1 || hs.okx.Accepted("settle") != 1 {
		t.Fatalf("codes %v upstream %d settles %d", codes, len(hs.up.Calls()), hs.okx.Accepted("settle"))
	}
}

// The abuse bounds are the function's, not each route's: a payer over its
// per-minute budget is refused on every route, before any facilitator call.
func TestAbuseBoundsAreSharedAcrossRoutes(t *testing.T) {
	hs := newHarness(t, func(c *x402gateway.Config) { c.Paywall.PayerPerMinute = 2 })
	items := hs.offer("2", "Read an item", "application/json")
	for i, step := range []struct {
		target string
		offer  *x402.Offer
		want   int
	}{
		{"/pay/quote", hs.quoteOffer(), http.StatusOK},
		{"/pay/items/1", items, http.StatusOK},
		{"/pay/items/2", items, http.StatusTooManyRequests},
	} {
		w, _ := hs.paid(req{method: http.MethodGet, target: step.target}, step.offer, x402.StyleV2)
		if w.Code != step.want {
			t.Fatalf("step %d %s: %d %s", i, step.target, w.Code, w.Body)
		}
	}
	if hs.okx.Accepted("verify") != 2 || len(hs.up.Calls()) != 2 {
		t.Fatalf("verify %d upstream %d", hs.okx.Accepted("verify"), len(hs.up.Calls()))
	}
}

// The upstream's time comes from the invocation: its deadline minus the settle
// reserve. Too little left means no upstream call at all; a slow upstream is cut
// at the derived bound, well before the configured timeout.
func TestUpstreamTimeIsDerivedFromTheInvocationDeadline(t *testing.T) {
	hs := newHarness(t, func(c *x402gateway.Config) { c.UpstreamTimeout = 10 * time.Second })
	hs.up.Respond(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-time.After(8 * time.Second):
		}
	})
	do := func(left time.Duration) (*httptest.ResponseRecorder, time.Duration) {
		ctx, cancel := context.WithTimeout(context.Background(), left)
		defer cancel()
		p := hs.payer.Pay(t, hs.quoteOffer(), x402.StyleV2, time.Now())
		r := httptest.NewRequest(http.MethodGet, "http://localhost/pay/quote", nil).WithContext(ctx)
		r.Header.Set(p.Header(), p.Encode(t))
		w := httptest.NewRecorder()
		began := time.Now()
		hs.h.ServeHTTP(w, r)
		return w, time.Since(began)
	}
	// Reserve 5 s: with 5.2 s left nothing is worth starting.
	w, _ := do(5200 * time.Millisecond)
	if w.Code != http.StatusServiceUnavailable || errorCode(t, w) != "insufficient_time" || len(hs.up.Calls()) != 0 {
		t.Fatalf("short deadline: %d %s upstream %d", w.Code, w.Body, len(hs.up.Calls()))
	}
	// With 6.5 s left the upstream gets about 1.5 s, not 10 s.
	w, took := do(6500 * time.Millisecond)
	if w.Code != http.StatusGatewayTimeout || took > 4*time.Second || len(hs.up.Calls()) != 1 {
		t.Fatalf("derived bound: %d after %s, upstream %d", w.Code, took, len(hs.up.Calls()))
	}
	if hs.okx.Accepted("settle") != 0 {
		t.Fatal("settled without a delivery")
	}
	for _, r := range hs.rows() {
		if r.Status == ledger.StatusSettled || r.Status == ledger.StatusPending {
			t.Fatalf("row left %s: %+v", r.Status, r)
		}
	}
}

// Logs name what happened (route, upstream status, error codes) but never the
// gateway's credential, the receipt, its key or the payment header.
func TestLogsCarryNoSecretsOrPaymentHeaders(t *testing.T) {
	hs := newHarness(t)
	w, p := hs.paid(req{method: http.MethodGet, target: "/pay/quote"}, hs.quoteOffer(), x402.StyleV2)
	if w.Code != http.StatusOK {
		t.Fatalf("paid: %d", w.Code)
	}
	hs.up.Respond(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusInternalServerError) })
	if w, _ := hs.paid(req{method: http.MethodGet, target: "/pay/quote"}, hs.quoteOffer(), x402.StyleV2); w.Code != http.StatusBadGateway {
		t.Fatalf("failing: %d", w.Code)
	}
	logs := hs.logs.String()
	for _, want := range []string{`"msg":"upstream answered"`, `"route":"GET /pay/quote"`, `"upstream_status":200`,
		`"upstream_status":500`, `"code":"upstream_error"`} {
		if !strings.Contains(logs, want) {
			t.Fatalf("logs lack %s:\n%s", want, logs)
		}
	}
	receipt := hs.up.Calls()[0].Header.Get(x402gateway.HeaderReceipt)
	for name, secret := range map[string]string{"credential": upstreamKey, "receipt key": receiptKey, "receipt": receipt,
		"payment header": p.Encode(t), "signature": p.Payload.Payload.Signature} {
		if secret == "" || strings.Contains(logs, secret) {
			t.Fatalf("logs contain the %s (or it is empty)", name)
		}
	}
}

// A settlement with an unknown outcome is answered 202 and the upstream's answer
// is dropped; once the row settles (the reconciler's job, done by hand here) the
// same payment gets its one delivery: the upstream is called again with the
// same payment_id, a "settled" receipt carrying the transaction. Afterwards the
// payment is spent.
func TestDeliveryAfterAPendingSettlementCallsTheUpstreamWithASettledReceipt(t *testing.T) {
	hs := newHarness(t)
	hs.okx.SettleStatus("pending")
	w, p := hs.paid(req{method: http.MethodGet, target: "/pay/quote"}, hs.quoteOffer(), x402.StyleV2)
	if w.Code != http.StatusAccepted || len(hs.up.Calls()) != 1 {
		t.Fatalf("pending: %d %s upstream %d", w.Code, w.Body, len(hs.up.Calls()))
	}
	rows := hs.rows()
	if len(rows) != 1 || rows[0].Status != ledger.StatusPending || rows[0].Tx() == "" {
		t.Fatalf("rows %+v", rows)
	}
	if err := hs.ledger.Settle(context.Background(), rows[0].ID, rows[0].Tx(), false); err != nil {
		t.Fatal(err)
	}
	h := http.Header{}
	h.Set(p.Header(), p.Encode(t))
	w = hs.do(req{method: http.MethodGet, target: "/pay/quote", header: h})
	if w.Code != http.StatusOK || settlementOf(t, w).Transaction != rows[0].Tx() {
		t.Fatalf("delivery: %d %s", w.Code, w.Body)
	}
	calls := hs.up.Calls()
	if len(calls) != 2 || calls[1].ReceiptErr != nil {
		t.Fatalf("upstream calls %d (%v)", len(calls), calls[len(calls)-1].ReceiptErr)
	}
	first, second := calls[0].Receipt, calls[1].Receipt
	if first.Status != x402gateway.ReceiptStatusVerified || first.Transaction != "" ||
		second.Status != x402gateway.ReceiptStatusSettled || second.Transaction != rows[0].Tx() || second.PaymentID != first.PaymentID {
		t.Fatalf("receipts %+v / %+v", first, second)
	}
	if w := hs.do(req{method: http.MethodGet, target: "/pay/quote", header: h}); w.Code != http.StatusPaymentRequired || len(hs.up.Calls()) != 2 {
		t.Fatalf("after delivery: %d upstream %d", w.Code, len(hs.up.Calls()))
	}
	if hs.okx.Accepted("settle") != 1 {
		t.Fatalf("settles %d", hs.okx.Accepted("settle"))
	}
}

// A gzip answer is decoded by the transport (and capped decoded) before it is
// relayed; the caller gets plain bytes without a stale Content-Encoding.
func TestGzipAnswersAreDecodedAndCappedDecoded(t *testing.T) {
	hs := newHarness(t)
	gz := func(plain string) []byte {
		var b bytes.Buffer
		zw := gzip.NewWriter(&b)
		_, _ = zw.Write([]byte(plain))
		_ = zw.Close()
		return b.Bytes()
	}
	small, big := gz(`{"ok":true}`), gz(strings.Repeat("a", 10*testMaxBytes))
	body := small
	hs.up.Respond(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Accept-Encoding") != "gzip" {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Encoding", "gzip")
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(body)
	})
	w, _ := hs.paid(req{method: http.MethodGet, target: "/pay/quote", header: http.Header{"Accept-Encoding": {"br"}}}, hs.quoteOffer(), x402.StyleV2)
	if w.Code != http.StatusOK || w.Body.String() != `{"ok":true}` || w.Header().Get("Content-Encoding") != "" {
		t.Fatalf("small: %d %v %q", w.Code, w.Header(), w.Body)
	}
	if len(big) > testMaxBytes {
		t.Fatal("the compressed answer must fit the cap for this test to mean anything")
	}
	body = big
	w, _ = hs.paid(req{method: http.MethodGet, target: "/pay/quote"}, hs.quoteOffer(), x402.StyleV2)
	if w.Code != http.StatusBadGateway || errorCode(t, w) != "upstream_response_too_large" || hs.okx.Accepted("settle") != 1 {
		t.Fatalf("big: %d %s settles %d", w.Code, w.Body, hs.okx.Accepted("settle"))
	}
}

// BenchmarkGatewayOverhead compares a direct call to the upstream with the same
// call bought through the gateway (strict OKX fake over loopback HTTP, ledger on
// real PostgreSQL through the InsForge stack). The gateway's overhead is
// paid − direct; challenge is the unpaid 402. Payments are signed outside the
// timer, each by its own payer from its own address so that the abuse bounds
// never apply.
//
//	go test -run '^$' -bench GatewayOverhead -benchtime 200x ./shared/x402gateway
func BenchmarkGatewayOverhead(b *testing.B) {
	hs := newHarness(b)
	target := "/pay/quote?symbol=BTC"

	b.Run("direct", func(b *testing.B) {
		c := &http.Client{}
		for b.Loop() {
			res, err := c.Get(hs.up.URL + "/base/quote?symbol=BTC")
			if err != nil {
				b.Fatal(err)
			}
			_, _ = io.Copy(io.Discard, res.Body)
			res.Body.Close()
			if res.StatusCode != http.StatusOK {
				b.Fatalf("status %d", res.StatusCode)
			}
		}
	})
	b.Run("challenge", func(b *testing.B) {
		for b.Loop() {
			w := httptest.NewRecorder()
			hs.h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "http://localhost"+target, nil))
			if w.Code != http.StatusPaymentRequired {
				b.Fatalf("status %d", w.Code)
			}
		}
	})
	b.Run("paid", func(b *testing.B) {
		o := hs.quoteOffer()
		headers := make([]string, b.N)
		for i := range headers {
			p := x402test.NewPayer(b).Pay(b, o, x402.StyleV2, time.Now())
			headers[i] = p.Encode(b)
		}
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			r := httptest.NewRequest(http.MethodGet, "http://localhost"+target, nil)
			r.RemoteAddr = fmt.Sprintf("10.%d.%d.%d:1234", i>>16&255, i>>8&255, i&255)
			r.Header.Set(x402.HeaderPaymentSignature, headers[i])
			w := httptest.NewRecorder()
			hs.h.ServeHTTP(w, r)
			if w.Code != http.StatusOK {
				b.Fatalf("status %d body %s", w.Code, w.Body)
			}
		}
	})
}
