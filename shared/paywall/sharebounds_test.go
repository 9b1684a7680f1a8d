package paywall_test

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/insforge/edge-functions-go/shared/facilitator"
	"github.com/insforge/edge-functions-go/shared/paywall"
	"github.com/insforge/edge-functions-go/shared/x402"
)

// Two paywalls of one function (two priced routes) that share their bounds
// count a payer once: its second new payment is refused on the other route,
// before any facilitator call. Unshared, each route would have its own budget.
func TestSharedBoundsCountAPayerOnceAcrossPaywalls(t *testing.T) {
	for _, shared := range []bool{true, false} {
		var cfg paywall.Options
		hs := newHarness(t, facilitator.APIV2, func(c *paywall.Options, _ *harness) {
			c.PayerPerMinute, c.PayerBurst = 1, 1
			cfg = *c
		})
		routes := map[string]http.Handler{}
		var first *paywall.Paywall
		for _, endpoint := range []string{"/a", "/b"} {
			c := cfg
			c.Endpoint = endpoint
			pw, err := paywall.New(c)
			if err != nil {
				t.Fatal(err)
			}
			if first == nil {
				first = pw
			} else if shared {
				pw.ShareBoundsWith(first)
			}
			routes[endpoint] = pw.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte("{}")) }))
		}
		codes := []int{}
		for _, endpoint := range []string{"/a", "/b"} {
			p := hs.payer.Pay(t, hs.offer, x402.StyleV2, time.Now())
			r := httptest.NewRequest(http.MethodPost, "http://localhost"+endpoint, nil)
			r.Header.Set(p.Header(), p.Encode(t))
			w := httptest.NewRecorder()
			routes[endpoint].ServeHTTP(w, r)
			codes = append(codes, w.Code)
		}
		want := []int{http.StatusOK, http.StatusOK}
		if shared {
			want[1] = http.StatusTooManyRequests
		}
		if codes[0] != want[0] || codes[1] != want[1] || hs.okx.Accepted("verify") != map[bool]int{true: 1, false: 2}[shared] {
			t.Fatalf("shared=%v: codes %v, want %v; verify calls %d", shared, codes, want, hs.okx.Accepted("verify"))
		}
	}
}
