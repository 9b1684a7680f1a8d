// Package x402report is the demo paid endpoint POST /x402/report (functions/x402-report):
// deterministic market-report content behind the paywall.
package x402report

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"time"

	"github.com/insforge/edge-functions-go/shared/config"
	"github.com/insforge/edge-functions-go/shared/facilitator"
	"github.com/insforge/edge-functions-go/shared/httpapi"
	"github.com/insforge/edge-functions-go/shared/insforge"
	"github.com/insforge/edge-functions-go/shared/ledger"
	"github.com/insforge/edge-functions-go/shared/metrics"
	"github.com/insforge/edge-functions-go/shared/paywall"
	"github.com/insforge/edge-functions-go/shared/x402"
	"github.com/insforge/edge-functions-go/shared/x402/onchain"
)

// Endpoint is the paid route.
const Endpoint = "/x402/report"

// Env is the function's configuration.
type Env struct {
	paywall.Env
	insforge.Config
	AllowedOrigins config.CSV `envconfig:"ALLOWED_ORIGINS" default:"*"`
}

// Validate checks both halves.
func (e Env) Validate() error {
	return errors.Join(e.Env.Validate(), e.Config.Validate())
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
	fac, err := e.Facilitator()
	if err != nil {
		return nil, err
	}
	if e.MockFacilitator {
		log.Warn("MOCK_OKX_FACILITATOR=true: payments are verified locally but never settled on-chain")
	}
	var bal paywall.BalanceReader
	if e.XLayerRPCURL != "" {
		// Dial does not connect for HTTP endpoints; every call carries its own deadline.
		ec, err := onchain.Dial(e.XLayerRPCURL)
		if err != nil {
			return nil, fmt.Errorf("XLAYER_RPC_URL: %w", err)
		}
		bal = onchain.Reader{Caller: ec, Timeout: 2 * time.Second}
	}
	return New(e, fac, ledger.New(c), bal, log, time.Now)
}

// New builds the handler from parts (tests inject them).
func New(e Env, fac facilitator.Facilitator, l paywall.Ledger, bal paywall.BalanceReader, log *slog.Logger, now func() time.Time) (http.Handler, error) {
	offer, err := x402.NewOffer(e.Params("Crypto market report (demo content)"))
	if err != nil {
		return nil, err
	}
	cfg := paywall.Config{
		Offer: offer, Facilitator: fac, Ledger: l, Endpoint: Endpoint,
		Summary: "Crypto Market Analysis report", Mock: e.MockFacilitator, Now: now,
		Metrics: metrics.New(os.Stdout, "x402-report"), Balances: bal,
	}
	e.Limits(&cfg)
	pw, err := paywall.New(cfg)
	if err != nil {
		return nil, err
	}
	return httpapi.Chain(Handler(now),
		httpapi.Recover(),
		httpapi.RequestID(log),
		httpapi.CORS{AllowedOrigins: e.AllowedOrigins, AllowMethods: []string{http.MethodPost, http.MethodOptions}}.Middleware(),
		httpapi.Limits(httpapi.DefaultMaxHeaderBytes, httpapi.DefaultMaxBodyBytes),
		httpapi.Methods(http.MethodPost),
		pw.Middleware(),
	), nil
}

// Asset is one line of the demo snapshot.
type Asset struct {
	Symbol    string  `json:"symbol"`
	Price     float64 `json:"price"`
	Change24h float64 `json:"change_24h"`
	Signal    string  `json:"signal"`
}

// Report is the paid content (the guide's shape, without the AI call).
type Report struct {
	Title       string  `json:"title"`
	GeneratedAt string  `json:"generated_at"`
	Model       string  `json:"model"`
	Assets      []Asset `json:"assets"`
	Analysis    string  `json:"analysis"`
}

// Body is the response.
type Body struct {
	Report Report `json:"report"`
	// Payment identifies the payment; the content is produced before it settles,
	// so the transaction is in the PAYMENT-RESPONSE receipt, not here (tx_hash is
	// set only when the payment had settled earlier).
	Payment struct {
		ID     string `json:"id"`
		TxHash string `json:"tx_hash,omitempty"`
		Payer  string `json:"payer"`
		Amount string `json:"amount"`
		Mock   bool   `json:"mock"`
	} `json:"payment"`
}

// snapshot is fixed demo data: the endpoint demonstrates payment, not analysis.
var snapshot = []Asset{
	{"BTC", 84250.00, 1.8, "bullish"},
	{"ETH", 1675.40, -0.6, "neutral"},
	{"SOL", 139.25, 3.4, "bullish"},
	{"AVAX", 23.10, -2.2, "bearish"},
	{"LINK", 15.85, 0.9, "neutral"},
}

const analysis = "## Market Overview\nDemo content: a fixed snapshot served after an x402 payment settled.\n\n" +
	"## Key Movers\n- SOL leads with +3.4%.\n- AVAX lags at -2.2%.\n\n## Signal Summary\nNo advice; this is a payment demo."

// Handler serves the report to a paid request.
func Handler(now func() time.Time) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, ok := paywall.PaymentFrom(r.Context())
		if !ok {
			// Only reachable if the handler is mounted without the paywall.
			httpapi.WriteError(w, r, httpapi.NewError(http.StatusPaymentRequired, "payment_required", "payment required"))
			return
		}
		var b Body
		b.Report = Report{
			Title: "Crypto Market Analysis", GeneratedAt: now().UTC().Format(time.RFC3339),
			Model: "none (deterministic demo)", Assets: snapshot, Analysis: analysis,
		}
		b.Payment.ID, b.Payment.TxHash, b.Payment.Payer, b.Payment.Amount, b.Payment.Mock = p.PaymentID, p.Transaction, p.Payer, p.Amount, p.Mock
		w.Header().Set("Cache-Control", "no-store")
		httpapi.WriteJSON(w, http.StatusOK, b)
	})
}
