package paywall

import (
	"errors"
	"fmt"
	"strings"

	"github.com/ethereum/go-ethereum/common"

	"github.com/insforge/edge-functions-go/shared/config"
	"github.com/insforge/edge-functions-go/shared/facilitator"
	"github.com/insforge/edge-functions-go/shared/x402"
)

// Config is the x402 configuration, loaded with config.Load. The facilitator's
// variables are facilitator.Config, loaded beside it. The price is not here:
// each function prices its own resources (the report's X402_PRICE, the gateway's
// routes, the pass products) and passes it to Params.
type Config struct {
	PaymentRecipient  string `envconfig:"PAYMENT_RECIPIENT" required:"true"`
	Network           string `envconfig:"X402_NETWORK" default:"eip155:196"`
	Asset             string `envconfig:"X402_ASSET" default:"0x4ae46a509f6b1d9056937ba4500cb143933d2dc8"`
	AssetName         string `envconfig:"X402_ASSET_NAME" default:"Global Dollar"`
	AssetVersion      string `envconfig:"X402_ASSET_VERSION" default:"1"`
	MaxTimeoutSeconds int    `envconfig:"X402_MAX_TIMEOUT_SECONDS" default:"300"`
	// ExtraAssets are accepted beside X402_ASSET: symbols of x402.KnownAssets
	// on X402_NETWORK (e.g. USDT0), each priced at the same value in its own decimals.
	ExtraAssets config.CSV `envconfig:"X402_EXTRA_ASSETS"`
	// Abuse bounds in front of facilitator verify (docs/x402.md, "Limits").
	PayerPerMinute        int `envconfig:"X402_PAYER_PER_MINUTE" default:"20"`
	IPPerMinute           int `envconfig:"X402_IP_PER_MINUTE" default:"60"`
	MaxConcurrentUpstream int `envconfig:"X402_MAX_CONCURRENT_UPSTREAM" default:"16"`
	// XLayerRPCURL enables the balanceOf(payer) check before verify.
	XLayerRPCURL string `envconfig:"XLAYER_RPC_URL"`
}

// Limits copies the abuse bounds into o.
func (e Config) Limits(o *Options) {
	o.PayerPerMinute, o.IPPerMinute, o.MaxConcurrentUpstream = e.PayerPerMinute, e.IPPerMinute, e.MaxConcurrentUpstream
}

// Validate checks every variable, naming the one at fault.
func (e Config) Validate() error {
	if !strings.HasPrefix(e.PaymentRecipient, "0x") || !common.IsHexAddress(e.PaymentRecipient) ||
		common.HexToAddress(e.PaymentRecipient) == (common.Address{}) {
		return &config.VarError{Var: "PAYMENT_RECIPIENT", Err: errors.New("PAYMENT_RECIPIENT must be a non-zero 0x-prefixed EVM address")}
	}
	if _, err := x402.ChainID(e.Network); err != nil {
		return &config.VarError{Var: "X402_NETWORK", Err: fmt.Errorf("X402_NETWORK: %w", err)}
	}
	if !strings.HasPrefix(e.Asset, "0x") || !common.IsHexAddress(e.Asset) {
		return config.Invalid("X402_ASSET", "must be a 0x-prefixed token address")
	}
	for _, v := range []struct {
		name string
		val  int
	}{{"X402_PAYER_PER_MINUTE", e.PayerPerMinute}, {"X402_IP_PER_MINUTE", e.IPPerMinute}, {"X402_MAX_CONCURRENT_UPSTREAM", e.MaxConcurrentUpstream}} {
		if v.val <= 0 {
			return config.Invalid(v.name, "must be a positive integer")
		}
	}
	if e.XLayerRPCURL != "" {
		if _, err := config.CheckURL("XLAYER_RPC_URL", e.XLayerRPCURL); err != nil {
			return err
		}
	}
	if len(e.ExtraAssets) > 0 {
		if _, ok := x402.LookupAsset(e.Network, e.Asset); !ok {
			return config.Invalid("X402_EXTRA_ASSETS", "needs X402_ASSET to be a known token on %s (its decimals convert the price)", e.Network)
		}
		for _, sym := range e.ExtraAssets {
			if _, ok := x402.LookupAsset(e.Network, sym); !ok {
				return config.Invalid("X402_EXTRA_ASSETS", "lists %q, not a known token on %s (known: %s)", sym, e.Network, knownSymbols(e.Network))
			}
		}
	}
	if _, err := x402.NewOffer(e.Params(e.wholeToken(), "")); err != nil {
		var pe *x402.ParamError
		if errors.As(err, &pe) && offerVars[pe.Param] != "" {
			return fmt.Errorf("%s: %w", offerVars[pe.Param], err)
		}
		return err
	}
	return nil
}

// offerVars names the variable behind each x402.ParamError.Param that the
// checks above do not already cover (the price is the caller's).
var offerVars = map[string]string{
	"maxTimeoutSeconds": "X402_MAX_TIMEOUT_SECONDS",
	"domain":            "X402_ASSET_NAME / X402_ASSET_VERSION",
	"otherAssets":       "X402_EXTRA_ASSETS",
}

func knownSymbols(network string) string {
	var out []string
	for _, a := range x402.KnownAssets() {
		if a.Network == network {
			out = append(out, a.Symbol)
		}
	}
	return strings.Join(out, ", ")
}

// wholeToken is one whole unit of X402_ASSET in atomic units ("1" when its
// decimals are unknown, hence no extra assets): a price that converts exactly
// into every accepted asset, so Validate checks the rest of the offer whatever
// the functions charge.
func (e Config) wholeToken() string {
	if a, ok := x402.LookupAsset(e.Network, e.Asset); ok {
		return "1" + strings.Repeat("0", a.Decimals)
	}
	return "1"
}

// Params returns the offer parameters for a resource sold at price (atomic
// units of X402_ASSET): X402_ASSET first, then X402_EXTRA_ASSETS (from
// x402.KnownAssets; Validate refuses unknown ones).
func (e Config) Params(price, description string) x402.Params {
	p := x402.Params{
		Network: e.Network, Asset: e.Asset, AssetName: e.AssetName, AssetVersion: e.AssetVersion,
		PayTo: e.PaymentRecipient, Price: price, MaxTimeoutSeconds: e.MaxTimeoutSeconds,
		Description: description, MimeType: "application/json",
	}
	if primary, ok := x402.LookupAsset(e.Network, e.Asset); ok {
		p.Decimals = primary.Decimals
	}
	for _, sym := range e.ExtraAssets {
		if a, ok := x402.LookupAsset(e.Network, sym); ok {
			p.OtherAssets = append(p.OtherAssets, x402.AssetParams{Asset: a.Address, Name: a.Name, Version: a.Version, Decimals: a.Decimals})
		}
	}
	return p
}

// Offer is the offer of a resource sold at price (atomic units of X402_ASSET)
// with description and MIME type (empty: application/json).
func (e Config) Offer(price, description, mimeType string) (*x402.Offer, error) {
	p := e.Params(price, description)
	if mimeType != "" {
		p.MimeType = mimeType
	}
	return x402.NewOffer(p)
}

// Needs are what every offer of this configuration needs from the
// facilitator: the exact scheme on X402_NETWORK for each accepted asset.
func (e Config) Needs() []facilitator.Need {
	p := e.Params(e.wholeToken(), "")
	needs := []facilitator.Need{{Scheme: x402.SchemeExact, Network: e.Network, Asset: p.Asset, NetworkVar: "X402_NETWORK", AssetVar: "X402_ASSET"}}
	for _, a := range p.OtherAssets {
		needs = append(needs, facilitator.Need{Scheme: x402.SchemeExact, Network: e.Network, Asset: a.Asset,
			NetworkVar: "X402_NETWORK", AssetVar: "X402_EXTRA_ASSETS"})
	}
	return needs
}
