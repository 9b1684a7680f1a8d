// Package x402pass sells passes (functions/x402-pass): POST /x402/pass/{product}
// is paid through the paywall like any x402 endpoint, and its delivery is an
// entitlement for the payer's wallet — one x402_entitlements row written in the
// same transaction that records the payment settled and delivered — plus an
// InsForge token for the wallet (sub = its CAIP-10 account id), so the payer
// reads what the pass unlocks straight from InsForge under Row Level Security.
package x402pass

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"regexp"
	"strings"
	"time"

	"github.com/insforge/edge-functions-go/shared/config"
	"github.com/insforge/edge-functions-go/shared/facilitator"
	"github.com/insforge/edge-functions-go/shared/httpapi"
	"github.com/insforge/edge-functions-go/shared/insforge"
	"github.com/insforge/edge-functions-go/shared/launch"
	"github.com/insforge/edge-functions-go/shared/ledger"
	"github.com/insforge/edge-functions-go/shared/metrics"
	"github.com/insforge/edge-functions-go/shared/paywall"
	"github.com/insforge/edge-functions-go/shared/signer"
	"github.com/insforge/edge-functions-go/shared/x402"
)

// Prefix is the route prefix; the product id follows it.
const Prefix = "/x402/pass/"

// VarProducts names the product table variable.
const VarProducts = "X402_PASS_PRODUCTS"

// Bounds of a product.
const (
	MaxProducts = 50
	MinDuration = 30 * time.Second
	MaxDuration = 366 * 24 * time.Hour
)

// Product is one pass on sale (an entry of X402_PASS_PRODUCTS).
type Product struct {
	ID string `json:"id"`
	// Price in the asset's atomic units (USDG has 6 decimals: "1000000" is 1 USDG).
	Price string `json:"price"`
	// Duration is a Go duration ("720h", "15m").
	Duration    string `json:"duration"`
	Description string `json:"description"`

	dur time.Duration
}

// productIDRE is the id the SQL accepts (x402_entitlements.product).
var productIDRE = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,63}$`)

// Config is the function's environment.
type Config struct {
	AllowedOrigins config.CSV `envconfig:"ALLOWED_ORIGINS" default:"*"`
	// Products is the JSON list of passes on sale.
	Products    string             `envconfig:"X402_PASS_PRODUCTS" required:"true"`
	Paywall     paywall.Config     `ignored:"true"`
	Facilitator facilitator.Config `ignored:"true"`
	InsForge    insforge.Config    `ignored:"true"`
	// Signer mints the payer's token (INSFORGE_JWT_SECRET, TOKEN_TTL).
	Signer signer.Config `ignored:"true"`
}

// Specs lists what config.Load fills.
func (c *Config) Specs() []any { return []any{c, &c.Paywall, &c.Facilitator, &c.InsForge, &c.Signer} }

// Validate checks the product table, naming X402_PASS_PRODUCTS.
func (c Config) Validate() error {
	_, err := ParseProducts(c.Products)
	return err
}

// ParseProducts reads X402_PASS_PRODUCTS: a non-empty JSON list of products with
// unique ids, positive integer prices and durations within bounds.
func ParseProducts(raw string) ([]Product, error) {
	var ps []Product
	dec := json.NewDecoder(strings.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&ps); err != nil || dec.More() {
		return nil, config.Invalid(VarProducts, `must be a JSON list of {"id","price","duration","description"}`)
	}
	if len(ps) == 0 || len(ps) > MaxProducts {
		return nil, config.Invalid(VarProducts, "must list between 1 and %d products", MaxProducts)
	}
	seen := map[string]bool{}
	for i := range ps {
		p := &ps[i]
		if !productIDRE.MatchString(p.ID) || seen[p.ID] {
			return nil, config.Invalid(VarProducts, "product %d: id must be unique, lower-case letters, digits, - or _ (at most 64)", i)
		}
		seen[p.ID] = true
		if x402.CheckPrice(p.Price) != nil {
			return nil, config.Invalid(VarProducts, "product %q: price must be a positive integer of atomic units", p.ID)
		}
		d, err := time.ParseDuration(p.Duration)
		if err != nil || d < MinDuration || d > MaxDuration || d%time.Second != 0 {
			return nil, config.Invalid(VarProducts, "product %q: duration must be whole seconds between %s and %s", p.ID, MinDuration, MaxDuration)
		}
		p.dur = d
		if strings.TrimSpace(p.Description) == "" {
			p.Description = "Pass " + p.ID
		}
	}
	return ps, nil
}

// Ledger is what a pass needs from the ledger: the paywall's steps, and the
// record and delivery steps that grant the entitlement in the same transaction
// (*ledger.Ledger).
type Ledger interface {
	paywall.Ledger
	SettleDeliveredGrant(ctx context.Context, id, holder, txHash string, mock bool, at time.Time, g ledger.Grant) (*ledger.Entitlement, error)
	DeliverGrant(ctx context.Context, id, holder string, at time.Time, g ledger.Grant) (*ledger.Entitlement, error)
}

// Deps are the collaborators Build makes from Config.
type Deps struct {
	Facilitator facilitator.Facilitator
	Ledger      Ledger
	Balances    paywall.BalanceReader
	Signer      *signer.Signer
	Logger      *slog.Logger
	Metrics     *metrics.Recorder
	Now         func() time.Time
	// Tune adjusts each product's paywall options (tests: backoffs, deadlines).
	Tune func(*paywall.Options)
}

// Build wires the function from the environment.
func Build(rt launch.Runtime) (http.Handler, error) {
	var c Config
	return paywall.Build(rt, c.Specs(), &c.Paywall, &c.Facilitator, &c.InsForge, func(up paywall.Upstreams) (http.Handler, error) {
		s, err := signer.New(c.Signer, signer.Options{Now: rt.Clock()})
		if err != nil {
			return nil, err
		}
		return New(c, Deps{Facilitator: up.Facilitator, Ledger: up.Ledger, Balances: up.Balances, Signer: s,
			Logger: rt.Log(), Metrics: rt.Metrics, Now: rt.Clock()})
	})
}

// New builds the handler: one paywall per product (its own price, endpoint and
// ledger grant), routed by the path's last segment.
func New(c Config, d Deps) (http.Handler, error) {
	products, err := ParseProducts(c.Products)
	if err != nil {
		return nil, err
	}
	if d.Signer == nil || d.Ledger == nil {
		return nil, fmt.Errorf("x402pass: Signer and Ledger are required")
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	if d.Logger == nil {
		d.Logger = slog.Default()
	}
	network := c.Paywall.Network
	if _, err := x402.ChainID(network); err != nil {
		return nil, &config.VarError{Var: "X402_NETWORK", Err: err}
	}
	passes := map[string]http.Handler{}
	for _, p := range products {
		offer, err := productOffer(c.Paywall, p)
		if err != nil {
			return nil, err
		}
		endpoint := Prefix + p.ID
		grant := ledger.Grant{Endpoint: endpoint, Product: p.ID, Duration: p.dur}
		o := paywall.Options{Offer: offer, Facilitator: d.Facilitator, Ledger: grantingLedger{Ledger: d.Ledger, grant: grant},
			Endpoint: endpoint, Summary: "pass " + p.ID + " (" + p.Duration + ")", Mock: c.Facilitator.MockFacilitator,
			Now: d.Now, Metrics: d.Metrics, Balances: d.Balances}
		c.Paywall.Limits(&o)
		if d.Tune != nil {
			d.Tune(&o)
		}
		pw, err := paywall.New(o)
		if err != nil {
			return nil, err
		}
		passes[p.ID] = pw.Wrap(deliver(p, network, d.Signer, d.Now))
	}
	route := httpapi.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		id := strings.TrimPrefix(r.URL.Path, Prefix)
		h, ok := passes[id]
		if !ok || !strings.HasPrefix(r.URL.Path, Prefix) {
			return httpapi.UnknownPass.Err()
		}
		h.ServeHTTP(w, r)
		return nil
	})
	return paywall.Edge(route, d.Logger, paywall.PostCORS(c.AllowedOrigins), httpapi.DefaultMaxBodyBytes, http.MethodPost), nil
}

// productOffer is what p sells: its price and description with the paywall's
// recipient, network and assets. The pass endpoint and its discovery listing
// both use it, so the document offers exactly what the 402 asks.
func productOffer(pc paywall.Config, p Product) (*x402.Offer, error) {
	offer, err := pc.Offer(p.Price, p.Description, "")
	if err != nil {
		return nil, config.Invalid(VarProducts, "product %q: %v", p.ID, err)
	}
	return offer, nil
}

// Listings are the passes on sale for the discovery document
// (GET /.well-known/x402), from the product table X402_PASS_PRODUCTS.
func Listings(pc paywall.Config, productsJSON string) ([]x402.Listing, error) {
	products, err := ParseProducts(productsJSON)
	if err != nil {
		return nil, err
	}
	return x402.ListEach(products, func(p Product) (x402.Listing, error) {
		offer, err := productOffer(pc, p)
		return x402.Listing{Method: http.MethodPost, Path: Prefix + p.ID, Offer: offer, OutputSchema: bodySchema}, err
	})
}

// bodySchema is the JSON Schema of Body, published in the discovery document.
var bodySchema = json.RawMessage(`{"type":"object","required":["token","token_type","expires_in","expires_at","pass"],"properties":{` +
	`"token":{"type":"string"},"token_type":{"type":"string"},"expires_in":{"type":"integer"},"expires_at":{"type":"integer"},` +
	`"pass":{"type":"object","required":["product","subject","duration_seconds","valid_until","payment_id","mock"]}}}`)

// grantingLedger is the ledger of one product: its record and delivery steps
// grant the product's entitlement in the same transaction (the paywall itself
// is unchanged: it records a payment through its Ledger, whatever that writes).
// They keep the paywall's holder, so the leases and the re-read of a lost
// reply work as for any paid endpoint.
type grantingLedger struct {
	Ledger
	grant ledger.Grant
}

func (l grantingLedger) SettleDelivered(ctx context.Context, id, holder, txHash string, mock bool, at time.Time) error {
	_, err := l.Ledger.SettleDeliveredGrant(ctx, id, holder, txHash, mock, at, l.grant)
	return err
}

func (l grantingLedger) Deliver(ctx context.Context, id, holder string, at time.Time) error {
	_, err := l.Ledger.DeliverGrant(ctx, id, holder, at, l.grant)
	return err
}

// Body is the paid response.
type Body struct {
	Token     string `json:"token"`
	TokenType string `json:"token_type"`
	ExpiresIn int64  `json:"expires_in"`
	ExpiresAt int64  `json:"expires_at"`
	Pass      Pass   `json:"pass"`
}

// Pass describes what was bought. Its exact starts_at and ends_at (a renewal
// starts where the active pass ends) are in the wallet's x402_entitlements
// row, readable with the token; the pass lasts at least until ValidUntil.
type Pass struct {
	Product         string `json:"product"`
	Subject         string `json:"subject"`
	DurationSeconds int64  `json:"duration_seconds"`
	ValidUntil      int64  `json:"valid_until"`
	PaymentID       string `json:"payment_id"`
	Mock            bool   `json:"mock"`
}

// deliver is the paid handler: a token for the payer's wallet. It runs before
// the payment is recorded; the entitlement it stands for is written with the
// record, and starts no earlier than now, so exp = min(now + TOKEN_TTL,
// now + duration) never outlives the pass.
func deliver(p Product, network string, s *signer.Signer, now func() time.Time) http.Handler {
	return httpapi.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		pay, ok := paywall.PaymentFrom(r.Context())
		if !ok {
			return httpapi.PaymentRequired.Err()
		}
		account := network + ":" + strings.ToLower(pay.Payer)
		until := now().Add(p.dur)
		tok, err := s.MintWallet(account, until)
		if err != nil {
			return fmt.Errorf("mint pass token: %w", err)
		}
		w.Header().Set("Cache-Control", "no-store")
		httpapi.WriteJSON(w, http.StatusOK, Body{Token: tok.Value, TokenType: "Bearer", ExpiresIn: int64(tok.TTL / time.Second),
			ExpiresAt: tok.ExpiresAt.Unix(), Pass: Pass{Product: p.ID, Subject: account, DurationSeconds: int64(p.dur / time.Second),
				ValidUntil: until.Unix(), PaymentID: pay.PaymentID, Mock: pay.Mock}})
		return nil
	})
}
