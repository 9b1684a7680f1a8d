// Package payer is the client side of x402 used by scripts/x402-pay: request a
// resource, read the 402, sign an EIP-3009 authorization with a local key, retry
// with the payment and decode the settlement.
package payer

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"strings"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"

	"github.com/insforge/edge-functions-go/shared/x402"
)

// Client pays x402 resources.
type Client struct {
	HTTP *http.Client
	Key  *ecdsa.PrivateKey
	// MaxAmount refuses challenges asking for more atomic units than this.
	MaxAmount *big.Int
	// PreferV1 answers a challenge with X-PAYMENT (v1 body) even when the v2
	// header is present.
	PreferV1 bool
	// Asset, when set, pays with that token (address, any case) and refuses a
	// challenge that does not offer it; empty pays with the first one offered.
	Asset string
	Now   func() time.Time
}

// Result is the outcome of Pay.
type Result struct {
	Status      int
	Body        []byte
	Paid        bool
	Style       x402.Style
	Requirement x402.Requirements
	Settlement  *x402.SettlementResponse
	Payer       common.Address
}

const maxBody = 4 << 20

// Pay requests url; on a 402 it pays once and retries.
func (c *Client) Pay(ctx context.Context, method, url string, body []byte) (*Result, error) {
	res, resBody, err := c.do(ctx, method, url, body, nil)
	if err != nil {
		return nil, err
	}
	payer := crypto.PubkeyToAddress(c.Key.PublicKey)
	if res.StatusCode != http.StatusPaymentRequired {
		return &Result{Status: res.StatusCode, Body: resBody, Payer: payer}, nil
	}
	req, style, resource, err := c.choose(res, resBody)
	if err != nil {
		return nil, err
	}
	if c.MaxAmount != nil {
		amt, ok := new(big.Int).SetString(req.Amount, 10)
		if !ok || amt.Cmp(c.MaxAmount) > 0 {
			return nil, fmt.Errorf("the server asks %s atomic units, above the limit %s", req.Amount, c.MaxAmount)
		}
	}
	header, value, err := c.sign(req, style, resource, payer)
	if err != nil {
		return nil, err
	}
	res, resBody, err = c.do(ctx, method, url, body, http.Header{header: {value}})
	if err != nil {
		return nil, err
	}
	out := &Result{Status: res.StatusCode, Body: resBody, Paid: true, Style: style, Requirement: req, Payer: payer}
	name := style.ResponseHeader()
	if h := res.Header.Get(name); h != "" {
		s, err := x402.DecodeSettlementResponse(name, h)
		if err != nil {
			return out, err
		}
		out.Settlement = s
	}
	return out, nil
}

func (c *Client) do(ctx context.Context, method, url string, body []byte, h http.Header) (*http.Response, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, method, url, bytes.NewReader(body))
	if err != nil {
		return nil, nil, err
	}
	for k, v := range h {
		req.Header[k] = v
	}
	if len(body) > 0 {
		req.Header.Set("Content-Type", "application/json")
	}
	hc := c.HTTP
	if hc == nil {
		hc = &http.Client{Timeout: 60 * time.Second}
	}
	res, err := hc.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(io.LimitReader(res.Body, maxBody))
	return res, b, err
}

// choose picks the exact requirement from the v2 header or, failing that (or
// with PreferV1), from the v1 body.
func (c *Client) choose(res *http.Response, body []byte) (x402.Requirements, x402.Style, *x402.Resource, error) {
	if h := res.Header.Get(x402.HeaderPaymentRequired); h != "" && !c.PreferV1 {
		pr, err := x402.DecodePaymentRequired(h)
		if err != nil {
			return x402.Requirements{}, 0, nil, err
		}
		for _, a := range pr.Accepts {
			if a.Scheme == x402.SchemeExact && a.Extra != nil && a.Extra.Name != "" && c.wants(a.Asset) {
				return a.Requirements, x402.StyleV2, pr.Resource, nil
			}
		}
		return x402.Requirements{}, 0, nil, errors.New("the challenge offers no exact-scheme requirement with an EIP-712 domain" + c.inAsset())
	}
	var v1 x402.PaymentRequiredV1
	if err := json.Unmarshal(body, &v1); err != nil || v1.X402Version != 1 {
		return x402.Requirements{}, 0, nil, errors.New("402 without a PAYMENT-REQUIRED header or a v1 JSON body")
	}
	for _, a := range v1.Accepts {
		if a.Scheme == x402.SchemeExact && a.Extra != nil && c.wants(a.Asset) {
			return x402.Requirements{
				Scheme: a.Scheme, Network: a.Network, Amount: a.MaxAmountRequired, Asset: a.Asset,
				PayTo: a.PayTo, MaxTimeoutSeconds: a.MaxTimeoutSeconds, Extra: a.Extra,
			}, x402.StyleV1, nil, nil
		}
	}
	return x402.Requirements{}, 0, nil, errors.New("the v1 challenge offers no exact-scheme requirement" + c.inAsset())
}

func (c *Client) wants(asset string) bool { return c.Asset == "" || strings.EqualFold(c.Asset, asset) }

func (c *Client) inAsset() string {
	if c.Asset == "" {
		return ""
	}
	return " in " + c.Asset
}

func (c *Client) sign(req x402.Requirements, style x402.Style, resource *x402.Resource, payer common.Address) (string, string, error) {
	chainID, err := x402.ChainID(req.Network)
	if err != nil {
		return "", "", err
	}
	value, ok := new(big.Int).SetString(req.Amount, 10)
	if !ok || !common.IsHexAddress(req.PayTo) || !common.IsHexAddress(req.Asset) {
		return "", "", errors.New("the challenge has an invalid amount, payTo or asset")
	}
	now := time.Now
	if c.Now != nil {
		now = c.Now
	}
	var n [32]byte
	if _, err := rand.Read(n[:]); err != nil {
		return "", "", err
	}
	m := x402.TransferMessage{
		From: payer, To: common.HexToAddress(req.PayTo), Value: value,
		ValidAfter:  big.NewInt(0),
		ValidBefore: big.NewInt(now().Unix() + int64(req.MaxTimeoutSeconds)),
		Nonce:       common.Hash(n),
	}
	d := x402.Domain{Name: req.Extra.Name, Version: req.Extra.Version, ChainID: chainID, Contract: common.HexToAddress(req.Asset)}
	sig, err := x402.SignTransfer(c.Key, d, m)
	if err != nil {
		return "", "", err
	}
	p := x402.PaymentPayload{Payload: x402.ExactPayload{Signature: sig, Authorization: m.Message()}}
	header := x402.HeaderPaymentSignature
	if style == x402.StyleV2 {
		p.X402Version, p.Accepted, p.Resource = 2, &req, resource
	} else {
		p.X402Version, p.Scheme, p.Network = 1, req.Scheme, req.Network
		header = x402.HeaderXPayment
	}
	v, err := x402.EncodeHeader(p)
	return header, v, err
}

// LoadKey parses a hex private key (with or without 0x). An empty string
// generates a fresh key; generated reports that.
func LoadKey(hexKey string) (key *ecdsa.PrivateKey, generated bool, err error) {
	hexKey = strings.TrimPrefix(strings.TrimSpace(hexKey), "0x")
	if hexKey == "" {
		k, err := crypto.GenerateKey()
		return k, true, err
	}
	k, err := crypto.HexToECDSA(hexKey)
	if err != nil {
		return nil, false, errors.New("X402_PAYER_KEY is not a 32-byte hex private key")
	}
	return k, false, nil
}
