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
	"github.com/insforge/edge-functions-go/shared/ledger"
	"github.com/insforge/edge-functions-go/shared/x402payments/dashboard"
)

// Latest is how many rows are returned.
const Latest = 50

// Env is the function's configuration.
type Env struct {
	insforge.Config
	AllowedOrigins config.CSV `envconfig:"ALLOWED_ORIGINS" default:"*"`
}

// Source is what the endpoint reads.
type Source interface {
	List(ctx context.Context, n int) ([]ledger.Payment, error)
	Stats(ctx context.Context) (ledger.Stats, error)
}

// Build wires the function from the environment.
func Build(log *slog.Logger) (http.Handler, error) {
	var e Env
	if err := config.Load(&e); err != nil {
		return nil, err
	}
	c, err := insforge.NewFromConfig(e.Config)
	if err != nil {
		return nil, err
	}
	var dc dashboard.Config
	if err := config.Load(&dc); err != nil {
		return nil, err
	}
	page, err := dashboard.Handler(dc)
	if err != nil {
		return nil, fmt.Errorf("configuration: %w", err)
	}
	return WithDashboard(New(ledger.New(c), e.AllowedOrigins, log), page, log), nil
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

// New builds the handler chain.
func New(src Source, origins []string, log *slog.Logger) http.Handler {
	return httpapi.Chain(Handler(src),
		httpapi.Recover(),
		httpapi.RequestID(log),
		httpapi.CORS{AllowedOrigins: origins, AllowMethods: []string{http.MethodGet, http.MethodOptions}}.Middleware(),
		httpapi.Limits(httpapi.DefaultMaxHeaderBytes, httpapi.DefaultMaxBodyBytes),
		httpapi.Methods(http.MethodGet, http.MethodHead),
	)
}

// Body is the response.
type Body struct {
	Payments []ledger.Payment `json:"payments"`
	Stats    ledger.Stats     `json:"stats"`
}

// Handler answers with the latest rows and the stats.
func Handler(src Source) http.Handler {
	return httpapi.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		rows, err := src.List(r.Context(), Latest)
		if err != nil {
			return httpapi.Wrap(http.StatusServiceUnavailable, "ledger_unavailable", "the payment ledger is unavailable", err)
		}
		st, err := src.Stats(r.Context())
		if err != nil {
			return httpapi.Wrap(http.StatusServiceUnavailable, "ledger_unavailable", "the payment ledger is unavailable", err)
		}
		w.Header().Set("Cache-Control", "no-store")
		httpapi.WriteJSON(w, http.StatusOK, Body{Payments: rows, Stats: st})
		return nil
	})
}
