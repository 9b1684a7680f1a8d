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
	Asset             string // EIP-3009 token address
	AssetName         string // EIP-712 domain name
	AssetVersion      string // EIP-712 domain version
	PayTo             string // recipient address
	Price             string // atomic units, decimal
	MaxTimeoutSeconds int
	Description       string
	MimeType          string
}

// Offer is the one requirement a route offers, validated and normalised once.
// Checks always run against this copy, never against what a client echoes.
type Offer struct {
	req         Requirements
	chainID     *big.Int
	price       *big.Int
	payTo       common.Address
	asset       common.Address
	description string
	mimeType    string
}

// ParamError names the offer parameter NewOffer refused, so a caller can point
// at its own setting without reading the message. Param is one of "asset",
// "payTo", "price", "domain" (the EIP-712 name and version) or
// "maxTimeoutSeconds".
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
	if !common.IsHexAddress(p.Asset) || !strings.HasPrefix(p.Asset, "0x") {
		return nil, &ParamError{"asset", fmt.Errorf("x402: asset %q is not a 0x address", p.Asset)}
	}
	if !common.IsHexAddress(p.PayTo) || !strings.HasPrefix(p.PayTo, "0x") {
		return nil, &ParamError{"payTo", fmt.Errorf("x402: payTo %q is not a 0x address", p.PayTo)}
	}
	payTo := common.HexToAddress(p.PayTo)
	if payTo == (common.Address{}) {
		return nil, &ParamError{"payTo", errors.New("x402: payTo is the zero address")}
	}
	price, ok := parseUint(p.Price)
	if !ok || price.Sign() <= 0 {
		return nil, &ParamError{"price", fmt.Errorf("x402: price %q is not a positive integer of atomic units", p.Price)}
	}
	if p.AssetName == "" || p.AssetVersion == "" {
		return nil, &ParamError{"domain", errors.New("x402: the EIP-712 domain name and version are required")}
	}
	if p.MaxTimeoutSeconds < 10 || p.MaxTimeoutSeconds > 3600 {
		return nil, &ParamError{"maxTimeoutSeconds", fmt.Errorf("x402: maxTimeoutSeconds %d is outside 10..3600", p.MaxTimeoutSeconds)}
	}
	mime := p.MimeType
	if mime == "" {
		mime = "application/json"
	}
	asset := common.HexToAddress(p.Asset)
	return &Offer{
		req: Requirements{
			Scheme:            SchemeExact,
			Network:           p.Network,
			Amount:            price.String(),
			Asset:             asset.Hex(),
			PayTo:             payTo.Hex(),
			MaxTimeoutSeconds: p.MaxTimeoutSeconds,
			Extra:             &Extra{Name: p.AssetName, Version: p.AssetVersion},
		},
		chainID: chainID, price: price, payTo: payTo, asset: asset,
		description: p.Description, mimeType: mime,
	}, nil
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

// Requirements returns a copy of the offered v2 requirement.
func (o *Offer) Requirements() Requirements {
	r := o.req
	e := *o.req.Extra
	r.Extra = &e
	return r
}

// RequirementsV1 returns the offer in v1 form for resourceURL. The network stays
// CAIP-2, as in the InsForge guide (v1 has no name for X Layer).
func (o *Offer) RequirementsV1(resourceURL string) RequirementsV1 {
	e := *o.req.Extra
	return RequirementsV1{
		Scheme: o.req.Scheme, Network: o.req.Network, MaxAmountRequired: o.req.Amount,
		Resource: resourceURL, Description: o.description, MimeType: o.mimeType,
		PayTo: o.req.PayTo, MaxTimeoutSeconds: o.req.MaxTimeoutSeconds, Asset: o.req.Asset, Extra: &e,
	}
}

// Resource describes resourceURL with the offer's description and MIME type.
func (o *Offer) Resource(resourceURL string) *Resource {
	return &Resource{URL: resourceURL, Description: o.description, MimeType: o.mimeType}
}

// ChainIDValue returns the chain id.
func (o *Offer) ChainIDValue() *big.Int { return new(big.Int).Set(o.chainID) }

// Price returns the price in atomic units.
func (o *Offer) Price() *big.Int { return new(big.Int).Set(o.price) }

// Challenge is everything a 402 carries: the v2 PAYMENT-REQUIRED header (also
// read by the guide's hybrid client) and the v1 JSON body.
type Challenge struct {
	Header string            // base64 PAYMENT-REQUIRED
	V2     PaymentRequired   // decoded header
	Body   PaymentRequiredV1 // v1 402 body
}

// Challenge builds the 402 for resourceURL. reason is the x402 error (a failed
// check) or "" for a first request; message explains it to people.
func (o *Offer) Challenge(resourceURL, reason, message string) (*Challenge, error) {
	v2 := PaymentRequired{
		X402Version: 2,
		Error:       reason,
		Resource:    o.Resource(resourceURL),
		Accepts:     []ChallengeRequirement{{Requirements: o.Requirements(), MaxAmountRequired: o.req.Amount}},
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
		Accepts: []RequirementsV1{o.RequirementsV1(resourceURL)},
	}
	return &Challenge{Header: h, V2: v2, Body: body}, nil
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
