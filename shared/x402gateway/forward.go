package x402gateway

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/insforge/edge-functions-go/shared/httpapi"
	"github.com/insforge/edge-functions-go/shared/paywall"
	"github.com/insforge/edge-functions-go/shared/x402"
)

// minUpstreamTime is the least time worth giving an upstream call; with less
// left before the settlement reserve, the call is not made.
const minUpstreamTime = 500 * time.Millisecond

// forwarder is the paid handler behind each route's paywall: it calls the
// upstream once, buffered and bounded, and answers the upstream's 2xx as is.
// Anything else becomes a non-2xx answer, which the paywall never settles.
type forwarder struct {
	route       RouteSpec
	base        *url.URL
	client      *http.Client
	authHeader  string
	auth        string
	receiptKey  []byte
	timeout     time.Duration
	reserve     time.Duration
	maxResponse int64
	now         func() time.Time
	offer       *x402.Offer
	responses   responseFilter
	// outerHeaders is the room kept in Lambda's response payload for the
	// headers set around the forwarder (outerHeaderBytes).
	outerHeaders int
}

// newUpstreamClient never follows redirects (a 3xx is an upstream error) and
// ignores proxy environment variables; every call has a context deadline.
func newUpstreamClient(timeout time.Duration) *http.Client {
	return &http.Client{
		Timeout: timeout + time.Second,
		Transport: &http.Transport{
			Proxy:                  nil,
			DialContext:            (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
			TLSClientConfig:        &tls.Config{MinVersion: tls.VersionTLS12},
			TLSHandshakeTimeout:    5 * time.Second,
			MaxResponseHeaderBytes: 64 << 10,
			MaxIdleConnsPerHost:    16,
			IdleConnTimeout:        90 * time.Second,
			ForceAttemptHTTP2:      true,
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

func (f *forwarder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	httpapi.HandlerFunc(f.serve).ServeHTTP(w, r)
}

func (f *forwarder) serve(w http.ResponseWriter, r *http.Request) error {
	pay, ok := paywall.PaymentFrom(r.Context())
	if !ok {
		// Only reachable if the forwarder is mounted without its paywall.
		return httpapi.PaymentRequired.Err()
	}
	log := httpapi.Logger(r.Context())
	budget, ok := f.budget(r.Context())
	if !ok {
		e := httpapi.InsufficientTime.Err()
		e.Header = http.Header{"Retry-After": {"1"}}
		return e
	}
	body, err := io.ReadAll(r.Body) // already read into memory and size-capped by bufferBody
	if err != nil {
		return httpapi.InvalidRequest.Cause(err)
	}
	suffix, escaped, _, perr := canonicalPath(r)
	if perr != nil { // the dispatcher refused it already; kept for a forwarder mounted alone
		return httpapi.InvalidPath.Wrap(perr.Error(), perr)
	}
	ctx, cancel := context.WithTimeout(r.Context(), budget)
	defer cancel()
	out, err := f.request(ctx, r, pay, suffix, escaped, body)
	if err != nil {
		return err
	}

	began := f.now()
	res, err := f.client.Do(out)
	if err != nil {
		return upstreamErr(ctx, err)
	}
	defer res.Body.Close()
	buf, err := io.ReadAll(io.LimitReader(res.Body, f.maxResponse+1))
	if err != nil {
		return upstreamErr(ctx, err)
	}
	log.Info("upstream answered", slog.String("route", f.route.Key()), slog.Int("upstream_status", res.StatusCode),
		slog.Int("bytes", len(buf)), slog.Float64("upstream_ms", float64(f.now().Sub(began).Microseconds())/1000))
	switch s := res.StatusCode; {
	case int64(len(buf)) > f.maxResponse:
		return httpapi.UpstreamResponseTooLarge.New(fmt.Sprintf("the upstream response exceeds %d bytes; nothing was charged", f.maxResponse))
	case s >= 300 && s < 400:
		return httpapi.UpstreamRedirect.Err()
	case s >= 500:
		return httpapi.UpstreamError.New("the upstream failed (HTTP " + strconv.Itoa(s) + "); nothing was charged")
	case s == http.StatusPaymentRequired,
		(s == http.StatusUnauthorized || s == http.StatusProxyAuthRequired) && !f.route.ForwardAuthorization:
		// The gateway's own credential was refused, or the upstream wants its
		// own payment: the caller can do nothing about either.
		return httpapi.UpstreamRefused.New("the upstream refused the gateway (HTTP " + strconv.Itoa(s) + "); nothing was charged")
	case s < 200:
		return httpapi.UpstreamError.Err()
	}
	// 2xx (charged by the paywall) or a 4xx about the caller's own request
	// (relayed, not charged).
	h := http.Header{}
	if leaked := f.responses.copy(h, res.Header); len(leaked) > 0 {
		log.Warn("upstream response headers carry the gateway's credential; dropped",
			slog.String("route", f.route.Key()), slog.Any("headers", leaked))
	}
	if h.Get("Content-Type") == "" && len(buf) > 0 {
		h.Set("Content-Type", f.route.MimeType)
	}
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	if r.Method == http.MethodHead {
		buf = nil
	}
	// The answer must fit Lambda's response payload once encoded (JSON
	// escapes, base64), with room for the headers added around it; found out
	// here, before the paywall settles, it costs the caller nothing.
	if size := httpapi.ResponsePayloadSize(res.StatusCode, h, buf) + f.outerHeaders; size > httpapi.MaxResponsePayloadBytes {
		log.Warn("upstream answer too large once encoded for Lambda", slog.String("route", f.route.Key()),
			slog.Int("bytes", len(buf)), slog.Int("encoded_bytes", size))
		return httpapi.UpstreamResponseTooLarge.New(fmt.Sprintf("the upstream response would be %d bytes once encoded, over Lambda's %d-byte response limit; nothing was charged",
			size, httpapi.MaxResponsePayloadBytes))
	}
	for k, vs := range h {
		w.Header()[k] = vs
	}
	w.WriteHeader(res.StatusCode)
	_, _ = w.Write(buf)
	return nil
}

// outerHeaderBytes bounds the headers set around the forwarder after its
// answer is measured, with their JSON quoting: CORS (the longest configured
// origin and the expose list, both fixed at cold start), and within a fixed
// 4 KiB the settlement receipt (PAYMENT-RESPONSE, about 300 bytes),
// X-Request-Id, Vary and Access-Control-Allow-Credentials.
func outerHeaderBytes(origins, expose []string) int {
	longest := 0
	for _, o := range origins {
		longest = max(longest, len(o))
	}
	return 4<<10 + longest + len(strings.Join(expose, ", "))
}

// budget is the upstream call's time: the configured timeout, cut so that the
// settlement reserve remains before the invocation deadline.
func (f *forwarder) budget(ctx context.Context) (time.Duration, bool) {
	d := f.timeout
	if dl, ok := ctx.Deadline(); ok {
		left := dl.Sub(f.now()) - f.reserve
		if left < d {
			d = left
		}
	}
	return d, d >= min(minUpstreamTime, f.timeout)
}

// request builds the upstream request: same method, path suffix, query and body;
// filtered headers; the gateway's credential; the signed receipt.
func (f *forwarder) request(ctx context.Context, r *http.Request, pay paywall.Payment, suffix, escaped string, body []byte) (*http.Request, error) {
	u := *f.base
	u.Path = f.base.Path + suffix
	u.RawPath = f.base.EscapedPath() + escaped // re-encoded from suffix (canonicalPath)
	u.RawQuery = r.URL.RawQuery
	out, err := http.NewRequestWithContext(ctx, r.Method, u.String(), bytes.NewReader(body))
	if err != nil {
		return nil, httpapi.InvalidRequest.Wrap("the request cannot be forwarded", err)
	}
	if len(body) == 0 {
		out.Body, out.GetBody, out.ContentLength = http.NoBody, nil, 0
	}
	if f.auth != "" {
		forwardRequestHeaders(out.Header, r.Header, f.route, f.authHeader)
		out.Header.Set(f.authHeader, f.auth)
	} else {
		forwardRequestHeaders(out.Header, r.Header, f.route, "")
	}
	if host, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		out.Header.Set("X-Forwarded-For", host)
	} else if r.RemoteAddr != "" {
		out.Header.Set("X-Forwarded-For", r.RemoteAddr)
	}
	out.Header.Set("X-Forwarded-Host", r.Host)
	if out.Header.Get("User-Agent") == "" {
		out.Header.Set("User-Agent", "x402-gateway")
	}
	now := f.now()
	rc := receiptOf(pay, f.offer)
	rc.Issuer = ReceiptIssuer
	rc.Audience = []string{f.base.String()}
	rc.IssuedAt = jwtTime(now)
	rc.ExpiresAt = jwtTime(now.Add(ReceiptTTL))
	rc.Route, rc.Method, rc.Path, rc.Query = f.route.Key(), r.Method, suffix, r.URL.RawQuery
	rc.BodySHA256 = bodyDigest(body)
	rc.Status = ReceiptStatusVerified
	if pay.Transaction != "" {
		rc.Status, rc.Transaction = ReceiptStatusSettled, pay.Transaction
	}
	tok, err := signReceipt(f.receiptKey, rc)
	if err != nil {
		return nil, err
	}
	out.Header.Set(HeaderReceipt, tok)
	return out, nil
}

// upstreamErr maps a failed call: the deadline is 504, anything else 502. The
// cause (which may name the upstream host) is logged, never shown.
func upstreamErr(ctx context.Context, err error) error {
	var ne net.Error
	if errors.Is(err, context.DeadlineExceeded) || ctx.Err() != nil || errors.As(err, &ne) && ne.Timeout() {
		return httpapi.UpstreamTimeout.Cause(err)
	}
	return httpapi.UpstreamUnavailable.Cause(err)
}
