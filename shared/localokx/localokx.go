// Package localokx is a strict emulator of the OKX x402 facilitator. It checks
// what the real service would refuse (HMAC over the exact bytes, key, passphrase,
// timestamp format and freshness, headers, request shape per API family) and
// answers like OKX, with scriptable failures. Every call is recorded, refused ones
// with the reason. shared/facilitator/okxtest runs it for a test.
//
// Without a chain, settlements are bookkeeping: the hash is derived from (payer,
// nonce). With SettleOn(devnet) they are real: verify checks what OKX and the
// x402 exact scheme check (recipient, amount, validity window, nonce unused,
// balance) and simulates transferWithAuthorization with eth_call; settle sends it
// from the facilitator key and answers with the transaction's hash — after its
// block (sync), or at once as pending, the status endpoint then reading the chain.
package localokx

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"

	"github.com/insforge/edge-functions-go/shared/localchain"
)

// Credentials the emulator accepts.
const (
	Key        = "okx-test-key"
	Secret     = "okx-test-secret"
	Passphrase = "okx-test-passphrase"
)

// Call is one request the emulator received (after its checks passed or failed).
type Call struct {
	Op       string // verify, settle, status, supported
	Method   string
	Path     string
	Query    string
	Body     map[string]any
	Rejected string // why the emulator refused it, "" if accepted
}

// Server is the emulator, an http.Handler serving one API family.
type Server struct {
	API         string // "v2" or "v1": the family this emulator serves
	Now         func() time.Time
	MaxSkew     time.Duration
	NumericCode bool // send "code":0 instead of "code":"0"

	mu          sync.Mutex
	calls       []Call
	verifyFalse string
	settleFail  string
	settleState string
	httpErr     map[string]int
	codeErr     map[string]string
	delay       map[string]time.Duration
	txStatus    map[string]string
	byNonce     map[string]string
	settleTx    string
	kinds       []map[string]any // nil: the documented default (SetKinds)
	chain       Chain
	// SyncWait bounds how long a synchronous settle waits for the block before
	// answering "timeout" with the hash (0: 5 s), like OKX's own deadline.
	SyncWait time.Duration
}

// SignerAddress is the facilitator signer /supported reports.
const SignerAddress = "0x5Ae1E1ba1f7b2c1E0E6dD3e5b9F3c1C0dE0A4b02"

// SetKinds replaces the kinds /supported lists (nil restores the default:
// exact and aggr_deferred on eip155:196, extra null, as OKX documents).
func (s *Server) SetKinds(kinds []map[string]any) { s.mu.Lock(); s.kinds = kinds; s.mu.Unlock() }

// Chain is the devnet the emulator settles on (*localchain.Devnet fits).
type Chain interface {
	SimulateTransfer(ctx context.Context, token common.Address, a localchain.Authorization) error
	SubmitTransfer(ctx context.Context, token common.Address, a localchain.Authorization) (common.Hash, error)
	AuthorizationState(ctx context.Context, token, authorizer common.Address, nonce common.Hash) (bool, error)
	BalanceOf(ctx context.Context, token, holder common.Address) (*big.Int, error)
	WaitMined(ctx context.Context, tx common.Hash) (*types.Receipt, error)
	Receipt(ctx context.Context, tx common.Hash) (*types.Receipt, error)
}

// SettleOn makes verify and settle act on c (nil: bookkeeping only).
func (s *Server) SettleOn(c Chain) { s.mu.Lock(); s.chain = c; s.mu.Unlock() }

// SettleTx makes every successful settle report tx as its transaction ("" =
// the per-authorization TxHash): a malformed or duplicated hash for tests.
func (s *Server) SettleTx(tx string) { s.mu.Lock(); s.settleTx = tx; s.mu.Unlock() }

// New returns an emulator for the API family ("v2" or "v1").
func New(api string) *Server {
	return &Server{
		API: api, Now: time.Now, MaxSkew: 30 * time.Second,
		httpErr: map[string]int{}, codeErr: map[string]string{}, delay: map[string]time.Duration{},
		txStatus: map[string]string{}, byNonce: map[string]string{},
	}
}

// Rejections returns the refused calls.
func (s *Server) Rejections() []Call {
	var out []Call
	for _, c := range s.Calls("") {
		if c.Rejected != "" {
			out = append(out, c)
		}
	}
	return out
}

// VerifyInvalid makes verify answer isValid=false with reason ("" resets).
func (s *Server) VerifyInvalid(reason string) { s.mu.Lock(); s.verifyFalse = reason; s.mu.Unlock() }

// SettleFail makes settle answer success=false with reason ("" resets).
func (s *Server) SettleFail(reason string) { s.mu.Lock(); s.settleFail = reason; s.mu.Unlock() }

// SettleStatus makes settle answer with status "pending" or "timeout" (hash set).
func (s *Server) SettleStatus(status string) { s.mu.Lock(); s.settleState = status; s.mu.Unlock() }

// HTTPError makes op answer with an HTTP status and no envelope (0 resets).
func (s *Server) HTTPError(op string, status int) { s.mu.Lock(); s.httpErr[op] = status; s.mu.Unlock() }

// Code makes op answer with an OKX error code ("" resets).
func (s *Server) Code(op, code string) { s.mu.Lock(); s.codeErr[op] = code; s.mu.Unlock() }

// Delay makes op wait d before answering.
func (s *Server) Delay(op string, d time.Duration) { s.mu.Lock(); s.delay[op] = d; s.mu.Unlock() }

// SetTxStatus sets what /settle/status reports for tx.
func (s *Server) SetTxStatus(tx, status string) { s.mu.Lock(); s.txStatus[tx] = status; s.mu.Unlock() }

// Calls returns the calls for op ("" = all).
func (s *Server) Calls(op string) []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Call
	for _, c := range s.calls {
		if op == "" || c.Op == op {
			out = append(out, c)
		}
	}
	return out
}

// Accepted counts accepted calls for op.
func (s *Server) Accepted(op string) int {
	n := 0
	for _, c := range s.Calls(op) {
		if c.Rejected == "" {
			n++
		}
	}
	return n
}

// TxHash is the hash the emulator assigns to a settlement of (from, nonce).
func TxHash(from, nonce string) string {
	h := sha256.Sum256([]byte(strings.ToLower(from + "|" + nonce)))
	return "0x" + hex.EncodeToString(h[:])
}

func (s *Server) paths() map[string]string {
	if s.API == "v1" {
		return map[string]string{"/api/v6/x402/verify": "verify", "/api/v6/x402/settle": "settle",
			"/api/v6/x402/supported": "supported"}
	}
	return map[string]string{
		"/api/v6/pay/x402/verify": "verify", "/api/v6/pay/x402/settle": "settle",
		"/api/v6/pay/x402/settle/status": "status", "/api/v6/pay/x402/supported": "supported",
	}
}

// ServeHTTP checks the request like OKX and answers it, recording the call.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	op, ok := s.paths()[r.URL.Path]
	body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	call := Call{Op: op, Method: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery}
	_ = json.Unmarshal(body, &call.Body)
	reject := func(status int, code, why string) {
		call.Rejected = why
		s.record(call)
		s.envelope(w, status, code, why, nil)
	}
	if !ok {
		reject(http.StatusNotFound, "404", "unknown path for API family "+s.API)
		return
	}
	if code, why := s.checkAuth(r, body); code != "" {
		reject(http.StatusUnauthorized, code, why)
		return
	}
	wantMethod := http.MethodPost
	if op == "status" || op == "supported" {
		wantMethod = http.MethodGet
	}
	if r.Method != wantMethod {
		reject(http.StatusMethodNotAllowed, "405", "method "+r.Method)
		return
	}
	var req reqShape
	if op == "supported" {
		if len(body) != 0 || r.URL.RawQuery != "" {
			reject(http.StatusBadRequest, "51000", "supported takes no query and no body")
			return
		}
	} else if op != "status" {
		if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
			reject(http.StatusBadRequest, "51000", "Content-Type is "+ct)
			return
		}
		var err error
		if req, err = s.checkShape(op, body); err != nil {
			reject(http.StatusBadRequest, "51000", err.Error())
			return
		}
	} else if len(body) != 0 || !strings.HasPrefix(r.URL.RawQuery, "txHash=0x") {
		reject(http.StatusBadRequest, "50014", "status needs ?txHash= and no body")
		return
	}

	s.mu.Lock()
	d, httpErr, code := s.delay[op], s.httpErr[op], s.codeErr[op]
	s.mu.Unlock()
	s.record(call)
	if d > 0 {
		select {
		case <-time.After(d):
		case <-r.Context().Done():
			return
		}
	}
	if httpErr != 0 {
		http.Error(w, "upstream failure", httpErr)
		return
	}
	if code != "" {
		s.envelope(w, http.StatusOK, code, "scripted error", nil)
		return
	}
	s.mu.Lock()
	chain := s.chain
	s.mu.Unlock()
	switch {
	case op == "verify" && chain != nil:
		s.verifyOnChain(r.Context(), w, chain, req)
	case op == "verify":
		s.answerVerify(w, req)
	case op == "settle" && chain != nil:
		s.settleOnChain(r.Context(), w, chain, req)
	case op == "settle":
		s.answerSettle(w, req)
	case op == "status":
		s.answerStatus(r.Context(), w, chain, r.URL.Query().Get("txHash"))
	case op == "supported":
		s.answerSupported(w)
	}
}

// answerSupported lists the kinds in each family's documented shape: the new
// family's {kinds, extensions, signers} object, the old family's array of
// {x402Version, scheme, chainIndex, chainName}.
func (s *Server) answerSupported(w http.ResponseWriter) {
	s.mu.Lock()
	kinds := s.kinds
	s.mu.Unlock()
	if kinds == nil {
		kinds = []map[string]any{
			{"x402Version": 2, "scheme": "exact", "network": "eip155:196", "extra": nil},
			{"x402Version": 2, "scheme": "aggr_deferred", "network": "eip155:196", "extra": nil},
		}
	}
	if s.API == "v1" {
		var arr []any
		for _, k := range kinds {
			if k["scheme"] != "exact" {
				continue
			}
			chain := strings.TrimPrefix(fmt.Sprint(k["network"]), "eip155:")
			arr = append(arr, map[string]any{"x402Version": 1, "scheme": "exact", "chainIndex": chain, "chainName": "X Layer"})
		}
		// envelope wraps data in an array for v1; send the list itself.
		s.raw(w, map[string]any{"code": "0", "msg": "", "data": arr})
		return
	}
	s.envelope(w, http.StatusOK, "0", "", map[string]any{
		"kinds": kinds, "extensions": []string{}, "signers": map[string][]string{"eip155:*": {SignerAddress}},
	})
}

func (s *Server) raw(w http.ResponseWriter, env map[string]any) {
	if s.NumericCode {
		env["code"] = 0
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	_ = json.NewEncoder(w).Encode(env)
}

func (s *Server) record(c Call) { s.mu.Lock(); s.calls = append(s.calls, c); s.mu.Unlock() }

// checkAuth verifies the four OK-ACCESS headers and the HMAC over
// timestamp+METHOD+path(+?query)+body, computed here independently.
func (s *Server) checkAuth(r *http.Request, body []byte) (code, why string) {
	h := r.Header
	switch {
	case h.Get("OK-ACCESS-KEY") == "":
		return "50103", "OK-ACCESS-KEY missing"
	case h.Get("OK-ACCESS-PASSPHRASE") == "":
		return "50104", "OK-ACCESS-PASSPHRASE missing"
	case h.Get("OK-ACCESS-SIGN") == "":
		return "50106", "OK-ACCESS-SIGN missing"
	case h.Get("OK-ACCESS-TIMESTAMP") == "":
		return "50107", "OK-ACCESS-TIMESTAMP missing"
	case h.Get("OK-ACCESS-KEY") != Key:
		return "50111", "invalid OK-ACCESS-KEY"
	case h.Get("OK-ACCESS-PASSPHRASE") != Passphrase:
		return "50105", "wrong passphrase"
	}
	ts := h.Get("OK-ACCESS-TIMESTAMP")
	t, err := time.Parse("2006-01-02T15:04:05.000Z", ts)
	if err != nil || len(ts) != len("2006-01-02T15:04:05.000Z") {
		return "50112", "timestamp is not ISO-8601 UTC with milliseconds: " + ts
	}
	if skew := s.Now().Sub(t); skew > s.MaxSkew || skew < -s.MaxSkew {
		return "50112", fmt.Sprintf("timestamp off by %s", skew)
	}
	path := r.URL.EscapedPath()
	if r.URL.RawQuery != "" {
		path += "?" + r.URL.RawQuery
	}
	mac := hmac.New(sha256.New, []byte(Secret))
	mac.Write([]byte(ts + r.Method + path))
	mac.Write(body)
	want := base64.StdEncoding.EncodeToString(mac.Sum(nil))
	if !hmac.Equal([]byte(want), []byte(h.Get("OK-ACCESS-SIGN"))) {
		return "50113", "invalid signature"
	}
	return "", ""
}

type reqShape struct {
	from, nonce, network string
	// What the chain checks need.
	payload                exactPayload
	amount, asset, payTo   string
	domainName, domainVers string
}

type extra struct {
	Name    string `json:"name"`
	Version string `json:"version"`
}

type auth struct {
	From, To, Value, ValidAfter, ValidBefore, Nonce string
}

type exactPayload struct {
	Signature     string `json:"signature"`
	Authorization auth   `json:"authorization"`
}

type reqV2 struct {
	Scheme            string `json:"scheme"`
	Network           string `json:"network"`
	Amount            string `json:"amount"`
	Asset             string `json:"asset"`
	PayTo             string `json:"payTo"`
	MaxTimeoutSeconds int    `json:"maxTimeoutSeconds"`
	Extra             *extra `json:"extra"`
}

type bodyV2 struct {
	X402Version    int `json:"x402Version"`
	PaymentPayload struct {
		X402Version int             `json:"x402Version"`
		Resource    json.RawMessage `json:"resource"`
		Accepted    *reqV2          `json:"accepted"`
		Payload     exactPayload    `json:"payload"`
		Extensions  json.RawMessage `json:"extensions"`
	} `json:"paymentPayload"`
	PaymentRequirements *reqV2 `json:"paymentRequirements"`
	SyncSettle          *bool  `json:"syncSettle"`
}

type bodyV1 struct {
	X402Version    int    `json:"x402Version"`
	ChainIndex     string `json:"chainIndex"`
	PaymentPayload struct {
		X402Version int          `json:"x402Version"`
		Scheme      string       `json:"scheme"`
		Network     string       `json:"network"`
		Payload     exactPayload `json:"payload"`
	} `json:"paymentPayload"`
	PaymentRequirements *struct {
		Scheme            string          `json:"scheme"`
		Network           string          `json:"network"`
		MaxAmountRequired string          `json:"maxAmountRequired"`
		Resource          string          `json:"resource"`
		Description       string          `json:"description"`
		MimeType          string          `json:"mimeType"`
		OutputSchema      json.RawMessage `json:"outputSchema"`
		PayTo             string          `json:"payTo"`
		MaxTimeoutSeconds int             `json:"maxTimeoutSeconds"`
		Asset             string          `json:"asset"`
		Extra             *extra          `json:"extra"`
	} `json:"paymentRequirements"`
	SyncSettle *bool `json:"syncSettle"`
}

func strictDecode(body []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	return dec.Decode(v)
}

var (
	canonicalSig   = regexp.MustCompile(`^0x[0-9a-f]{128}(1b|1c)$`)
	canonicalNonce = regexp.MustCompile(`^0x[0-9a-f]{64}$`)
	canonicalUint  = regexp.MustCompile(`^(0|[1-9][0-9]{0,77})$`)
)

// checkPayload insists on the canonical spelling the paywall forwards (the
// parsed authorization, not the client's strings): lower-case hex signature
// with v = 27/28, EIP-55 addresses, lower-case nonce, decimals without
// leading zeros.
func checkPayload(p exactPayload) error {
	a := p.Authorization
	if !canonicalSig.MatchString(p.Signature) {
		return fmt.Errorf("signature must be 65 bytes of lower-case 0x hex with v = 27 or 28")
	}
	if a.From == "" || a.To == "" || a.Value == "" || a.ValidAfter == "" || a.ValidBefore == "" || len(a.Nonce) != 66 {
		return fmt.Errorf("authorization is incomplete")
	}
	for _, addr := range []string{a.From, a.To} {
		if !common.IsHexAddress(addr) || common.HexToAddress(addr).Hex() != addr {
			return fmt.Errorf("address %q is not EIP-55 checksummed 0x hex", addr)
		}
	}
	if !canonicalNonce.MatchString(a.Nonce) {
		return fmt.Errorf("nonce is not lower-case 0x hex")
	}
	for _, v := range []string{a.Value, a.ValidAfter, a.ValidBefore} {
		if !canonicalUint.MatchString(v) {
			return fmt.Errorf("%q is not a canonical decimal", v)
		}
	}
	return nil
}

func (s *Server) checkShape(op string, body []byte) (reqShape, error) {
	if s.API == "v1" {
		var b bodyV1
		if err := strictDecode(body, &b); err != nil {
			return reqShape{}, fmt.Errorf("old API body: %v", err)
		}
		pr := b.PaymentRequirements
		switch {
		case b.X402Version != 1 || b.PaymentPayload.X402Version != 1:
			return reqShape{}, fmt.Errorf("old API needs x402Version 1")
		case b.ChainIndex != "196":
			return reqShape{}, fmt.Errorf("chainIndex must be \"196\"")
		case b.PaymentPayload.Scheme != "exact" || b.PaymentPayload.Network == "":
			return reqShape{}, fmt.Errorf("paymentPayload needs scheme and network")
		case pr == nil || pr.Scheme != "exact" || pr.MaxAmountRequired == "" || pr.PayTo == "" || pr.Asset == "" || pr.Extra == nil:
			return reqShape{}, fmt.Errorf("paymentRequirements incomplete")
		}
		return shapeOf(op, b.SyncSettle, b.PaymentPayload.Payload, pr.Network, pr.MaxAmountRequired, pr.Asset, pr.PayTo, *pr.Extra)
	}
	var b bodyV2
	if err := strictDecode(body, &b); err != nil {
		return reqShape{}, fmt.Errorf("new API body: %v", err)
	}
	acc, pr := b.PaymentPayload.Accepted, b.PaymentRequirements
	complete := func(r *reqV2) bool {
		return r != nil && r.Scheme == "exact" && r.Network != "" && r.Amount != "" && r.Asset != "" &&
			r.PayTo != "" && r.MaxTimeoutSeconds > 0 && r.Extra != nil && r.Extra.Name != "" && r.Extra.Version != ""
	}
	switch {
	case b.X402Version != 2 || b.PaymentPayload.X402Version != 2:
		return reqShape{}, fmt.Errorf("new API needs x402Version 2")
	case !complete(acc) || !complete(pr):
		return reqShape{}, fmt.Errorf("accepted and paymentRequirements must be complete v2 requirements")
	case !sameReq(*acc, *pr):
		return reqShape{}, fmt.Errorf("accepted does not match paymentRequirements")
	}
	return shapeOf(op, b.SyncSettle, b.PaymentPayload.Payload, pr.Network, pr.Amount, pr.Asset, pr.PayTo, *pr.Extra)
}

// shapeOf finishes the checks both APIs share (syncSettle on settle only, the
// payload's canonical form) and returns the request's shape.
func shapeOf(op string, syncSettle *bool, p exactPayload, network, amount, asset, payTo string, e extra) (reqShape, error) {
	if (op == "settle") != (syncSettle != nil) || (syncSettle != nil && !*syncSettle) {
		return reqShape{}, fmt.Errorf("syncSettle must be true on settle and absent on verify")
	}
	if err := checkPayload(p); err != nil {
		return reqShape{}, err
	}
	a := p.Authorization
	return reqShape{from: a.From, nonce: a.Nonce, network: network, payload: p,
		amount: amount, asset: asset, payTo: payTo, domainName: e.Name, domainVers: e.Version}, nil
}

// sameReq compares two complete requirements field by field.
func sameReq(a, b reqV2) bool {
	ea, eb := *a.Extra, *b.Extra
	a.Extra, b.Extra = nil, nil
	return a == b && ea == eb
}

func (s *Server) envelope(w http.ResponseWriter, status int, code, msg string, data any) {
	env := map[string]any{"code": code, "msg": msg, "data": data}
	if s.NumericCode {
		var n int
		fmt.Sscan(code, &n)
		env["code"] = n
	}
	if data != nil && s.API == "v1" {
		env["data"] = []any{data}
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(env)
}

func (s *Server) answerVerify(w http.ResponseWriter, req reqShape) {
	s.mu.Lock()
	reason := s.verifyFalse
	s.mu.Unlock()
	d := map[string]any{"isValid": reason == "", "payer": req.from}
	if reason != "" {
		d["invalidReason"], d["invalidMessage"] = reason, "scripted"
	}
	s.envelope(w, http.StatusOK, "0", "", d)
}

func (s *Server) answerSettle(w http.ResponseWriter, req reqShape) {
	s.mu.Lock()
	fail, state := s.settleFail, s.settleState
	key := strings.ToLower(req.from + "|" + req.nonce)
	_, used := s.byNonce[key]
	tx := TxHash(req.from, req.nonce)
	if s.settleTx != "" {
		tx = s.settleTx
	}
	if fail == "" && !used {
		s.byNonce[key] = tx
		if state == "" {
			state = "success"
		}
		s.txStatus[tx] = state
	}
	s.mu.Unlock()
	switch {
	case used:
		fail = "nonce_used" // the chain refuses a second transferWithAuthorization
	}
	success := fail == "" && state == "success"
	if s.API == "v1" {
		d := map[string]any{"chainIndex": "196", "chainName": "X Layer", "success": success, "payer": req.from, "txHash": ""}
		if fail == "" {
			d["txHash"] = tx
		} else {
			d["errorMsg"] = fail
		}
		s.envelope(w, http.StatusOK, "0", "", d)
		return
	}
	d := map[string]any{"success": success, "payer": req.from, "network": req.network, "transaction": "", "status": state}
	if fail != "" {
		d["errorReason"], d["errorMessage"], d["status"] = fail, "scripted", "failed"
	} else {
		d["transaction"] = tx
	}
	s.envelope(w, http.StatusOK, "0", "", d)
}

func (s *Server) answerStatus(ctx context.Context, w http.ResponseWriter, chain Chain, tx string) {
	s.mu.Lock()
	st, ok := s.txStatus[tx]
	s.mu.Unlock()
	if ok && chain != nil && st == "pending" {
		st = s.chainStatus(ctx, chain, tx)
	}
	if !ok {
		s.envelope(w, http.StatusOK, "0", "", map[string]any{"success": false, "errorReason": "not_found", "transaction": tx, "status": ""})
		return
	}
	s.envelope(w, http.StatusOK, "0", "", map[string]any{"success": st == "success", "status": st, "transaction": tx, "network": "eip155:196"})
}

// Verify invalid reasons of the chain checks: the x402 exact scheme's names
// (https://github.com/coinbase/x402/blob/main/specs/schemes/exact/scheme_exact_evm.md).
const (
	ReasonRecipient    = "invalid_exact_evm_payload_recipient_mismatch"
	ReasonValue        = "invalid_exact_evm_payload_authorization_value_mismatch"
	ReasonValidAfter   = "invalid_exact_evm_payload_authorization_valid_after"
	ReasonValidBefore  = "invalid_exact_evm_payload_authorization_valid_before"
	ReasonNonceUsed    = "invalid_exact_evm_nonce_already_used"
	ReasonInsufficient = "insufficient_funds"
	ReasonSignature    = "invalid_exact_evm_payload_signature"
	ReasonSimulation   = "invalid_transaction_state"
	ReasonNetwork      = "invalid_network"
)

// authorization parses the forwarded payload (its spelling was checked by checkPayload).
func (req reqShape) authorization() (localchain.Authorization, error) {
	a := req.payload.Authorization
	num := func(v string) *big.Int { n, _ := new(big.Int).SetString(v, 10); return n }
	sig := common.FromHex(req.payload.Signature)
	if len(sig) != 65 {
		return localchain.Authorization{}, fmt.Errorf("signature is not 65 bytes")
	}
	return localchain.Authorization{From: common.HexToAddress(a.From), To: common.HexToAddress(a.To), Value: num(a.Value),
		ValidAfter: num(a.ValidAfter), ValidBefore: num(a.ValidBefore), Nonce: common.HexToHash(a.Nonce), Signature: sig}, nil
}

// checkOnChain is verify's judgement: "" when the authorization would settle.
// Settle repeats only the checks before the balance (simulate false), like the
// x402 reference facilitator, which does not simulate again before sending: a
// balance spent in between makes a transaction that reverts on-chain.
func (s *Server) checkOnChain(ctx context.Context, chain Chain, req reqShape, simulate bool) (reason, msg string) {
	a, err := req.authorization()
	if err != nil {
		return ReasonSignature, err.Error()
	}
	if req.network != "eip155:196" && req.network != "196" && req.network != "x-layer" {
		return ReasonNetwork, "network " + req.network
	}
	token := common.HexToAddress(req.asset)
	now := s.Now().Unix()
	switch {
	case !strings.EqualFold(a.To.Hex(), req.payTo):
		return ReasonRecipient, "authorization.to is not payTo"
	case a.Value.String() != req.amount:
		return ReasonValue, "authorization.value is not the required amount"
	case a.ValidAfter.Cmp(big.NewInt(now)) > 0:
		return ReasonValidAfter, "not valid yet"
	case a.ValidBefore.Cmp(big.NewInt(now+6)) < 0: // 6 s for block inclusion, as the x402 facilitators allow
		return ReasonValidBefore, "expires too soon"
	}
	used, err := chain.AuthorizationState(ctx, token, a.From, a.Nonce)
	if err != nil {
		return ReasonSimulation, "authorizationState: " + err.Error()
	}
	if used {
		return ReasonNonceUsed, "authorization already used or cancelled"
	}
	if !simulate {
		return "", ""
	}
	bal, err := chain.BalanceOf(ctx, token, a.From)
	if err != nil {
		return ReasonSimulation, "balanceOf: " + err.Error()
	}
	if bal.Cmp(a.Value) < 0 {
		return ReasonInsufficient, "balance below the authorized value"
	}
	if err := chain.SimulateTransfer(ctx, token, a); err != nil {
		var re *localchain.RevertError
		if errors.As(err, &re) && re.Name == "InvalidSignature" {
			return ReasonSignature, "the token refused the signature"
		}
		return ReasonSimulation, "transferWithAuthorization simulation: " + err.Error()
	}
	return "", ""
}

func (s *Server) verifyOnChain(ctx context.Context, w http.ResponseWriter, chain Chain, req reqShape) {
	s.mu.Lock()
	scripted := s.verifyFalse
	s.mu.Unlock()
	reason, msg := scripted, "scripted"
	if reason == "" {
		reason, msg = s.checkOnChain(ctx, chain, req, true)
	}
	d := map[string]any{"isValid": reason == "", "payer": req.from}
	if reason != "" {
		d["invalidReason"], d["invalidMessage"] = reason, msg
	}
	s.envelope(w, http.StatusOK, "0", "", d)
}

// settleOnChain sends transferWithAuthorization and answers with its hash: after
// the block when synchronous (success or failed by the receipt; timeout when no
// block came within SyncWait), at once when scripted "pending".
func (s *Server) settleOnChain(ctx context.Context, w http.ResponseWriter, chain Chain, req reqShape) {
	s.mu.Lock()
	fail, state, override := s.settleFail, s.settleState, s.settleTx
	key := strings.ToLower(req.from + "|" + req.nonce)
	_, sent := s.byNonce[key]
	wait := s.SyncWait
	s.mu.Unlock()
	if wait <= 0 {
		wait = 5 * time.Second
	}
	answer := func(status, tx, reason, msg string) {
		if s.API == "v1" {
			d := map[string]any{"chainIndex": "196", "chainName": "X Layer", "success": status == "success", "payer": req.from, "txHash": tx}
			if reason != "" {
				d["errorMsg"] = reason
			}
			s.envelope(w, http.StatusOK, "0", "", d)
			return
		}
		d := map[string]any{"success": status == "success", "payer": req.from, "network": req.network, "transaction": tx, "status": status}
		if reason != "" {
			d["errorReason"], d["errorMessage"] = reason, msg
		}
		s.envelope(w, http.StatusOK, "0", "", d)
	}
	if sent {
		fail = "nonce_used"
	}
	if fail == "" {
		if reason, msg := s.checkOnChain(ctx, chain, req, false); reason != "" {
			answer("failed", "", reason, msg)
			return
		}
	}
	if fail != "" {
		answer("failed", "", fail, "scripted")
		return
	}
	a, _ := req.authorization()
	hash, err := chain.SubmitTransfer(ctx, common.HexToAddress(req.asset), a)
	if err != nil {
		answer("failed", "", "unexpected_settle_error", err.Error())
		return
	}
	tx := strings.ToLower(hash.Hex())
	reported := tx
	if override != "" {
		reported = override
	}
	s.mu.Lock()
	s.byNonce[key] = tx
	s.txStatus[reported] = "pending"
	s.mu.Unlock()
	if state == "pending" {
		answer("pending", reported, "", "")
		return
	}
	wctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	rc, err := chain.WaitMined(wctx, hash)
	switch {
	case err != nil:
		answer("timeout", reported, "", "")
	case rc.Status != types.ReceiptStatusSuccessful:
		s.setStatus(reported, "failed")
		answer("failed", reported, "transaction_reverted", "the settlement transaction reverted")
	case state == "timeout":
		answer("timeout", reported, "", "")
	default:
		s.setStatus(reported, "success")
		answer("success", reported, "", "")
	}
}

func (s *Server) setStatus(tx, st string) { s.mu.Lock(); s.txStatus[tx] = st; s.mu.Unlock() }

// chainStatus reads a pending settlement's receipt: success, failed, or still pending.
func (s *Server) chainStatus(ctx context.Context, chain Chain, tx string) string {
	rc, err := chain.Receipt(ctx, common.HexToHash(tx))
	if err != nil || rc == nil {
		return "pending"
	}
	st := "failed"
	if rc.Status == types.ReceiptStatusSuccessful {
		st = "success"
	}
	s.setStatus(tx, st)
	return st
}
