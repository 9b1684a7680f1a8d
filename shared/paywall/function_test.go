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

// coldStart runs paywall.Build on a development environment with recipient as
// PAYMENT_RECIPIENT and the clock at, returning the Deps build was given (nil:
// build never ran).
func coldStart(t *testing.T, recipient string, at time.Time) (*paywall.Deps, error) {
	t.Helper()
	for k, v := range map[string]string{"PAYMENT_RECIPIENT": recipient, "ENVIRONMENT": "development",
		"MOCK_OKX_FACILITATOR": "true", "INSFORGE_BASE_URL": "http://127.0.0.1:1",
		"INSFORGE_SERVICE_KEY": "ik_0123456789abcdef0123456789abcdef"} {
		t.Setenv(k, v)
	}
	var pc paywall.Config
	var fc facilitator.Config
	var ic insforge.Config
	var built *paywall.Deps
	rt := launch.Runtime{Now: func() time.Time { return at }}
	_, err := paywall.Build(rt, []any{&pc, &fc, &ic}, &pc, &fc, &ic, func(up paywall.Upstreams) (http.Handler, error) {
		d := up.Deps(rt)
		built = &d
		return http.NotFoundHandler(), nil
	})
	return built, err
}

// A bad variable fails the cold start naming it, before anything is made.
func TestBuildRefusesBadConfigurationBeforeBuilding(t *testing.T) {
	built, err := coldStart(t, "0x1234", time.Now())
	if err == nil || !strings.Contains(err.Error(), "PAYMENT_RECIPIENT") || built != nil {
		t.Fatalf("err = %v (build ran: %v), want one naming PAYMENT_RECIPIENT before any build", err, built != nil)
	}
}

// A good configuration hands build the upstreams, whose Deps carry the
// runtime's clock.
func TestBuildHandsTheUpstreamsToBuild(t *testing.T) {
	at := time.Unix(1_790_000_000, 0)
	built, err := coldStart(t, "0x209693Bc6afc0C5328bA36FaF03C514EF312287C", at)
	if err != nil || built == nil || built.Ledger == nil || built.Facilitator == nil || built.Logger == nil || !built.Now().Equal(at) {
		t.Fatalf("err %v, deps %+v", err, built)
	}
}

// Deps left empty by a test get the real clock and the default logger.
func TestDepsWithDefaults(t *testing.T) {
	d := paywall.Deps{}.WithDefaults()
	if d.Now == nil || d.Logger == nil || time.Since(d.Now()) > time.Minute {
		t.Fatalf("defaults %+v", d)
	}
}
