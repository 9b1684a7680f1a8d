package x402reconcile

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"time"

	"github.com/insforge/edge-functions-go/shared/config"
	"github.com/insforge/edge-functions-go/shared/facilitator"
	"github.com/insforge/edge-functions-go/shared/insforge"
	"github.com/insforge/edge-functions-go/shared/launch"
	"github.com/insforge/edge-functions-go/shared/ledger"
	"github.com/insforge/edge-functions-go/shared/metrics"
	"github.com/insforge/edge-functions-go/shared/x402/onchain"
)

// Config is the reconciler function's configuration: its own variables and the
// libraries' configurations, each loaded as its own spec (see Specs).
type Config struct {
	Facilitator facilitator.Config `ignored:"true"`
	InsForge    insforge.Config    `ignored:"true"`
	// XLayerRPCURL enables authorizationState checks; without it, rows with no
	// transaction hash cannot be decided (they stay pending and are logged).
	XLayerRPCURL string `envconfig:"XLAYER_RPC_URL"`
	// After must exceed the paywall's settle deadline (20 s) by a margin.
	After time.Duration `envconfig:"X402_RECONCILE_AFTER" default:"2m"`
	// LogsLookback is how many blocks eth_getLogs searches for an authorization.
	LogsLookback uint64 `envconfig:"X402_LOGS_LOOKBACK_BLOCKS" default:"10000"`
}

// Specs lists what config.Load fills: c and its library configurations.
func (c *Config) Specs() []any { return []any{c, &c.Facilitator, &c.InsForge} }

// Validate names the variable at fault (the libraries' configurations validate
// themselves).
func (e Config) Validate() error {
	var errs []error
	if e.XLayerRPCURL != "" {
		if _, err := config.CheckURL("XLAYER_RPC_URL", e.XLayerRPCURL); err != nil {
			errs = append(errs, err)
		}
	}
	if e.LogsLookback == 0 {
		errs = append(errs, config.Invalid("X402_LOGS_LOOKBACK_BLOCKS", "must be positive"))
	}
	if e.After < time.Minute {
		errs = append(errs, config.Invalid("X402_RECONCILE_AFTER", "must be at least 1m: younger rows may still be settling"))
	}
	return errors.Join(errs...)
}

// Build wires the scheduled task from the environment.
func Build(rt launch.Runtime) (func(context.Context) error, error) {
	log := rt.Log()
	var e Config
	if err := config.Load(e.Specs()...); err != nil {
		return nil, err
	}
	l, err := ledger.FromConfig(e.InsForge)
	if err != nil {
		return nil, err
	}
	fac, err := facilitator.FromConfig(e.Facilitator, log)
	if err != nil {
		return nil, err
	}
	d := Deps{Store: l, Facilitator: fac, Logger: log, Metrics: rt.Metrics, Now: rt.Now}
	if e.XLayerRPCURL != "" {
		// Dial does not connect for HTTP endpoints; calls carry their own deadline.
		ec, err := onchain.Dial(e.XLayerRPCURL)
		if err != nil {
			return nil, fmt.Errorf("XLAYER_RPC_URL: %w", err)
		}
		d.Chain = onchain.Reader{Caller: ec}
	} else {
		log.Warn("XLAYER_RPC_URL is not set: pending payments without a transaction hash cannot be resolved")
	}
	r := New(e, d)
	return func(ctx context.Context) error {
		rep, err := r.Run(ctx)
		log.Info("reconcile run", slog.Int("checked", rep.Checked), slog.Int("settled", rep.Settled),
			slog.Int("failed", rep.Failed), slog.Int("unresolved", rep.Unresolved), slog.Int("confirmed", rep.Confirmed),
			slog.Int("needs_review", rep.NeedsReview), slog.Int("cancelled", rep.Cancelled), slog.Int("reverted", rep.Reverted))
		Record(rt.Metrics, rep, err)
		return err
	}, nil
}

// Record emits one run's metrics: a run that examined the ledger reports the
// oldest pending age (0 included, so the alarm sees data while all is well); a
// run that failed before reading any row reports only the failure (a 0 age
// would claim nothing is stuck).
func Record(m *metrics.Recorder, rep Report, err error) {
	if err == nil || rep.Checked > 0 {
		m.Add(MetricOldestPendingMinutes, math.Floor(rep.OldestUnresolved.Minutes()), "None", nil)
	}
	if err != nil {
		m.Count(MetricRunsFailed, nil)
	}
}
