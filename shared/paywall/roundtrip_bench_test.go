package paywall_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/insforge/edge-functions-go/shared/facilitator"
	"github.com/insforge/edge-functions-go/shared/facilitator/okxtest"
	"github.com/insforge/edge-functions-go/shared/insforge"
	"github.com/insforge/edge-functions-go/shared/insforge/insforgetest"
	"github.com/insforge/edge-functions-go/shared/ledger"
	"github.com/insforge/edge-functions-go/shared/paywall"
	"github.com/insforge/edge-functions-go/shared/x402"
	"github.com/insforge/edge-functions-go/shared/x402/x402test"
)

// roundTripLatency is added to every InsForge request and every OKX call, so
// the time of one paid request counts its sequential upstream round trips.
const roundTripLatency = 25 * time.Millisecond

// BenchmarkPaidRequestRoundTrips pays for one fresh request per iteration
// (a new payer and source address each time, so no limit applies) through the
// real ledger and the strict OKX fake, both slowed by roundTripLatency. The
// "round-trips/op" metric is the time per request in units of that latency:
// the length of the sequential chain of upstream calls on the success path.
func BenchmarkPaidRequestRoundTrips(b *testing.B) {
	stack := insforgetest.New(b)
	var insforgeCalls atomic.Int64
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		insforgeCalls.Add(1)
		time.Sleep(roundTripLatency)
		stack.Handler.ServeHTTP(w, r)
	}))
	b.Cleanup(slow.Close)
	client, err := insforge.New(insforge.Options{BaseURL: slow.URL, Token: stack.ServiceKey})
	if err != nil {
		b.Fatal(err)
	}
	okx := okxtest.New(b, facilitator.APIV2)
	okx.Delay("verify", roundTripLatency)
	okx.Delay("settle", roundTripLatency)
	fac, err := facilitator.NewOKX(facilitator.OKXOptions{BaseURL: okx.URL, APIKey: okxtest.Key, SecretKey: okxtest.Secret, Passphrase: okxtest.Passphrase})
	if err != nil {
		b.Fatal(err)
	}
	offer := x402test.Offer(b)
	pw, err := paywall.New(paywall.Options{Offer: offer, Facilitator: fac, Ledger: ledger.New(client), Endpoint: "/x402/report", Summary: "bench"})
	if err != nil {
		b.Fatal(err)
	}
	h := pw.Wrap(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte(`{"content":"paid"}`)) }))
	payments := make([]string, 0, 64)
	i := 0
	b.ResetTimer()
	for b.Loop() {
		b.StopTimer()
		p := x402test.NewPayer(b).Pay(b, offer, x402.StyleV2, time.Now())
		payments = append(payments[:0], p.Encode(b))
		r := httptest.NewRequest(http.MethodPost, "http://localhost/x402/report", nil)
		r.Header.Set(x402.HeaderPaymentSignature, payments[0])
		r.RemoteAddr = fmt.Sprintf("10.%d.%d.%d:4000", i>>16&255, i>>8&255, i&255)
		i++
		w := httptest.NewRecorder()
		b.StartTimer()
		h.ServeHTTP(w, r)
		if w.Code != http.StatusOK {
			b.Fatalf("status %d: %s", w.Code, w.Body)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(b.Elapsed())/float64(b.N)/float64(roundTripLatency), "round-trips/op")
	b.ReportMetric(float64(insforgeCalls.Load())/float64(b.N), "insforge-calls/op")
	b.ReportMetric(float64(len(okx.Calls("")))/float64(b.N), "okx-calls/op")
}
