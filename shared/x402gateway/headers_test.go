package x402gateway

import (
	"net/http"
	"reflect"
	"slices"
	"testing"
)

// CallerHeaders is everything a caller might send: the allow-listed headers,
// and the ones that rewrite the request upstream, name a client address, or
// belong to this hop (by name or named by Connection), to x402 or to the
// caller's session. The gateway's end-to-end test sends it too.
func CallerHeaders() http.Header {
	return http.Header{
		"Accept": {"application/json"}, "Accept-Language": {"de"}, "Content-Type": {"application/json"},
		"If-None-Match": {`"v1"`}, "Range": {"bytes=0-9"}, "User-Agent": {"client/1"},
		"Authorization": {"Bearer caller"}, "X-Api-Key": {"forged"}, "Cookie": {"s=1"},
		"Connection": {"close, Accept-Language, X-Hop-Named"}, "X-Hop-Named": {"must-go"}, "Keep-Alive": {"timeout=5"},
		"Proxy-Authorization": {"Basic cHJveHk="}, "Te": {"trailers"}, "Upgrade": {"h2c"},
		"Payment-Signature": {"sig"}, "X-Payment": {"v1"}, "X-Payment-Receipt": {"forged"},
		"X-Http-Method-Override": {"DELETE"}, "X-Http-Method": {"DELETE"}, "X-Method-Override": {"DELETE"},
		"X-Original-Url": {"/admin"}, "X-Rewrite-Url": {"/admin"},
		"X-Forwarded-For": {"10.0.0.1"}, "X-Forwarded-Prefix": {"/admin"}, "X-Forwarded-Host": {"evil"},
		"X-Forwarded-Proto": {"https"}, "Forwarded": {"for=10.0.0.1"}, "X-Real-Ip": {"10.0.0.1"},
		"True-Client-Ip": {"10.0.0.1"}, "Cf-Connecting-Ip": {"10.0.0.1"}, "X-Client-Ip": {"10.0.0.1"},
		"Origin": {"https://app.example.com"}, "Accept-Encoding": {"br"}, "Expect": {"100-continue"},
		"X-Request-Id": {"caller"}, "X-Trace": {"a", "b"}, "Idempotency-Key": {"k1"},
	}
}

func TestForwardRequestHeadersIsAnAllowList(t *testing.T) {
	cases := []struct {
		name       string
		route      RouteSpec
		credential string
		want       http.Header
	}{
		// Accept-Language is named by Connection: hop-by-hop, whatever the list says.
		{"defaults only", RouteSpec{}, "X-Api-Key", http.Header{
			"Accept": {"application/json"}, "Content-Type": {"application/json"}, "If-None-Match": {`"v1"`},
			"Range": {"bytes=0-9"}, "User-Agent": {"client/1"}}},
		{"route's own headers and Authorization", RouteSpec{ForwardAuthorization: true, ForwardHeaders: []string{"Idempotency-Key", "X-Trace"}},
			"X-Api-Key", http.Header{
				"Accept": {"application/json"}, "Content-Type": {"application/json"}, "If-None-Match": {`"v1"`},
				"Range": {"bytes=0-9"}, "User-Agent": {"client/1"}, "Authorization": {"Bearer caller"},
				"Idempotency-Key": {"k1"}, "X-Trace": {"a", "b"}}},
		// Without a gateway credential the default header name must not eat the
		// caller's Authorization on a route that forwards it.
		{"no gateway credential", RouteSpec{ForwardAuthorization: true}, "", http.Header{
			"Accept": {"application/json"}, "Content-Type": {"application/json"}, "If-None-Match": {`"v1"`},
			"Range": {"bytes=0-9"}, "User-Agent": {"client/1"}, "Authorization": {"Bearer caller"}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dst := http.Header{}
			forwardRequestHeaders(dst, CallerHeaders(), tc.route, tc.credential)
			if !reflect.DeepEqual(dst, tc.want) {
				t.Fatalf("got %v\nwant %v", dst, tc.want)
			}
		})
	}
}

// The documented lists, pinned: a change to what crosses the gateway is a
// change to docs/gateway.md too.
func TestDefaultHeaderListsAreTheDocumentedOnes(t *testing.T) {
	wantReq := []string{"Accept", "Accept-Charset", "Accept-Language", "Cache-Control", "Content-Encoding", "Content-Language",
		"Content-Type", "If-Match", "If-Modified-Since", "If-None-Match", "If-Range", "If-Unmodified-Since", "Range", "User-Agent"}
	wantRes := []string{"Accept-Ranges", "Content-Disposition", "Content-Encoding", "Content-Language", "Content-Location",
		"Content-Range", "Content-Type", "Etag", "Last-Modified", "Link", "Location", "Retry-After"}
	if !slices.Equal(RequestHeaders, wantReq) || !slices.Equal(ResponseHeaders, wantRes) {
		t.Fatalf("request %q\nresponse %q", RequestHeaders, ResponseHeaders)
	}
	for _, name := range slices.Concat(RequestHeaders, ResponseHeaders) {
		if managedHeader(name) || http.CanonicalHeaderKey(name) != name {
			t.Errorf("%s: managed or not canonical", name)
		}
	}
}

func TestResponseFilterIsAnAllowListAndNeverRelaysTheCredential(t *testing.T) {
	const credential = "Bearer sk_live_0123456789"
	src := http.Header{
		"Content-Type": {"text/csv"}, "Content-Encoding": {"br"}, "Etag": {`"1"`}, "Location": {"/items/7"},
		"Content-Range": {"bytes 0-9/100"}, "X-Rate-Remaining": {"9"}, "X-Total-Count": {"42"}, "Set-Cookie": {"a=1"},
		"Payment-Response": {"forged"}, "X-Payment-Response": {"forged"}, "X-Request-Id": {"up"},
		"Access-Control-Allow-Origin": {"*"}, "Cache-Control": {"public"}, "Content-Length": {"9"}, "Connection": {"close"},
		// An upstream echoing the gateway's key, by name and by value.
		"Authorization": {credential}, "X-Debug-Auth": {credential},
		"Link": {"<https://api.example.com/next?key=sk_live_0123456789>; rel=next"},
	}
	route := RouteSpec{ResponseHeaders: []string{"X-Total-Count", "X-Debug-Auth"}}
	dst := http.Header{}
	leaked := newResponseFilter(route, "Authorization", credential).copy(dst, src)
	want := http.Header{"Content-Type": {"text/csv"}, "Content-Encoding": {"br"}, "Etag": {`"1"`}, "Location": {"/items/7"},
		"Content-Range": {"bytes 0-9/100"}, "X-Total-Count": {"42"}}
	if !reflect.DeepEqual(dst, want) {
		t.Fatalf("got %v\nwant %v", dst, want)
	}
	if !slices.Equal(leaked, []string{"Link", "X-Debug-Auth"}) {
		t.Fatalf("leaked %q", leaked)
	}

	// A credential header the route would otherwise relay stays behind by name.
	dst = http.Header{}
	newResponseFilter(RouteSpec{ResponseHeaders: []string{"X-Api-Key"}}, "X-Api-Key", "k").copy(dst, http.Header{"X-Api-Key": {"k"}})
	if len(dst) != 0 {
		t.Fatalf("credential header relayed: %v", dst)
	}
	// A short token is matched only as the whole value.
	f := newResponseFilter(RouteSpec{}, "Authorization", "Bearer abc")
	if len(f.secrets) != 1 || f.secrets[0] != "Bearer abc" {
		t.Fatalf("secrets %q", f.secrets)
	}
}

func TestManagedHeadersWhateverTheirSpelling(t *testing.T) {
	for _, name := range []string{"PAYMENT-SIGNATURE", "payment-required", "X-PAYMENT", "x-payment-response", "X-Payment-Receipt",
		"x-forwarded-prefix", "X-Forwarded-Proto", "proxy-anything", "access-control-allow-origin", "true-client-ip",
		"X-HTTP-METHOD-OVERRIDE", "x-original-url", "cookie", "host"} {
		if !managedHeader(name) {
			t.Errorf("%s is not managed", name)
		}
	}
	for _, name := range []string{"Idempotency-Key", "Prefer", "X-Total-Count", "X-Amzn-Trace-Id", "Traceparent"} {
		if managedHeader(name) {
			t.Errorf("%s is managed", name)
		}
	}
	if reservedUpstreamHeader("Authorization") || reservedUpstreamHeader("X-Api-Key") ||
		!reservedUpstreamHeader("accept") || !reservedUpstreamHeader("X-Payment-Receipt") {
		t.Fatal("credential header rules")
	}
}
