// Package x402payments serves GET /x402/payments (functions/x402-payments): the
// latest 50 ledger rows and the totals, for dashboards' first paint; and the
// live dashboard page itself under GET /x402/dashboard.
package x402payments

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strings"

	"github.com/insforge/edge-functions-go/shared/config"
	"github.com/insforge/edge-functions-go/shared/httpapi"
	"github.com/insforge/edge-functions-go/shared/insforge"
	"github.com/insforge/edge-functions-go/shared/launch"
	"github.com/insforge/edge-functions-go/shared/ledger"
	"github.com/insforge/edge-functions-go/shared/x402payments/dashboard"
)

// Latest is how many rows are returned.
const Latest = 50

// Config is the function's configuration: its own variables and the libraries'
// configurations, each loaded as its own spec (see Specs).
type Config struct {
	AllowedOrigins config.CSV       `envconfig:"ALLOWED_ORIGINS" default:"*"`
	InsForge       insforge.Config  `ignored:"true"`
	Dashboard      dashboard.Config `ignored:"true"`
}

// Specs lists what config.Load fills: c and its library configurations.
func (c *Config) Specs() []any { return []any{c, &c.InsForge, &c.Dashboard} }

// Deps are the collaborators Build makes from Config (tests inject them).
type Deps struct {
	Source Source
	Logger *slog.Logger
}

// Source is what the endpoint reads.
type Source interface {
	List(ctx context.Context, n int) ([]ledger.Payment, error)
	Stats(ctx context.Context) (ledger.Stats, error)
}

// Build wires the function from the environment.
func Build(rt launch.Runtime) (http.Handler, error) {
	var c Config
	if err := config.Load(c.Specs()...); err != nil {
		return nil, err
	}
	l, err := ledger.FromConfig(c.InsForge)
	if err != nil {
		return nil, err
	}
	page, err := dashboard.Handler(c.Dashboard)
	if err != nil {
		return nil, fmt.Errorf("configuration: %w", err)
	}
	return WithDashboard(New(c, Deps{Source: l, Logger: rt.Log()}), page, rt.Log()), nil
}

// WithDashboard routes GET/HEAD under dashboard.Path to page and the rest to api.
func WithDashboard(api, page http.Handler, log *slog.Logger) http.Handler {
	page = httpapi.Chain(page,
		httpapi.Recover(),
		httpapi.RequestID(log),
		httpapi.Limits(httpapi.DefaultMaxHeaderBytes, httpapi.DefaultMaxBodyBytes),
		httpapi.Methods(http.MethodGet, http.MethodHead),
	)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == dashboard.Path || strings.HasPrefix(r.URL.Path, dashboard.Path+"/") {
			page.ServeHTTP(w, r)
			return
		}
		api.ServeHTTP(w, r)
	})
}

// corsAllowHeaders and corsExposeHeaders are paywall.CORSAllowHeaders and
// paywall.CORSExposeHeaders (a test keeps them equal): this GET endpoint has
// always answered the paid endpoints' lists, and importing the paywall would
// link go-ethereum into a function that does not need it.
var (
	corsAllowHeaders  = []string{"Authorization", "Content-Type", "PAYMENT-SIGNATURE", "X-PAYMENT", "X-Request-Id", "Access-Control-Expose-Headers"}
	corsExposeHeaders = []string{"PAYMENT-REQUIRED", "PAYMENT-RESPONSE", "X-PAYMENT-RESPONSE", "X-Request-Id", "Retry-After"}
)

// New builds the handler chain.
func New(c Config, d Deps) http.Handler {
	log := d.Logger
	if log == nil {
		log = slog.Default()
	}
	return httpapi.Chain(Handler(d.Source),
		httpapi.Recover(),
		httpapi.RequestID(log),
		httpapi.CORS{AllowedOrigins: c.AllowedOrigins, AllowMethods: []string{http.MethodGet, http.MethodOptions},
			AllowHeaders: corsAllowHeaders, ExposeHeaders: corsExposeHeaders}.Middleware(),
		httpapi.Limits(httpapi.DefaultMaxHeaderBytes, httpapi.DefaultMaxBodyBytes),
		httpapi.Methods(http.MethodGet, http.MethodHead),
	)
}

// PassSource is the optional part of a Source that counts passes (*ledger.Ledger).
type PassSource interface {
	PassStats(ctx context.Context) ([]ledger.PassStats, error)
}

// Body is the response.
type Body struct {
	Payments []ledger.Payment `json:"payments"`
	Stats    ledger.Stats     `json:"stats"`
	// Passes sold and active per product; omitted when they cannot be read (a
	// project without the pass tables still gets its payments).
	Passes []ledger.PassStats `json:"passes,omitempty"`
}

// Handler answers with the latest rows and the stats.
func Handler(src Source) http.Handler {
	return httpapi.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		rows, err := src.List(r.Context(), Latest)
		if err != nil {
			return httpapi.LedgerUnavailable.Cause(err)
		}
		st, err := src.Stats(r.Context())
		if err != nil {
			return httpapi.LedgerUnavailable.Cause(err)
		}
		b := Body{Payments: rows, Stats: st}
		if ps, ok := src.(PassSource); ok {
			if b.Passes, err = ps.PassStats(r.Context()); err != nil {
				httpapi.Logger(r.Context()).Warn("pass stats unavailable", slog.String("error", err.Error()))
			}
		}
		w.Header().Set("Cache-Control", "no-store")
		httpapi.WriteJSON(w, http.StatusOK, b)
		return nil
	})
}
