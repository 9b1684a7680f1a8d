package x402

import (
	"errors"
	"fmt"
	"math/big"
	"strconv"
	"strings"

	"github.com/ethereum/go-ethereum/common"
)

// Params describe what a paid route charges. They come from configuration.
type Params struct {
	Network           string // CAIP-2, e.g. eip155:196
	Asset             string // EIP-3009 token address: the first accepted asset
	AssetName         string // EIP-712 domain name
	AssetVersion      string // EIP-712 domain version
	PayTo             string // recipient address
	Price             string // atomic units of Asset, decimal
	MaxTimeoutSeconds int
	Description       string
	MimeType          string
	// Decimals are Asset's; required (> 0) only when OtherAssets is not empty.
	Decimals int
	// OtherAssets are accepted too, each priced at Price converted exactly
	// from Decimals to its own (a price that does not convert is refused).
	OtherAssets []AssetParams
}

// AssetParams describe one more accepted EIP-3009 token.
type AssetParams struct {
	Asset    string // token address
	Name     string // EIP-712 domain name
	Version  string // EIP-712 domain version
	Decimals int
}

// Offer is what a route accepts: one requirement per asset (same network,
// recipient and timeout), validated and normalised once. Checks always run
// against these copies, never against what a client echoes.
type Offer struct {
	accepts     []accepted // the first is the primary asset
	chainID     *big.Int
	payTo       common.Address
	description string
	mimeType    string
}

// accepted is one asset of an offer.
type accepted struct {
	req   Requirements
	price *big.Int
	asset common.Address
}

// ParamError names the offer parameter NewOffer refused, so a caller can point
// at its own setting without reading the message. Param is one of "asset",
// "payTo", "price", "domain" (the EIP-712 name and version),
// "maxTimeoutSeconds" or "otherAssets".
type ParamError struct {
	Param string
	Err   error
}

func (e *ParamError) Error() string { return e.Err.Error() }
func (e *ParamError) Unwrap() error { return e.Err }

// NewOffer validates p. Addresses are emitted checksummed (what @x402/evm signs).
// A refused parameter is reported as a *ParamError.
func NewOffer(p Params) (*Offer, error) {
	chainID, err := ChainID(p.Network)
	if err != nil {
		return nil, err
	}
	if !common.IsHexAddress(p.PayTo) || !strings.HasPrefix(p.PayTo, "0x") {
		return nil, &ParamError{"payTo", fmt.Errorf("x402: payTo %q is not a 0x address", p.PayTo)}
	}
	payTo := common.HexToAddress(p.PayTo)
	if payTo == (common.Address{}) {
		return nil, &ParamError{"payTo", errors.New("x402: payTo is the zero address")}
	}
	price, err := parsePrice(p.Price)
	if err != nil {
		return nil, &ParamError{"price", err}
	}
	if p.MaxTimeoutSeconds < 10 || p.MaxTimeoutSeconds > 3600 {
		return nil, &ParamError{"maxTimeoutSeconds", fmt.Errorf("x402: maxTimeoutSeconds %d is outside 10..3600", p.MaxTimeoutSeconds)}
	}
	mime := p.MimeType
	if mime == "" {
		mime = "application/json"
	}
	o := &Offer{chainID: chainID, payTo: payTo, description: p.Description, mimeType: mime}
	add := func(param, addr, name, version string, amount *big.Int) error {
		if !common.IsHexAddress(addr) || !strings.HasPrefix(addr, "0x") {
			return &ParamError{param, fmt.Errorf("x402: asset %q is not a 0x address", addr)}
		}
		if name == "" || version == "" {
			if param == "asset" {
				param = "domain"
			}
			return &ParamError{param, errors.New("x402: the EIP-712 domain name and version are required")}
		}
		asset := common.HexToAddress(addr)
		for _, a := range o.accepts {
			if a.asset == asset {
				return &ParamError{param, fmt.Errorf("x402: asset %s is listed twice", asset.Hex())}
			}
		}
		o.accepts = append(o.accepts, accepted{
			req: Requirements{
				Scheme: SchemeExact, Network: p.Network, Amount: amount.String(), Asset: asset.Hex(),
				PayTo: payTo.Hex(), MaxTimeoutSeconds: p.MaxTimeoutSeconds, Extra: &Extra{Name: name, Version: version},
			},
			price: amount, asset: asset,
		})
		return nil
	}
	if err := add("asset", p.Asset, p.AssetName, p.AssetVersion, price); err != nil {
		return nil, err
	}
	if len(p.OtherAssets) > 0 && p.Decimals <= 0 {
		return nil, &ParamError{"otherAssets", errors.New("x402: other assets need the first asset's decimals to convert the price")}
	}
	for _, a := range p.OtherAssets {
		if a.Decimals <= 0 || a.Decimals > 36 || p.Decimals > 36 {
			return nil, &ParamError{"otherAssets", fmt.Errorf("x402: asset %s has no valid decimals", a.Asset)}
		}
		amount, ok := scale(price, p.Decimals, a.Decimals)
		if !ok {
			return nil, &ParamError{"price", fmt.Errorf("x402: price %s (%d decimals) has no exact amount in %d decimals", price, p.Decimals, a.Decimals)}
		}
		if err := add("otherAssets", a.Asset, a.Name, a.Version, amount); err != nil {
			return nil, err
		}
	}
	return o, nil
}

// ChainID parses a CAIP-2 eip155 network id.
func ChainID(network string) (*big.Int, error) {
	rest, ok := strings.CutPrefix(network, "eip155:")
	if !ok {
		return nil, fmt.Errorf("x402: network %q is not a CAIP-2 eip155:<chainId> id", network)
	}
	id, err := strconv.ParseUint(rest, 10, 63)
	if err != nil || id == 0 || strconv.FormatUint(id, 10) != rest {
		return nil, fmt.Errorf("x402: network %q has no valid chain id", network)
	}
	return new(big.Int).SetUint64(id), nil
}

// Requirements returns a copy of the primary (first) asset's requirement.
func (o *Offer) Requirements() Requirements { return o.accepts[0].copyReq() }

// Accepts returns a copy of every accepted requirement, the primary first.
func (o *Offer) Accepts() []Requirements {
	out := make([]Requirements, len(o.accepts))
	for i, a := range o.accepts {
		out[i] = a.copyReq()
	}
	return out
}

// Accepted returns the requirement of asset (any case), false when the offer
// does not list it.
func (o *Offer) Accepted(asset string) (Requirements, bool) {
	if a := o.find(asset); a != nil {
		return a.copyReq(), true
	}
	return Requirements{}, false
}

func (o *Offer) find(asset string) *accepted {
	if !common.IsHexAddress(asset) {
		return nil
	}
	addr := common.HexToAddress(asset)
	for i := range o.accepts {
		if o.accepts[i].asset == addr {
			return &o.accepts[i]
		}
	}
	return nil
}

func (a accepted) copyReq() Requirements {
	r := a.req
	e := *a.req.Extra
	r.Extra = &e
	return r
}

// RequirementsV1 returns every accepted asset in v1 form for resourceURL. The
// network stays CAIP-2, as in the InsForge guide (v1 has no name for X Layer).
func (o *Offer) RequirementsV1(resourceURL string) []RequirementsV1 {
	out := make([]RequirementsV1, len(o.accepts))
	for i, a := range o.accepts {
		r := a.copyReq()
		out[i] = RequirementsV1{
			Scheme: r.Scheme, Network: r.Network, MaxAmountRequired: r.Amount,
			Resource: resourceURL, Description: o.description, MimeType: o.mimeType,
			PayTo: r.PayTo, MaxTimeoutSeconds: r.MaxTimeoutSeconds, Asset: r.Asset, Extra: r.Extra,
		}
	}
	return out
}

// Resource describes resourceURL with the offer's description and MIME type.
func (o *Offer) Resource(resourceURL string) *Resource {
	return &Resource{URL: resourceURL, Description: o.description, MimeType: o.mimeType}
}

// ChallengeAccepts is the accepts list of a v2 challenge: every asset, each
// with maxAmountRequired for the guide's hybrid client.
func (o *Offer) ChallengeAccepts() []ChallengeRequirement {
	out := make([]ChallengeRequirement, len(o.accepts))
	for i, a := range o.accepts {
		out[i] = ChallengeRequirement{Requirements: a.copyReq(), MaxAmountRequired: a.req.Amount}
	}
	return out
}

// PriceText says what the offer costs, per asset, for people.
func (o *Offer) PriceText() string {
	parts := make([]string, len(o.accepts))
	for i, a := range o.accepts {
		parts[i] = a.req.Amount + " atomic units of " + a.req.Extra.Name + " (" + a.req.Asset + ")"
	}
	return strings.Join(parts, " or ")
}

// ChainIDValue returns the chain id.
func (o *Offer) ChainIDValue() *big.Int { return new(big.Int).Set(o.chainID) }

// Price returns the primary asset's price in its atomic units.
func (o *Offer) Price() *big.Int { return new(big.Int).Set(o.accepts[0].price) }

// Challenge is everything a 402 carries: the v2 PAYMENT-REQUIRED header (also
// read by the guide's hybrid client) and the v1 JSON body.
type Challenge struct {
	Header string            // base64 PAYMENT-REQUIRED
	V2     PaymentRequired   // decoded header
	Body   PaymentRequiredV1 // v1 402 body
}

// Challenge builds the 402 for resourceURL. reason is the x402 error (a failed
// check) or "" for a first request; message explains it to people. Every
// accepted asset is listed, the primary first; the payer picks one.
func (o *Offer) Challenge(resourceURL, reason, message string) (*Challenge, error) {
	v2 := PaymentRequired{
		X402Version: 2,
		Error:       reason,
		Resource:    o.Resource(resourceURL),
		Accepts:     o.ChallengeAccepts(),
	}
	if v2.Error == "" {
		v2.Error = "payment_required"
	}
	h, err := EncodeHeader(v2)
	if err != nil {
		return nil, err
	}
	body := PaymentRequiredV1{
		X402Version: 1, Error: v2.Error, Message: message,
		Accepts: o.RequirementsV1(resourceURL),
	}
	return &Challenge{Header: h, V2: v2, Body: body}, nil
}

// CheckPrice reports whether s is a price NewOffer takes: a positive decimal
// integer of atomic units, without sign, point or exponent.
func CheckPrice(s string) error {
	_, err := parsePrice(s)
	return err
}

func parsePrice(s string) (*big.Int, error) {
	price, ok := parseUint(s)
	if !ok || price.Sign() <= 0 {
		return nil, fmt.Errorf("x402: price %q is not a positive integer of atomic units", s)
	}
	return price, nil
}

func parseUint(s string) (*big.Int, bool) {
	if s == "" || len(s) > 78 {
		return nil, false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return nil, false
		}
	}
	return new(big.Int).SetString(s, 10)
}
