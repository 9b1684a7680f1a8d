package x402gateway

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
)

// request builds a request whose path is raw, as a server parses it; a path
// net/http cannot parse arrives as httpapi.RequestFromEvent makes it (the raw
// text as the decoded path).
func request(t *testing.T, raw string) *http.Request {
	t.Helper()
	r := httptest.NewRequest(http.MethodGet, "http://localhost/", nil)
	r.RequestURI = raw
	u, err := url.ParseRequestURI(raw)
	if err != nil {
		u = &url.URL{Path: raw}
	}
	r.URL = u
	return r
}

func TestCanonicalPathForwardsOneSpellingOfWhatWasPriced(t *testing.T) {
	cases := []struct{ raw, decoded, forward string }{
		{"/pay/items/42", "/items/42", "/items/42"},
		{"/pay/", "/", "/"},
		{"/pay/items/a%20b", "/items/a b", "/items/a%20b"},
		{"/pay/items/caf%C3%A9", "/items/café", "/items/caf%C3%A9"},
		{"/pay/items/caf%c3%a9", "/items/café", "/items/caf%C3%A9"}, // lower-case hex: same bytes, one spelling
		{"/pay/items/café", "/items/café", "/items/caf%C3%A9"},
		{"/pay/items/a:b@c,d+e=f!$&'()*", "/items/a:b@c,d+e=f!$&'()*", "/items/a:b@c,d+e=f!$&'()*"},
		{"/pay/items/a%2Bb", "/items/a+b", "/items/a+b"},
		{"/pay/items/a%3Fb%23c", "/items/a?b#c", "/items/a%3Fb%23c"},
		{"/pay/items/v1.2", "/items/v1.2", "/items/v1.2"},
		{"/pay/items/.well-known", "/items/.well-known", "/items/.well-known"},
		{"/pay/items/a..b", "/items/a..b", "/items/a..b"},
	}
	for _, tc := range cases {
		d, f, found, err := canonicalPath(request(t, tc.raw))
		if !found || err != nil || d != tc.decoded || f != tc.forward {
			t.Errorf("%s: decoded %q forward %q found %v err %v; want %q %q", tc.raw, d, f, found, err, tc.decoded, tc.forward)
		}
	}
}

// Every path an upstream could read as another one is refused, whatever
// normalisation it applies: ";" path parameters (Tomcat, Spring), "\" as "/",
// a second percent-decoding, overlong UTF-8, Unicode compatibility folding,
// Windows trimming of trailing dots and spaces.
func TestCanonicalPathRefusesWhatAnUpstreamCouldReadOtherwise(t *testing.T) {
	for _, raw := range []string{
		"/pay/files/..;/..;/admin/users",
		"/pay/items/featured;x=1",
		"/pay/items/featured;",
		"/pay/items/a%3Bb",
		"/pay/files/..%5C..%5Cadmin",
		"/pay/files/a%5cb",
		`/pay/files/a\b`,
		"/pay/files/%252e%252e/admin",
		"/pay/files/a%25b",
		"/pay/files/a%00b",
		"/pay/files/a%0Ab",
		"/pay/files/a%7Fb",
		"/pay/files/%2e%2e/admin",
		"/pay/files/%2E/admin",
		"/pay/items/%66eatured", // "featured", spelt to match {id}
		"/pay/items/%41",
		"/pay/items/a%2Fb",
		"/pay/items/a%2fb",
		"/pay/items/a%zzb",
		"/pay/items/a%4",
		"/pay/items/%c0%ae%c0%ae",             // overlong "..": invalid UTF-8
		"/pay/files/%EF%BC%8E%EF%BC%8E/admin", // "．．" (U+FF0E), ".." under NFKC
		"/pay/files/%E2%80%A5/admin",          // "‥" (U+2025), ".." under NFKC
		"/pay/files/a%EF%BC%8Fb",              // "／" (U+FF0F), "/" under NFKC
		"/pay/files/a%EF%BC%9Bb",              // "；" (U+FF1B), ";" under NFKC
		"/pay/files/a%EF%BC%BCb",              // "＼" (U+FF3C), "\" under NFKC
		"/pay/files/..%20/admin",
		"/pay/files/.../admin",
		"/pay/files/%20/admin",
		"/pay/files/./admin",
		"/pay/files/../admin",
		"/pay/files/a/..",
		"/pay/items/../quote",
		"/pay//quote",
		"/pay/quote/",
	} {
		_, _, found, err := canonicalPath(request(t, raw))
		if !found || err == nil {
			t.Errorf("%s: found %v err %v, want refused", raw, found, err)
		}
	}
}

func TestCanonicalPathIgnoresWhatIsNotUnderThePrefix(t *testing.T) {
	for _, raw := range []string{"/pay", "/payquote", "/quote", "/x402/report"} {
		if _, _, found, err := canonicalPath(request(t, raw)); found || err != nil {
			t.Errorf("%s: found %v err %v", raw, found, err)
		}
	}
}

// The path rules run on every request, priced or not (one NFKC pass included).
func BenchmarkCanonicalPath(b *testing.B) {
	for _, raw := range []string{"/pay/v1/items/42", "/pay/v1/files/docs/caf%C3%A9/report-2026.pdf"} {
		u, err := url.ParseRequestURI(raw)
		if err != nil {
			b.Fatal(err)
		}
		r := &http.Request{Method: http.MethodGet, URL: u}
		b.Run(raw, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, _, _, err := canonicalPath(r); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
