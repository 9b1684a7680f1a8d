package tokenwallet

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/insforge/edge-functions-go/shared/config"
	"github.com/insforge/edge-functions-go/shared/httpapi"
	"github.com/insforge/edge-functions-go/shared/insforge"
	"github.com/insforge/edge-functions-go/shared/internal/positive"
	"github.com/insforge/edge-functions-go/shared/launch"
	"github.com/insforge/edge-functions-go/shared/lookupguard"
	"github.com/insforge/edge-functions-go/shared/metrics"
	"github.com/insforge/edge-functions-go/shared/signer"
	"github.com/insforge/edge-functions-go/shared/siwe"
	"github.com/insforge/edge-functions-go/shared/tokenedge"
)

// WalletProvider is the wallet bridge's provider name (function token-wallet,
// metric dimension "wallet").
const WalletProvider = "wallet"

// Config is the wallet bridge's environment: the token edge's (signer,
// ALLOWED_ORIGINS, whose hosts are the domains a sign-in may name), the chain,
// the optional RPC node for contract wallets, and InsForge (the used-nonce
// record, loaded as its own spec).
type Config struct {
	tokenedge.Config
	// ChainID is the only chain a sign-in may name (WALLET_CHAIN_ID, X Layer by default).
	ChainID int64 `envconfig:"WALLET_CHAIN_ID" default:"196"`
	// RPCURL verifies smart-contract wallets (EIP-1271); unset, they are refused.
	RPCURL   string          `envconfig:"XLAYER_RPC_URL"`
	InsForge insforge.Config `ignored:"true"`
}

// Validate checks the token edge's settings; ALLOWED_ORIGINS must list exact origins
// (a sign-in names its domain, "*" names none), and the RPC URL must be https
// (or http to loopback).
func (c Config) Validate() error {
	if err := c.Config.Validate(); err != nil {
		return err
	}
	if len(c.AllowedOrigins) == 0 {
		return config.Invalid("ALLOWED_ORIGINS", "must list the app's origins: a Sign-In with Ethereum message names its domain")
	}
	for _, o := range c.AllowedOrigins {
		if o == "*" {
			return config.Invalid("ALLOWED_ORIGINS", "must list exact origins for the wallet bridge (not *): a sign-in names its domain")
		}
	}
	if c.ChainID <= 0 {
		return config.Invalid("WALLET_CHAIN_ID", "must be a positive EIP-155 chain id")
	}
	if c.RPCURL != "" {
		if _, err := config.CheckURL("XLAYER_RPC_URL", c.RPCURL); err != nil {
			return err
		}
	}
	return nil
}

// Deps are the wallet bridge's collaborators.
type Deps struct {
	Signer *signer.Signer
	Nonces *siwe.Nonces
	// Store records used nonces (InsforgeNonces deployed).
	Store siwe.NonceStore
	// Contracts verifies EIP-1271 wallets; nil refuses them.
	Contracts siwe.ContractChecker
	// Guard bounds EIP-1271 calls (nil: lookupguard defaults, per instance).
	Guard   *lookupguard.Guard
	Now     func() time.Time
	Timeout time.Duration
	Logger  *slog.Logger
	Metrics *metrics.Recorder
}

// Limits of a sign-in request: the message is capped at siwe.MaxMessageBytes,
// a contract wallet's signature at a few KiB.
const WalletMaxBodyBytes = 16 << 10

// NonceResponse is the body of GET /token/wallet/nonce.
type NonceResponse struct {
	Nonce     string `json:"nonce"`
	ExpiresAt int64  `json:"expires_at"`
	ChainID   int64  `json:"chain_id"`
}

// WalletRequest is the body of POST /token/wallet.
type WalletRequest struct {
	Message   string `json:"message"`
	Signature string `json:"signature"`
}

// New returns the wallet bridge: GET …/nonce issues a nonce, POST takes
// a signed EIP-4361 message and mints a token whose subject is the wallet's
// CAIP-10 account id.
func New(c Config, d Deps) (http.Handler, error) {
	d.Timeout = positive.Or(d.Timeout, tokenedge.DefaultTimeout)
	if d.Logger == nil {
		d.Logger = slog.Default()
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	v, err := siwe.NewVerifier(siwe.Options{Origins: c.AllowedOrigins, ChainID: c.ChainID, Nonces: d.Nonces, Store: d.Store,
		Contracts: d.Contracts, Guard: d.Guard, Now: d.Now})
	if err != nil {
		return nil, config.Invalid("ALLOWED_ORIGINS", "%v", err)
	}
	h := &wallet{v: v, s: d.Signer, nonces: d.Nonces, chainID: c.ChainID, now: d.Now, timeout: d.Timeout, metrics: d.Metrics}
	return httpapi.Chain(httpapi.HandlerFunc(h.serve),
		httpapi.Recover(),
		httpapi.RequestID(d.Logger.With(slog.String("provider", WalletProvider))),
		httpapi.CORS{
			AllowedOrigins: c.AllowedOrigins,
			AllowMethods:   []string{http.MethodPost, http.MethodGet, http.MethodOptions},
			AllowHeaders:   []string{"Content-Type", "X-Request-Id"},
			ExposeHeaders:  []string{"X-Request-Id", "Retry-After"},
		}.Middleware(),
		httpapi.Limits(tokenedge.MaxHeaderBytes, WalletMaxBodyBytes),
	), nil
}

// Build is the cold start of functions/token-wallet.
func Build(rt launch.Runtime) (http.Handler, error) {
	var c Config
	if err := config.Load(&c); err != nil {
		return nil, err
	}
	if err := config.Load(&c.InsForge); err != nil {
		return nil, err
	}
	return walletFromConfig(c, rt.Log(), rt.Metrics, rt.Clock())
}

// FromEnv is Build without a launch.Runtime (tests, the local runner).
func FromEnv(log *slog.Logger) (http.Handler, error) {
	var c Config
	if err := config.Load(&c); err != nil {
		return nil, err
	}
	if err := config.Load(&c.InsForge); err != nil {
		return nil, err
	}
	return walletFromConfig(c, log, metrics.New(os.Stdout, "token-"+WalletProvider), time.Now)
}

func walletFromConfig(c Config, log *slog.Logger, m *metrics.Recorder, now func() time.Time) (http.Handler, error) {
	s, err := signer.New(c.Config.Config, signer.Options{Now: now})
	if err != nil {
		return nil, err
	}
	ic, err := insforge.FromConfig(c.InsForge)
	if err != nil {
		return nil, err
	}
	d := Deps{Signer: s, Nonces: siwe.NewNonces([]byte(c.Secret), 0), Store: InsforgeNonces{Client: ic},
		Now: now, Logger: log, Metrics: m}
	if c.RPCURL != "" {
		d.Contracts = siwe.NewRPC(c.RPCURL)
	}
	return New(c, d)
}

type wallet struct {
	v       *siwe.Verifier
	s       *signer.Signer
	nonces  *siwe.Nonces
	chainID int64
	now     func() time.Time
	timeout time.Duration
	metrics *metrics.Recorder
}

func (h *wallet) serve(w http.ResponseWriter, r *http.Request) error {
	if strings.HasSuffix(strings.TrimSuffix(r.URL.Path, "/"), "/nonce") {
		if r.Method != http.MethodGet {
			return methodNotAllowed(http.MethodGet)
		}
		return h.nonce(w)
	}
	if r.Method != http.MethodPost {
		return methodNotAllowed(http.MethodPost)
	}
	account, exp, contract, err := h.signIn(w, r)
	if err = walletError(err); err != nil {
		tokenedge.CountRefused(h.metrics, WalletProvider, err)
		return err
	}
	tokenedge.LogMinted(w, r, h.metrics, WalletProvider,
		slog.String("subject", account), slog.Bool("contract_wallet", contract), slog.Int64("expires_at", exp))
	return nil
}

func methodNotAllowed(allow string) error {
	e := httpapi.MethodNotAllowed.New("use " + allow)
	e.Header = http.Header{"Allow": {allow + ", OPTIONS"}}
	return e
}

func (h *wallet) nonce(w http.ResponseWriter) error {
	n, exp, err := h.nonces.Issue(h.now())
	if err != nil {
		return err
	}
	w.Header().Set("Cache-Control", "no-store")
	httpapi.WriteJSON(w, http.StatusOK, NonceResponse{Nonce: n, ExpiresAt: exp.Unix(), ChainID: h.chainID})
	return nil
}

func (h *wallet) signIn(w http.ResponseWriter, r *http.Request) (account string, exp int64, contract bool, err error) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return "", 0, false, err
	}
	var req WalletRequest
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil || dec.More() {
		return "", 0, false, httpapi.InvalidRequest.Wrap(`send {"message": "<EIP-4361 message>", "signature": "0x…"} as JSON`, err)
	}
	if req.Message == "" || req.Signature == "" {
		return "", 0, false, httpapi.InvalidRequest.New("message and signature are both required")
	}
	ctx, cancel := context.WithTimeout(r.Context(), h.timeout)
	defer cancel()
	res, err := h.v.Verify(ctx, req.Message, req.Signature)
	if err != nil {
		return "", 0, false, err
	}
	// exp = min(now + TOKEN_TTL, the message's Expiration Time).
	tok, err := h.s.MintWallet(res.Account, res.NotAfter)
	if errors.Is(err, signer.ErrNotAfterPassed) {
		return "", 0, false, &siwe.Error{Kind: siwe.KindExpired, Message: "the message's Expiration Time has passed", Err: err}
	}
	if err != nil {
		return "", 0, false, fmt.Errorf("mint wallet token: %w", err)
	}
	tokenedge.WriteToken(w, tok)
	return res.Account, tok.ExpiresAt.Unix(), res.Contract, nil
}

// walletError maps a refused sign-in to its HTTP answer: every kind has its
// own code (tokenedge.Refusal), a 401 challenges with SIWE error="<code>", a 503
// asks for a retry in 2s (1s when throttled: the budget refills at
// lookupguard.DefaultPerSecond a second). Other errors pass through.
func walletError(err error) error {
	var se *siwe.Error
	if !errors.As(err, &se) {
		return err
	}
	retry := 2 * time.Second
	if se.Kind == siwe.KindThrottled {
		retry = time.Second
	}
	code := se.Kind.Code()
	if e, ok := tokenedge.Refusal(code, se.Message, se.Err, `SIWE error="`+code+`"`, retry); ok {
		return e
	}
	return err
}

// InsforgeNonces is the used-nonce record in InsForge (wallet_nonce_consume,
// infra/migrations): one row per used nonce until it expires, shared by every
// instance of the function.
type InsforgeNonces struct {
	// Client authenticates with the service key.
	Client *insforge.Client
}

// Consume records nonce as used; siwe.ErrNonceUsed when it was already. The
// call is not retried: a lost answer leaves the nonce possibly consumed, and
// the client signs in again with a new one.
func (s InsforgeNonces) Consume(ctx context.Context, nonce string, expiresAt time.Time) error {
	var fresh bool
	err := s.Client.RPC(ctx, "wallet_nonce_consume",
		map[string]any{"p_nonce": nonce, "p_expires_at": expiresAt.UTC().Format(time.RFC3339)}, &fresh)
	if err != nil {
		return fmt.Errorf("wallet_nonce_consume: %w", err)
	}
	if !fresh {
		return siwe.ErrNonceUsed
	}
	return nil
}
