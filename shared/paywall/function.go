package paywall

import (
	"log/slog"
	"net/http"
	"time"

	"github.com/insforge/edge-functions-go/shared/config"
	"github.com/insforge/edge-functions-go/shared/facilitator"
	"github.com/insforge/edge-functions-go/shared/insforge"
	"github.com/insforge/edge-functions-go/shared/launch"
	"github.com/insforge/edge-functions-go/shared/metrics"
)

// Build is a paid function's cold start: config.Load fills specs (which hold
// pc, fc and ic), the Upstreams are made from the loaded configuration, and
// build makes the handler from them.
func Build(rt launch.Runtime, specs []any, pc *Config, fc *facilitator.Config, ic *insforge.Config,
	build func(Upstreams) (http.Handler, error)) (http.Handler, error) {
	if err := config.Load(specs...); err != nil {
		return nil, err
	}
	up, err := UpstreamsFromConfig(*pc, *fc, *ic, rt.Log())
	if err != nil {
		return nil, err
	}
	return build(up)
}

// Deps are the collaborators of a paid endpoint that its New does not build
// from configuration: Build makes them (Upstreams.Deps), tests inject them.
type Deps struct {
	Facilitator facilitator.Facilitator
	Ledger      Ledger
	Balances    BalanceReader     // XLAYER_RPC_URL; nil: no balance check
	Logger      *slog.Logger      // nil: slog.Default()
	Metrics     *metrics.Recorder // CloudWatch EMF; nil records nothing
	Now         func() time.Time  // nil: time.Now
}

// Deps are u with rt's logger, metrics and clock.
func (u Upstreams) Deps(rt launch.Runtime) Deps {
	return Deps{Facilitator: u.Facilitator, Ledger: u.Ledger, Balances: u.Balances, Logger: rt.Log(), Metrics: rt.Metrics, Now: rt.Clock()}
}

// WithDefaults fills the clock and the logger when they are nil.
func (d Deps) WithDefaults() Deps {
	if d.Now == nil {
		d.Now = time.Now
	}
	if d.Logger == nil {
		d.Logger = slog.Default()
	}
	return d
}
