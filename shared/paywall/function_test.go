package paywall_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/insforge/edge-functions-go/shared/facilitator"
	"github.com/insforge/edge-functions-go/shared/insforge"
	"github.com/insforge/edge-functions-go/shared/launch"
	"github.com/insforge/edge-functions-go/shared/paywall"
)

// A paid function's cold start loads every spec before it makes anything: a
// bad variable fails it naming the variable and build never runs; a good
// configuration hands build the upstreams, and their Deps carry the runtime's
// clock.
func TestBuildLoadsThenMakesTheUpstreams(t *testing.T) {
	for _, tc := range []struct {
		name, recipient, wantErr string
	}{
		{name: "good", recipient: "0x209693Bc6afc0C5328bA36FaF03C514EF312287C"},
		{name: "bad recipient", recipient: "0x1234", wantErr: "PAYMENT_RECIPIENT"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for k, v := range map[string]string{"PAYMENT_RECIPIENT": tc.recipient, "ENVIRONMENT": "development",
				"MOCK_OKX_FACILITATOR": "true", "INSFORGE_BASE_URL": "http://127.0.0.1:1",
				"INSFORGE_SERVICE_KEY": "ik_0123456789abcdef0123456789abcdef"} {
				t.Setenv(k, v)
			}
			var (
				pc    paywall.Config
				fc    facilitator.Config
				ic    insforge.Config
				built *paywall.Deps
			)
			at := time.Unix(1_790_000_000, 0)
			rt := launch.Runtime{Now: func() time.Time { return at }}
			_, err := paywall.Build(rt, []any{&pc, &fc, &ic}, &pc, &fc, &ic, func(up paywall.Upstreams) (http.Handler, error) {
				d := up.Deps(rt)
				built = &d
				return http.NotFoundHandler(), nil
			})
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) || built != nil {
					t.Fatalf("err = %v (build ran: %v), want one naming %s before any build", err, built != nil, tc.wantErr)
				}
				return
			}
			if err != nil || built == nil || built.Ledger == nil || built.Facilitator == nil || built.Logger == nil ||
				!built.Now().Equal(at) {
				t.Fatalf("err %v, deps %+v", err, built)
			}
		})
	}
}

// Deps left empty by a test get the real clock and the default logger.
func TestDepsWithDefaults(t *testing.T) {
	d := paywall.Deps{}.WithDefaults()
	if d.Now == nil || d.Logger == nil || time.Since(d.Now()) > time.Minute {
		t.Fatalf("defaults %+v", d)
	}
}
