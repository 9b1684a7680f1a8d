// Package x402report is the demo paid endpoint POST /x402/report (functions/x402-report):
// deterministic market-report content behind the paywall.
package x402report

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/insforge/edge-functions-go/shared/config"
	"github.com/insforge/edge-functions-go/shared/facilitator"
	"github.com/insforge/edge-functions-go/shared/httpapi"
	"github.com/insforge/edge-functions-go/shared/insforge"
	"github.com/insforge/edge-functions-go/shared/launch"
	"github.com/insforge/edge-functions-go/shared/paywall"
	"github.com/insforge/edge-functions-go/shared/x402"
	"github.com/insforge/edge-functions-go/shared/x402gateway"
	"github.com/insforge/edge-functions-go/shared/x402pass"
)

// Endpoint is the paid route.
const Endpoint = "/x402/report"

// Config is the function's configuration: its own variables and the libraries'
// configurations, each loaded as its own spec (see Specs).
type Config struct {
	AllowedOrigins config.CSV `envconfig:"ALLOWED_ORIGINS" default:"*"`
	// Price is the report's price in atomic units of X402_ASSET (USDG has 6
	// decimals: "1" is 0.000001 USDG). Only the report has one price.
	Price string `envconfig:"X402_PRICE" default:"1"`
	// GatewayRoutes is the gateway's route table (X402_GATEWAY_ROUTES), read
	// only to list its routes in GET /.well-known/x402; empty: no gateway.
	GatewayRoutes string `envconfig:"X402_GATEWAY_ROUTES"`
	// PassProducts is the pass function's product table (X402_PASS_PRODUCTS),
	// read only to list the passes in GET /.well-known/x402; empty: no passes.
	PassProducts string             `envconfig:"X402_PASS_PRODUCTS"`
	Paywall      paywall.Config     `ignored:"true"`
	Facilitator  facilitator.Config `ignored:"true"`
	InsForge     insforge.Config    `ignored:"true"`
}

// Specs lists what config.Load fills: c and its library configurations.
func (c *Config) Specs() []any { return []any{c, &c.Paywall, &c.Facilitator, &c.InsForge} }

// VarPrice names the report's price variable.
const VarPrice = "X402_PRICE"

// Validate checks the report's own variables, naming the one at fault.
func (c Config) Validate() error {
	if err := x402.CheckPrice(c.Price); err != nil {
		return config.Invalid(VarPrice, "must be a positive integer of atomic units of X402_ASSET")
	}
	return nil
}

// Deps are the collaborators Build makes from Config (tests inject them).
type Deps = paywall.Deps

// Build wires the function from the environment.
func Build(rt launch.Runtime) (http.Handler, error) {
	var c Config
	return paywall.Build(rt, c.Specs(), &c.Paywall, &c.Facilitator, &c.InsForge, func(up paywall.Upstreams) (http.Handler, error) {
		return New(c, up.Deps(rt))
	})
}

// New builds the handler from parts: the paid report, and the discovery
// document at x402.DiscoveryPath.
func New(c Config, d Deps) (http.Handler, error) {
	offer, err := c.Paywall.Offer(c.Price, "Crypto market report (demo content)", "")
	if err != nil {
		// The paywall's variables passed their own checks: a price refused
		// here has no exact amount in an extra asset's decimals.
		var pe *x402.ParamError
		if errors.As(err, &pe) && pe.Param == "price" {
			return nil, &config.VarError{Var: VarPrice, Err: fmt.Errorf("%s: %w", VarPrice, err)}
		}
		return nil, err
	}
	listings, err := Listings(c, offer)
	if err != nil {
		return nil, err
	}
	disc, err := newDiscovery(listings)
	if err != nil {
		return nil, err
	}
	d = d.WithDefaults()
	now, log := d.Now, d.Logger
	cfg := paywall.Options{
		Offer: offer, Facilitator: d.Facilitator, Ledger: d.Ledger, Endpoint: Endpoint,
		Summary: "Crypto Market Analysis report", Mock: c.Facilitator.MockFacilitator, Now: now,
		Metrics: d.Metrics, Balances: d.Balances,
	}
	c.Paywall.Limits(&cfg)
	pw, err := paywall.New(cfg)
	if err != nil {
		return nil, err
	}
	paid := paywall.Edge(pw.Wrap(Handler(now)), log, paywall.PostCORS(c.AllowedOrigins), httpapi.DefaultMaxBodyBytes, http.MethodPost)
	// The discovery document is public: any origin, no credentials.
	doc := paywall.Edge(disc, log, httpapi.CORS{AllowedOrigins: []string{"*"},
		AllowMethods: []string{http.MethodGet, http.MethodHead, http.MethodOptions}, ExposeHeaders: []string{"ETag", "X-Request-Id"}},
		httpapi.DefaultMaxBodyBytes, http.MethodGet, http.MethodHead)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == x402.DiscoveryPath {
			doc.ServeHTTP(w, r)
			return
		}
		paid.ServeHTTP(w, r)
	}), nil
}

// Listings are the deployment's priced resources for GET /.well-known/x402:
// the report, then the gateway's routes when X402_GATEWAY_ROUTES is set, then
// the passes when X402_PASS_PRODUCTS is set. Each feature's listings come from
// its own package, built from the same offer its endpoint's 402 makes.
// Further paid features append theirs here.
func Listings(c Config, report *x402.Offer) ([]x402.Listing, error) {
	out := []x402.Listing{{Method: http.MethodPost, Path: Endpoint, Offer: report, OutputSchema: reportSchema}}
	if strings.TrimSpace(c.GatewayRoutes) != "" {
		gw, err := x402gateway.Listings(c.Paywall, c.GatewayRoutes)
		if err != nil {
			return nil, err
		}
		out = append(out, gw...)
	}
	if strings.TrimSpace(c.PassProducts) != "" {
		passes, err := x402pass.Listings(c.Paywall, c.PassProducts)
		if err != nil {
			return nil, err
		}
		out = append(out, passes...)
	}
	return out, nil
}

// reportSchema is the JSON Schema of Body, published in the discovery document.
var reportSchema = json.RawMessage(`{"type":"object","required":["report","payment"],"properties":{` +
	`"report":{"type":"object","required":["title","generated_at","assets","analysis"]},` +
	`"payment":{"type":"object","required":["id","payer","amount","mock"]}}}`)

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
			httpapi.WriteError(w, r, httpapi.PaymentRequired.Err())
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
