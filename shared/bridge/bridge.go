// Package bridge is the token endpoint every provider bridge serves: it takes the
// provider's credential (Authorization: Bearer or the provider's cookie), has the
// provider verify it, and mints an InsForge token for the verified subject. The
// role of a minted token is always "authenticated" (the signer cannot mint
// anything else), and nothing is minted on any error path.
package bridge

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/insforge/edge-functions-go/shared/config"
	"github.com/insforge/edge-functions-go/shared/httpapi"
	"github.com/insforge/edge-functions-go/shared/identity"
	"github.com/insforge/edge-functions-go/shared/internal/positive"
	"github.com/insforge/edge-functions-go/shared/launch"
	"github.com/insforge/edge-functions-go/shared/metrics"
	"github.com/insforge/edge-functions-go/shared/signer"
	"github.com/insforge/edge-functions-go/shared/tokenedge"
)

// Config is the environment every bridge shares (besides its provider's): the
// token edge's, which the wallet bridge shares too.
type Config = tokenedge.Config

// Deps are the bridge's collaborators and tuning: Build makes them from the
// environment, tests inject them.
type Deps struct {
	Provider *identity.Provider
	Signer   *signer.Signer
	// Timeout bounds verification, provider calls included. Default 6s: one
	// provider call (5s client timeout) plus margin, under API Gateway's 30s.
	Timeout time.Duration
	Logger  *slog.Logger
	// Metrics receives TokensMinted and TokensRefused (CloudWatch EMF); nil records nothing.
	Metrics *metrics.Recorder
}

// MaxBodyBytes caps a token request's body, which is ignored.
const MaxBodyBytes = 4 << 10

// New returns the token endpoint for d.Provider, minting with d.Signer and
// answering browsers from c.AllowedOrigins.
func New(c Config, d Deps) http.Handler {
	d.Timeout = positive.Or(d.Timeout, tokenedge.DefaultTimeout)
	if d.Logger == nil {
		d.Logger = slog.Default()
	}
	h := &handler{p: d.Provider, s: d.Signer, timeout: d.Timeout, metrics: d.Metrics, provider: Slug(d.Provider.Name)}
	return httpapi.Chain(httpapi.HandlerFunc(h.serve),
		httpapi.Recover(),
		httpapi.RequestID(d.Logger.With(slog.String("provider", d.Provider.Name))),
		httpapi.CORS{
			AllowedOrigins: c.AllowedOrigins,
			AllowMethods:   []string{http.MethodPost, http.MethodGet, http.MethodOptions},
			AllowHeaders:   []string{"Authorization", "Content-Type", "X-Request-Id"},
			ExposeHeaders:  []string{"X-Request-Id", "Retry-After"}, // browsers read Retry-After on 503 only if exposed
		}.Middleware(),
		httpapi.Limits(tokenedge.MaxHeaderBytes, MaxBodyBytes),
		httpapi.Methods(http.MethodPost, http.MethodGet),
	)
}

// Build returns the cold-start builder of a bridge function: it loads the
// provider's configuration C from the environment (validated, naming the variable
// at fault), then the bridge's own Config. Bridges differ only by C and its
// constructor, so every functions/token-*/main.go is one call. The metrics are
// the Runtime's: launch names them after the function, functions/token-<Slug>.
func Build[C any](newProvider func(C, identity.Options) (*identity.Provider, error)) func(launch.Runtime) (http.Handler, error) {
	return func(rt launch.Runtime) (http.Handler, error) {
		var c C
		if err := config.Load(&c); err != nil {
			return nil, err
		}
		return fromEnv(rt.Log(), rt.Metrics, func(o identity.Options) (*identity.Provider, error) { return newProvider(c, o) })
	}
}

// FromEnv loads Config from the environment, then builds the provider (so a bad
// INSFORGE_JWT_SECRET fails init before any provider call starts) and the
// endpoint, recording metrics to stdout under functions/token-<Slug>: the entry
// the tests and the local runner use without a launch.Runtime.
func FromEnv(log *slog.Logger, provider func(identity.Options) (*identity.Provider, error)) (http.Handler, error) {
	return fromEnv(log, nil, provider)
}

// fromEnv is FromEnv with the recorder given (nil: a new one on stdout).
func fromEnv(log *slog.Logger, m *metrics.Recorder, provider func(identity.Options) (*identity.Provider, error)) (http.Handler, error) {
	var c Config
	if err := config.Load(&c); err != nil {
		return nil, err
	}
	s, err := signer.New(c.Config, signer.Options{})
	if err != nil {
		return nil, err
	}
	p, err := provider(identity.Options{Logger: log})
	if err != nil {
		return nil, err
	}
	if m == nil {
		// The function is named after the provider (functions/token-<slug>).
		m = metrics.New(os.Stdout, "token-"+Slug(p.Name))
	}
	return New(c, Deps{Provider: p, Signer: s, Logger: log, Metrics: m}), nil
}

// Slug is the metric dimension value of a provider name ("Better Auth" → "better-auth").
func Slug(name string) string {
	return strings.ReplaceAll(strings.ToLower(strings.TrimSpace(name)), " ", "-")
}

type handler struct {
	p        *identity.Provider
	s        *signer.Signer
	timeout  time.Duration
	metrics  *metrics.Recorder
	provider string
}

// serve counts every outcome once: minted, or refused with its error code.
func (h *handler) serve(w http.ResponseWriter, r *http.Request) error {
	m, err := h.exchange(w, r)
	if err = httpError(err); err != nil {
		tokenedge.CountRefused(h.metrics, h.provider, err)
		return err
	}
	attrs := []slog.Attr{slog.String("subject", m.subject), slog.String("source", m.source),
		slog.Bool("email", m.email), slog.Int64("expires_at", m.expiresAt), slog.Bool("capped", m.capped)}
	if m.actor != "" {
		attrs = append(attrs, slog.String("actor", m.actor))
	}
	tokenedge.LogMinted(w, r, h.metrics, h.provider, attrs...)
	return nil
}

// minted is what the log line of a minted token says.
type minted struct {
	subject, source string
	email           bool
	expiresAt       int64
	// capped: the credential's expiry, not TOKEN_TTL, set exp.
	capped bool
	// actor is who acted in an impersonation the operator allowed; it is on every such mint.
	actor string
}

func (h *handler) exchange(w http.ResponseWriter, r *http.Request) (minted, error) {
	cred, err := credential(r, h.p.Cookies)
	if err != nil {
		return minted{}, err
	}
	ctx, cancel := context.WithTimeout(r.Context(), h.timeout)
	defer cancel()
	id, err := h.p.Verify(ctx, cred)
	if err != nil {
		return minted{}, err
	}
	// exp = min(now + TOKEN_TTL, the credential's expiry): sign-out and
	// revocation at the provider apply when the credential would have ended.
	tok, err := h.s.MintUntil(id.Subject, id.Email, id.ExpiresAt)
	if errors.Is(err, signer.ErrNotAfterPassed) {
		return minted{}, identity.Expired(h.p.Name, err)
	}
	if errors.Is(err, signer.ErrWalletSubject) {
		// A provider's user id never becomes a wallet's subject (eip155:…).
		return minted{}, identity.Invalid("the "+h.p.Name+" user id has the form of a wallet account id (eip155:…), "+
			"which only the wallet bridge mints", err)
	}
	if err != nil {
		return minted{}, err
	}
	m := minted{subject: id.Subject, source: "bearer", email: id.Email != "", expiresAt: tok.ExpiresAt.Unix(),
		capped: tok.TTL < h.s.TTL(), actor: id.Actor}
	if cred.Cookie != "" {
		m.source = "cookie"
	}
	tokenedge.WriteToken(w, tok)
	return m, nil
}

func missing(msg string) *httpapi.Error {
	e := httpapi.MissingCredential.New(msg)
	e.Header = http.Header{"Www-Authenticate": {`Bearer realm="insforge-token-bridge"`}}
	return e
}

// credential takes Authorization: Bearer when present (it wins over cookies, so a
// stale cookie cannot override what the app sends), else the first listed cookie.
// A listed cookie sent twice is refused, as two Authorization headers are: a
// sibling subdomain can plant a second cookie of the same name (cookie tossing),
// and which one comes first is up to the browser, so neither can be trusted.
func credential(r *http.Request, cookies []string) (identity.Credential, error) {
	auth := r.Header.Values("Authorization")
	switch {
	case len(auth) > 1:
		return identity.Credential{}, identity.Invalid("send exactly one Authorization header", nil)
	case len(auth) == 1:
		scheme, tok, ok := strings.Cut(strings.TrimSpace(auth[0]), " ")
		if !ok || !strings.EqualFold(scheme, "Bearer") {
			return identity.Credential{}, missing("Authorization must use the Bearer scheme: Authorization: Bearer <provider token>")
		}
		if tok = strings.TrimSpace(tok); tok == "" {
			return identity.Credential{}, missing("the Bearer token is empty")
		}
		return identity.Credential{Token: tok}, nil
	}
	sent := r.Cookies()
	for _, name := range cookies {
		var found []string
		for _, c := range sent {
			if c.Name == name {
				found = append(found, c.Value)
			}
		}
		if len(found) > 1 {
			return identity.Credential{}, identity.Invalid("the "+name+" cookie was sent more than once; "+
				"clear the duplicate (set by another subdomain?) or send Authorization: Bearer", nil)
		}
		if len(found) == 1 && found[0] != "" {
			return identity.Credential{Token: found[0], Cookie: name}, nil
		}
	}
	if len(cookies) > 0 {
		return identity.Credential{}, missing("send the provider credential as Authorization: Bearer <token> or in the " +
			strings.Join(cookies, " / ") + " cookie")
	}
	return identity.Credential{}, missing("send the provider token as Authorization: Bearer <token>")
}
