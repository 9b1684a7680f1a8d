package paywall

import (
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/insforge/edge-functions-go/shared/config"
	"github.com/insforge/edge-functions-go/shared/facilitator"
	"github.com/insforge/edge-functions-go/shared/insforge"
	"github.com/insforge/edge-functions-go/shared/launch"
	"github.com/insforge/edge-functions-go/shared/ledger"
	"github.com/insforge/edge-functions-go/shared/metrics"
	"github.com/insforge/edge-functions-go/shared/x402/onchain"
)

// Upstreams are the money path's collaborators, built from configuration at
// cold start by every paid function: the ledger in InsForge, the facilitator
// and, when XLAYER_RPC_URL is set, the balance reader.
type Upstreams struct {
	Ledger      *ledger.Ledger
	Facilitator facilitator.Facilitator
	Balances    BalanceReader // nil: no balanceOf check
}

// UpstreamsFromConfig builds the Upstreams of a paid function.
func UpstreamsFromConfig(c Config, fc facilitator.Config, ic insforge.Config, log *slog.Logger) (Upstreams, error) {
	l, err := ledger.FromConfig(ic)
	if err != nil {
		return Upstreams{}, err
	}
	fac, err := facilitator.FromConfig(fc, log)
	if err != nil {
		return Upstreams{}, err
	}
	// The facilitator's /supported is checked in the background; a mismatch
	// known within the wait fails the cold start naming the variable, an
	// unreachable facilitator does not hold it up.
	checked := facilitator.CheckCapabilities(fac, c.Needs(), log)
	if err := checked.WaitFirst(facilitator.CapabilitiesInitWait); err != nil {
		return Upstreams{}, err
	}
	up := Upstreams{Ledger: l, Facilitator: checked}
	if c.XLayerRPCURL != "" {
		// Dial does not connect for HTTP endpoints; every call carries its own deadline.
		ec, err := onchain.Dial(c.XLayerRPCURL)
		if err != nil {
			return Upstreams{}, fmt.Errorf("XLAYER_RPC_URL: %w", err)
		}
		up.Balances = onchain.Reader{Caller: ec, Timeout: 2 * time.Second}
	}
	return up, nil
}

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
