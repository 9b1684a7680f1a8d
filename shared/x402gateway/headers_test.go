package x402gateway

import (
	"net/http"
	"reflect"
	"testing"
)

func TestForwardRequestHeaders(t *testing.T) {
	src := http.Header{
		"Authorization": {"Bearer caller"}, "X-Api-Key": {"forged"}, "Connection": {"close, X-Named"},
		"X-Named": {"hop"}, "Payment-Signature": {"sig"}, "X-Payment": {"v1"}, "Cookie": {"s=1"},
		"Accept": {"application/json"}, "X-Trace": {"a", "b"},
	}
	cases := []struct {
		name       string
		forwardAuz bool
		credential string
		want       http.Header
	}{
		{"credential in its own header", false, "X-Api-Key",
			http.Header{"Accept": {"application/json"}, "X-Trace": {"a", "b"}}},
		{"caller's Authorization forwarded", true, "X-Api-Key",
			http.Header{"Accept": {"application/json"}, "X-Trace": {"a", "b"}, "Authorization": {"Bearer caller"}}},
		// Without a gateway credential the default header name must not eat the
		// caller's Authorization on a route that forwards it.
		{"no gateway credential", true, "",
			http.Header{"Accept": {"application/json"}, "X-Trace": {"a", "b"}, "Authorization": {"Bearer caller"}, "X-Api-Key": {"forged"}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dst := http.Header{}
			forwardRequestHeaders(dst, src, tc.forwardAuz, tc.credential)
			if !reflect.DeepEqual(dst, tc.want) {
				t.Fatalf("got %v, want %v", dst, tc.want)
			}
		})
	}
}

func TestCopyResponseHeadersIsAnAllowList(t *testing.T) {
	src := http.Header{
		"Content-Type": {"text/csv"}, "Content-Encoding": {"br"}, "Etag": {`"1"`}, "X-Rate-Remaining": {"9"}, "Set-Cookie": {"a=1"},
		"Payment-Response": {"forged"}, "X-Payment-Response": {"forged"}, "X-Request-Id": {"up"},
		"Access-Control-Allow-Origin": {"*"}, "Cache-Control": {"public"}, "Content-Length": {"9"}, "Connection": {"close"},
	}
	dst := http.Header{}
	copyResponseHeaders(dst, src)
	want := http.Header{"Content-Type": {"text/csv"}, "Content-Encoding": {"br"}, "Etag": {`"1"`}, "X-Rate-Remaining": {"9"}}
	if !reflect.DeepEqual(dst, want) {
		t.Fatalf("got %v", dst)
	}
}
