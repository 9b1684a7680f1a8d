package x402gateway_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/insforge/edge-functions-go/shared/x402"
	"github.com/insforge/edge-functions-go/shared/x402/x402test"
)

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
