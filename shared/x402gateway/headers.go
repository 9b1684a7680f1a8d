package x402gateway

import (
	"net/http"
	"slices"
	"strings"

	"github.com/insforge/edge-functions-go/shared/x402"
)

// HeaderReceipt carries the signed payment receipt to the upstream.
const HeaderReceipt = "X-Payment-Receipt"

// Both directions are allow-lists: a header passes only when it is named here
// or in the route's forwardHeaders / responseHeaders. A deny-list always misses
// the next header some framework honours (X-HTTP-Method-Override,
// X-Original-URL, True-Client-IP, …).

// RequestHeaders are the caller's headers forwarded on every route: content,
// negotiation, conditional and range requests, and the user agent. Authorization
// only on a route with forwardAuthorization. Accept-Encoding is not among them:
// the gateway's transport negotiates gzip itself and caps the decoded size.
var RequestHeaders = []string{
	"Accept", "Accept-Charset", "Accept-Language",
	"Cache-Control", "Content-Encoding", "Content-Language", "Content-Type",
	"If-Match", "If-Modified-Since", "If-None-Match", "If-Range", "If-Unmodified-Since", "Range",
	"User-Agent",
}

// ResponseHeaders are the upstream's headers a caller receives on every route:
// content description, validators, Location (201) and Content-Range (206).
// Content-Encoding survives only when the transport did not decode the body
// itself (an encoding it did not ask for): the bytes are relayed as they are,
// so their encoding must be too.
var ResponseHeaders = []string{
	"Accept-Ranges", "Content-Disposition", "Content-Encoding", "Content-Language", "Content-Location",
	"Content-Range", "Content-Type", "Etag", "Last-Modified", "Link", "Location", "Retry-After",
}

// managedHeaders are never named in a route's header lists, in either
// direction: the gateway sets them itself (Host, Content-Length, forwarding
// information, the receipt, the request id, caching), they belong to one hop
// (RFC 9110 §7.6.1), to x402, to the caller's session with this API (Cookie)
// or to CORS, or an upstream may take them as an instruction about the request
// itself: its method, its URL, or who sent it.
var managedHeaders = canonicalSet(
	// hop-by-hop (RFC 9110 §7.6.1, plus the historical Keep-Alive and Proxy-Connection)
	"Connection", "Keep-Alive", "Proxy-Connection", "Proxy-Authenticate",
	"Proxy-Authorization", "Te", "Trailer", "Transfer-Encoding", "Upgrade",
	// set by the gateway or its transport
	"Host", "Content-Length", "Expect", "Accept-Encoding", "X-Request-Id",
	"X-Content-Type-Options", "Vary", "Date", "Server",
	// credentials and sessions
	"Authorization", "Cookie", "Set-Cookie",
	// client address (who sent the request)
	"Forwarded", "X-Real-Ip", "True-Client-Ip", "Cf-Connecting-Ip", "X-Client-Ip",
	"X-Cluster-Client-Ip", "Fastly-Client-Ip", "X-Originating-Ip", "X-Remote-Ip",
	"X-Remote-Addr", "Client-Ip", "X-Appengine-User-Ip", "X-Azure-Clientip",
	// request line rewrites (method and URL overrides)
	"X-Http-Method-Override", "X-Http-Method", "X-Method-Override",
	"X-Original-Url", "X-Original-Uri", "X-Rewrite-Url", "X-Original-Method",
	// CORS (answered here)
	"Origin",
	// x402
	x402.HeaderPaymentSignature, x402.HeaderXPayment, x402.HeaderPaymentRequired,
	x402.HeaderPaymentResponse, x402.HeaderXPaymentResponse, HeaderReceipt,
)

// managedPrefixes extend managedHeaders to whole families.
var managedPrefixes = []string{"X-Forwarded-", "Proxy-", "Access-Control-", "X-Payment", "Payment-"}

// canonicalSet is the set of names in their canonical spelling (x402's
// constants are upper-case).
func canonicalSet(names ...string) map[string]bool {
	m := make(map[string]bool, len(names))
	for _, n := range names {
		m[http.CanonicalHeaderKey(n)] = true
	}
	return m
}

// managedHeader reports whether name may not appear in a route's header lists.
func managedHeader(name string) bool {
	name = http.CanonicalHeaderKey(name)
	if managedHeaders[name] {
		return true
	}
	for _, p := range managedPrefixes {
		if strings.HasPrefix(name, p) {
			return true
		}
	}
	return false
}

// reservedUpstreamHeader reports whether name cannot carry the gateway's
// credential: a header the gateway manages or forwards from the caller
// (Authorization is its default and allowed).
func reservedUpstreamHeader(name string) bool {
	name = http.CanonicalHeaderKey(name)
	if name == "Authorization" {
		return false
	}
	return managedHeader(name) || slices.Contains(RequestHeaders, name)
}

// forwardRequestHeaders copies the caller's headers the route allows: the
// RequestHeaders, the route's forwardHeaders, and Authorization when the route
// forwards it. credentialHeader ("" when the gateway sends none) never comes
// from the caller.
func forwardRequestHeaders(dst, src http.Header, route RouteSpec, credentialHeader string) {
	// Headers named by Connection are hop-by-hop (RFC 9110 §7.6.1), whatever
	// the allow-list says.
	hop := map[string]bool{}
	for _, v := range src.Values("Connection") {
		for _, name := range strings.Split(v, ",") {
			if name = strings.TrimSpace(name); name != "" {
				hop[http.CanonicalHeaderKey(name)] = true
			}
		}
	}
	copyNamed := func(name string) {
		if hop[name] || name == credentialHeader {
			return
		}
		if vs := src.Values(name); len(vs) > 0 {
			dst[name] = append([]string(nil), vs...)
		}
	}
	for _, name := range RequestHeaders {
		copyNamed(name)
	}
	for _, name := range route.ForwardHeaders {
		copyNamed(name)
	}
	if route.ForwardAuthorization {
		copyNamed("Authorization")
	}
}

// responseFilter copies the upstream headers a caller may receive.
type responseFilter struct {
	extra            []string // the route's responseHeaders
	credentialHeader string   // "" when the gateway sends no credential
	secrets          []string // the credential's value and token: never relayed
}

// newResponseFilter holds what must never reach a caller: the credential
// header's name, and its value (whole, and the token after a scheme such as
// "Bearer", when long enough not to match by chance).
func newResponseFilter(route RouteSpec, credentialHeader, credential string) responseFilter {
	f := responseFilter{extra: route.ResponseHeaders}
	if credential != "" {
		f.credentialHeader = credentialHeader
		f.secrets = append(f.secrets, credential)
		if _, token, ok := strings.Cut(strings.TrimSpace(credential), " "); ok {
			if token = strings.TrimSpace(token); len(token) >= minSecretMatch {
				f.secrets = append(f.secrets, token)
			}
		}
	}
	return f
}

// minSecretMatch is the shortest credential token searched for in response
// header values; a shorter one would drop unrelated headers by coincidence.
const minSecretMatch = 8

// copy copies the allowed headers from src to dst and returns the names it
// dropped because their value carries the credential.
func (f responseFilter) copy(dst, src http.Header) (leaked []string) {
	for _, list := range [][]string{ResponseHeaders, f.extra} {
		for _, name := range list {
			vs := src.Values(name)
			if len(vs) == 0 || name == f.credentialHeader {
				continue
			}
			if f.carriesSecret(vs) {
				leaked = append(leaked, name)
				continue
			}
			dst[name] = append([]string(nil), vs...)
		}
	}
	return leaked
}

func (f responseFilter) carriesSecret(vs []string) bool {
	for _, v := range vs {
		for _, s := range f.secrets {
			if strings.Contains(v, s) {
				return true
			}
		}
	}
	return false
}
