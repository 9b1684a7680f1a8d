package facilitator

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/insforge/edge-functions-go/shared/config"
	"github.com/insforge/edge-functions-go/shared/internal/text"
	"github.com/insforge/edge-functions-go/shared/x402"
)

// OKX API families.
const (
	APIV2 = "v2" // /api/v6/pay/x402/{verify,settle,settle/status}: x402 v2 bodies (default)
	APIV1 = "v1" // /api/v6/x402/{verify,settle}: the InsForge guide's, chainIndex + array data
)

const (
	pathV2Verify = "/api/v6/pay/x402/verify"
	pathV2Settle = "/api/v6/pay/x402/settle"
	pathV2Status = "/api/v6/pay/x402/settle/status"
	pathV1Verify = "/api/v6/x402/verify"
	pathV1Settle = "/api/v6/x402/settle"
	// Capabilities, one path per family.
	pathV2Supported = "/api/v6/pay/x402/supported"
	pathV1Supported = "/api/v6/x402/supported"

	maxResponseBytes = 1 << 20
)

// OKXOptions configures the OKX client.
type OKXOptions struct {
	BaseURL    string // default https://web3.okx.com
	APIKey     string
	SecretKey  string
	Passphrase string
	API        string // APIV2 (default) or APIV1
	// Per-call deadlines. Settle is synchronous (syncSettle) and waits for the
	// chain, so it gets more, but stays under API Gateway's ~29 s.
	VerifyTimeout time.Duration // default 8 s
	SettleTimeout time.Duration // default 20 s
	StatusTimeout time.Duration // default 8 s
	// HTTPClient is used with redirects refused (a copy is made): OK-ACCESS-*
	// headers must never be re-sent to another host.
	HTTPClient *http.Client
	Now        func() time.Time
}

// OKX is the OKX x402 facilitator client.
type OKX struct {
	cfg  OKXOptions
	base *url.URL
}

var _ Facilitator = (*OKX)(nil)

// NewOKX validates cfg and returns a client.
func NewOKX(cfg OKXOptions) (*OKX, error) {
	if cfg.BaseURL == "" {
		cfg.BaseURL = "https://web3.okx.com"
	}
	base, err := config.CheckURL("OKX_BASE_URL", cfg.BaseURL)
	if err != nil {
		return nil, err
	}
	if cfg.APIKey == "" || cfg.SecretKey == "" || cfg.Passphrase == "" {
		return nil, errors.New("OKX_API_KEY, OKX_SECRET_KEY and OKX_PASSPHRASE are required unless MOCK_OKX_FACILITATOR=true")
	}
	switch cfg.API {
	case "":
		cfg.API = APIV2
	case APIV1, APIV2:
	default:
		return nil, errors.New("OKX_API must be v2 or v1")
	}
	if cfg.VerifyTimeout == 0 {
		cfg.VerifyTimeout = 8 * time.Second
	}
	if cfg.SettleTimeout == 0 {
		cfg.SettleTimeout = 20 * time.Second
	}
	if cfg.StatusTimeout == 0 {
		cfg.StatusTimeout = 8 * time.Second
	}
	hc := &http.Client{Timeout: 30 * time.Second}
	if cfg.HTTPClient != nil {
		c := *cfg.HTTPClient
		hc = &c
	}
	hc.CheckRedirect = refuseRedirect
	cfg.HTTPClient = hc
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	base.Path = strings.TrimRight(base.Path, "/")
	return &OKX{cfg: cfg, base: base}, nil
}

// API returns the API family in use.
func (c *OKX) API() string { return c.cfg.API }

type v2Payload struct {
	X402Version int               `json:"x402Version"`
	Resource    *x402.Resource    `json:"resource,omitempty"`
	Accepted    x402.Requirements `json:"accepted"`
	Payload     x402.ExactPayload `json:"payload"`
}

type v2Body struct {
	X402Version         int               `json:"x402Version"`
	PaymentPayload      v2Payload         `json:"paymentPayload"`
	PaymentRequirements x402.Requirements `json:"paymentRequirements"`
	SyncSettle          *bool             `json:"syncSettle,omitempty"`
}

type v1Payload struct {
	X402Version int               `json:"x402Version"`
	Scheme      string            `json:"scheme"`
	Network     string            `json:"network"`
	Payload     x402.ExactPayload `json:"payload"`
}

type v1Body struct {
	X402Version         int                 `json:"x402Version"`
	ChainIndex          string              `json:"chainIndex"`
	PaymentPayload      v1Payload           `json:"paymentPayload"`
	PaymentRequirements x402.RequirementsV1 `json:"paymentRequirements"`
	SyncSettle          *bool               `json:"syncSettle,omitempty"`
}

// body builds the request for the configured family from our own requirements.
func (c *OKX) body(req Request, settle bool) ([]byte, error) {
	var sync *bool
	if settle {
		t := true
		sync = &t
	}
	r := req.Requirements
	if c.cfg.API == APIV2 {
		return json.Marshal(v2Body{
			X402Version: 2,
			PaymentPayload: v2Payload{
				X402Version: 2, Resource: req.Resource, Accepted: r, Payload: req.Payment,
			},
			PaymentRequirements: r,
			SyncSettle:          sync,
		})
	}
	chainID, err := x402.ChainID(r.Network)
	if err != nil {
		return nil, err
	}
	resURL, desc, mime := "", "", ""
	if req.Resource != nil {
		resURL, desc, mime = req.Resource.URL, req.Resource.Description, req.Resource.MimeType
	}
	return json.Marshal(v1Body{
		X402Version: 1,
		ChainIndex:  chainID.String(),
		PaymentPayload: v1Payload{
			X402Version: 1, Scheme: r.Scheme, Network: r.Network, Payload: req.Payment,
		},
		PaymentRequirements: x402.RequirementsV1{
			Scheme: r.Scheme, Network: r.Network, MaxAmountRequired: r.Amount, Resource: resURL,
			Description: desc, MimeType: mime, PayTo: r.PayTo, MaxTimeoutSeconds: r.MaxTimeoutSeconds,
			Asset: r.Asset, Extra: r.Extra,
		},
		SyncSettle: sync,
	})
}

type verifyData struct {
	IsValid        bool   `json:"isValid"`
	InvalidReason  string `json:"invalidReason"`
	InvalidMessage string `json:"invalidMessage"`
	Payer          string `json:"payer"`
}

type settleData struct {
	Success      bool   `json:"success"`
	Status       string `json:"status"`
	ErrorReason  string `json:"errorReason"`
	ErrorMessage string `json:"errorMessage"`
	ErrorMsg     string `json:"errorMsg"` // old API
	Payer        string `json:"payer"`
	Transaction  string `json:"transaction"`
	TxHash       string `json:"txHash"` // old API
	Network      string `json:"network"`
}

// Verify asks OKX to verify the payment.
func (c *OKX) Verify(ctx context.Context, req Request) (*VerifyResult, error) {
	var d verifyData
	if err := c.post(ctx, "verify", req, c.cfg.VerifyTimeout, pathV1Verify, pathV2Verify, &d); err != nil {
		return nil, err
	}
	return &VerifyResult{Valid: d.IsValid, Reason: d.InvalidReason, Message: d.InvalidMessage, Payer: d.Payer}, nil
}

// Settle asks OKX to settle synchronously. It is never retried on a transport
// error or timeout: the payment may have been broadcast.
func (c *OKX) Settle(ctx context.Context, req Request) (*SettleResult, error) {
	var d settleData
	if err := c.post(ctx, "settle", req, c.cfg.SettleTimeout, pathV1Settle, pathV2Settle, &d); err != nil {
		return nil, err
	}
	return d.result(req.Requirements.Network), nil
}

// post sends op ("verify" or "settle", which asks for a synchronous settle) to
// the configured API's path and decodes the answer into out.
func (c *OKX) post(ctx context.Context, op string, req Request, timeout time.Duration, pathV1, pathV2 string, out any) error {
	path := pathV2
	if c.cfg.API == APIV1 {
		path = pathV1
	}
	body, err := c.body(req, op == "settle")
	if err != nil {
		return &Error{Op: op, Message: "request could not be built", Definitive: true, Err: err}
	}
	return c.call(ctx, op, timeout, http.MethodPost, path, "", body, out)
}

// Status queries a settlement by hash (new API only).
func (c *OKX) Status(ctx context.Context, txHash string) (*SettleResult, error) {
	if c.cfg.API == APIV1 {
		return nil, ErrStatusUnsupported
	}
	q := url.Values{"txHash": {txHash}}.Encode()
	var d settleData
	if err := c.call(ctx, "status", c.cfg.StatusTimeout, http.MethodGet, pathV2Status, q, nil, &d); err != nil {
		return nil, err
	}
	r := d.result("")
	if !d.Success && strings.EqualFold(d.ErrorReason, "not_found") {
		r.Status = StatusNotFound
	}
	if r.Transaction == "" {
		r.Transaction = txHash
	}
	return r, nil
}

// Supported asks OKX which schemes and networks it verifies and settles
// (GET …/supported of the configured family). The old family's list of
// {x402Version, scheme, chainIndex} is returned in the new shape, with CAIP-2
// networks.
func (c *OKX) Supported(ctx context.Context) (*Supported, error) {
	if c.cfg.API == APIV1 {
		var kinds []v1Kind
		if err := c.call(ctx, "supported", c.cfg.StatusTimeout, http.MethodGet, pathV1Supported, "", nil, &kinds); err != nil {
			return nil, err
		}
		s := &Supported{Signers: map[string][]string{}}
		for _, k := range kinds {
			s.Kinds = append(s.Kinds, Kind{X402Version: int(k.X402Version), Scheme: k.Scheme, Network: "eip155:" + k.ChainIndex})
		}
		return s, nil
	}
	var s Supported
	if err := c.call(ctx, "supported", c.cfg.StatusTimeout, http.MethodGet, pathV2Supported, "", nil, &s); err != nil {
		return nil, err
	}
	return &s, nil
}

// v1Kind is one entry of the old family's /supported data array. Its
// x402Version is documented as a string and shown as a number: both parse.
type v1Kind struct {
	X402Version flexInt `json:"x402Version"`
	Scheme      string  `json:"scheme"`
	ChainIndex  string  `json:"chainIndex"`
	ChainName   string  `json:"chainName"`
}

type flexInt int

func (f *flexInt) UnmarshalJSON(b []byte) error {
	var n int
	if err := json.Unmarshal(b, &n); err == nil {
		*f = flexInt(n)
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	_, err := fmt.Sscan(s, &n)
	*f = flexInt(n)
	return err
}

// result normalises both families' settle data into one status.
func (d settleData) result(network string) *SettleResult {
	r := &SettleResult{
		Transaction: cmp.Or(d.Transaction, d.TxHash),
		Network:     cmp.Or(d.Network, network),
		Payer:       d.Payer,
		Reason:      d.ErrorReason,
		Message:     cmp.Or(d.ErrorMessage, d.ErrorMsg),
	}
	status := strings.ToLower(d.Status)
	switch {
	case status == StatusPending || status == StatusTimeout:
		r.Status = status
	case !d.Success || status == StatusFailed:
		r.Status = StatusFailed
		if r.Reason == "" {
			r.Reason = x402.ReasonUnexpectedSettle
		}
	case r.Transaction == "":
		// exact settlements always have a hash; without one the outcome is unknown.
		r.Status = StatusPending
	default:
		r.Status = StatusSuccess
	}
	return r
}

type envelope struct {
	Code json.RawMessage `json:"code"`
	Msg  string          `json:"msg"`
	Data json.RawMessage `json:"data"`
}

// refuseRedirect keeps the response of a redirect instead of following it.
func refuseRedirect(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

// call makes one request, never retried: a rate-limited verify is answered
// to the client (Retry-After), and a settle may have acted.
func (c *OKX) call(ctx context.Context, op string, timeout time.Duration, method, path, query string, body []byte, out any) error {
	return c.once(ctx, op, timeout, method, path, query, body, out)
}

func (c *OKX) once(ctx context.Context, op string, timeout time.Duration, method, path, query string, body []byte, out any) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	u := *c.base
	u.Path += path
	u.RawQuery = query
	requestPath := u.EscapedPath()
	if query != "" {
		requestPath += "?" + query
	}
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, u.String(), rd)
	if err != nil {
		return &Error{Op: op, Message: "request could not be built", Definitive: true, Err: err}
	}
	c.authorize(req, requestPath, body, c.cfg.Now())
	res, err := c.cfg.HTTPClient.Do(req)
	if err != nil {
		msg := "OKX is unreachable"
		if errors.Is(err, context.DeadlineExceeded) || ctx.Err() != nil {
			msg = "OKX did not answer in time"
		}
		return &Error{Op: op, Message: msg, Err: err}
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(res.Body, maxResponseBytes))
	if err != nil {
		return &Error{Op: op, HTTPStatus: res.StatusCode, Message: "OKX response could not be read", Err: err}
	}
	var env envelope
	jsonErr := json.Unmarshal(raw, &env)
	code := parseCode(env.Code)
	if jsonErr == nil && code != "" && code != "0" {
		return codeError(op, res.StatusCode, code, env.Msg)
	}
	if res.StatusCode == http.StatusTooManyRequests {
		return codeError(op, res.StatusCode, "50011", env.Msg)
	}
	if res.StatusCode >= 300 && res.StatusCode < 400 {
		// Refused, not followed: the request was not processed where it was sent.
		return &Error{Op: op, HTTPStatus: res.StatusCode, Message: "OKX answered with a redirect (refused)", Definitive: true}
	}
	if res.StatusCode >= 300 {
		return &Error{Op: op, HTTPStatus: res.StatusCode, Message: "OKX answered with an HTTP error",
			Definitive: res.StatusCode == http.StatusUnauthorized || res.StatusCode == http.StatusForbidden}
	}
	if jsonErr != nil {
		return &Error{Op: op, HTTPStatus: res.StatusCode, Message: "OKX answered with invalid JSON", Err: jsonErr}
	}
	data := env.Data
	if env.Code == nil {
		data = raw // OKX's own SDK tolerates a bare, non-enveloped body
	}
	data = bytes.TrimSpace(data)
	_, wantArray := out.(*[]v1Kind)
	if len(data) > 0 && data[0] == '[' && !wantArray { // old API: array data
		var arr []json.RawMessage
		if err := json.Unmarshal(data, &arr); err != nil || len(arr) == 0 {
			return &Error{Op: op, HTTPStatus: res.StatusCode, Message: "OKX answered with empty data", Err: err}
		}
		data = arr[0]
	}
	if len(data) == 0 || string(data) == "null" {
		return &Error{Op: op, HTTPStatus: res.StatusCode, Message: "OKX answered without data"}
	}
	if err := json.Unmarshal(data, out); err != nil {
		return &Error{Op: op, HTTPStatus: res.StatusCode, Message: "OKX data has an unexpected shape", Err: err}
	}
	return nil
}

// parseCode accepts the envelope code as a JSON string ("0") or number (0).
func parseCode(raw json.RawMessage) string {
	s := strings.TrimSpace(string(raw))
	if s == "" || s == "null" {
		return ""
	}
	var str string
	if json.Unmarshal(raw, &str) == nil {
		return strings.TrimSpace(str)
	}
	return s
}

// okxCodes maps OKX error codes to clear messages. definitive: OKX refused the
// request before processing it.
var okxCodes = map[string]struct {
	msg        string
	definitive bool
}{
	"50011": {"rate limited by OKX; retry later", true},
	"50014": {"a required parameter is empty (the old API needs chainIndex)", true},
	"50001": {"OKX service temporarily unavailable", false},
	"50026": {"OKX system error", false},
	"50103": {"OK-ACCESS-KEY header is missing", true},
	"50104": {"OK-ACCESS-PASSPHRASE header is missing, or the key or IP is invalid", true},
	"50105": {"OKX_PASSPHRASE is wrong", true},
	"50106": {"OK-ACCESS-SIGN header is missing", true},
	"50107": {"OK-ACCESS-TIMESTAMP header is missing", true},
	"50111": {"OKX_API_KEY is invalid", true},
	"50112": {"OK-ACCESS-TIMESTAMP is invalid or the server clock is off", true},
	"50113": {"invalid signature: check OKX_SECRET_KEY and OKX_PASSPHRASE", true},
	"50114": {"Invalid Authority: an OKX exchange API key was used; create a Web3 API key at web3.okx.com/onchainos/dev-portal", true},
	"51000": {"OKX rejected a parameter", true},
	"30001": {"OKX rejected a parameter", true},
	"8000":  {"OKX signing service (TEE) failure", false},
	"10002": {"account abstraction wallet not found", true},
}

func codeError(op string, status int, code, msg string) *Error {
	e := &Error{Op: op, HTTPStatus: status, Code: code}
	if m, ok := okxCodes[code]; ok {
		e.Message, e.Definitive = m.msg, m.definitive
	} else {
		e.Message = "OKX returned an error"
	}
	if msg != "" {
		e.Err = errors.New(text.Clip(msg, 200))
	}
	return e
}
