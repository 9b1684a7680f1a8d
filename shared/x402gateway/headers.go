package x402gateway

import (
	"net/http"
	"strings"

	"github.com/insforge/edge-functions-go/shared/x402"
)

// HeaderReceipt carries the signed payment receipt to the upstream.
const HeaderReceipt = "X-Payment-Receipt"

// hopByHop are the RFC 9110 §7.6.1 connection-specific headers (plus the
// historical Keep-Alive and Proxy-Connection), never forwarded either way.
var hopByHop = []string{
	"Connection", "Keep-Alive", "Proxy-Connection", "Proxy-Authenticate", "Proxy-Authorization",
	"Te", "Trailer", "Transfer-Encoding", "Upgrade",
}

// paymentHeaders are x402's own headers: the payment never reaches the upstream,
// and an upstream cannot forge our challenge or receipt.
var paymentHeaders = []string{
	x402.HeaderPaymentSignature, x402.HeaderXPayment, x402.HeaderPaymentRequired,
	x402.HeaderPaymentResponse, x402.HeaderXPaymentResponse,
}

// dropRequest are caller headers the upstream never sees: ours to set (Host,
// Content-Length, the receipt, forwarding information), the caller's session
// with this API (Cookie), CORS (answered here), and Accept-Encoding (the Go
// transport negotiates gzip itself and caps the decoded size).
var dropRequest = []string{
	"Host", "Content-Length", "Cookie", "Expect", "Accept-Encoding", HeaderReceipt,
	"Forwarded", "X-Forwarded-For", "X-Forwarded-Host", "X-Forwarded-Proto", "X-Forwarded-Port", "X-Real-Ip",
	"Origin", "Access-Control-Request-Method", "Access-Control-Request-Headers", "Access-Control-Expose-Headers",
}

// reservedUpstreamHeader reports whether the gateway manages name itself, so it
// cannot carry the upstream credential.
func reservedUpstreamHeader(name string) bool {
	name = http.CanonicalHeaderKey(name)
	for _, list := range [][]string{hopByHop, paymentHeaders, dropRequest} {
		for _, h := range list {
			if http.CanonicalHeaderKey(h) == name {
				return true
			}
		}
	}
	return name == "X-Request-Id" || name == "Content-Type"
}

// forwardRequestHeaders copies the caller's headers that the upstream may see.
func forwardRequestHeaders(dst, src http.Header, forwardAuthorization bool, credentialHeader string) {
	for k, vs := range src {
		dst[k] = append([]string(nil), vs...)
	}
	// Headers named by Connection are hop-by-hop too (RFC 9110 §7.6.1).
	for _, v := range src.Values("Connection") {
		for _, name := range strings.Split(v, ",") {
			if name = strings.TrimSpace(name); name != "" {
				dst.Del(name)
			}
		}
	}
	for _, list := range [][]string{hopByHop, paymentHeaders, dropRequest} {
		for _, h := range list {
			dst.Del(h)
		}
	}
	if !forwardAuthorization {
		dst.Del("Authorization")
	}
	// A caller must never supply the gateway's own credential header ("" when
	// the gateway sends none).
	if credentialHeader != "" {
		dst.Del(credentialHeader)
	}
}

// responseAllowed are the upstream response headers a paying client receives.
// Everything else (Set-Cookie, CORS, caching, hop-by-hop, x402 headers, length,
// which this side recomputes) stays behind. Content-Encoding survives only when
// the transport did not decode the body itself (an encoding it did not ask for):
// the bytes are relayed as they are, so their encoding must be too.
var responseAllowed = map[string]bool{
	"Content-Type": true, "Content-Encoding": true, "Content-Language": true, "Content-Disposition": true,
	"Etag": true, "Last-Modified": true, "Link": true, "Retry-After": true,
}

// copyResponseHeaders copies the allowed upstream headers and any X- header
// that is neither x402's nor ours.
func copyResponseHeaders(dst, src http.Header) {
	for k, vs := range src {
		ck := http.CanonicalHeaderKey(k)
		allowed := responseAllowed[ck] ||
			strings.HasPrefix(ck, "X-") && !strings.HasPrefix(ck, "X-Payment") && ck != "X-Request-Id" && ck != "X-Content-Type-Options"
		if allowed {
			dst[ck] = append([]string(nil), vs...)
		}
	}
}
