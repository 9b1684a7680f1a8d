// Package tokenedge is the HTTP edge every token bridge shares, the provider
// bridges (shared/bridge) and the wallet bridge (shared/tokenwallet): the mint
// edge's configuration, the 200 token response, the minted log line and the
// TokensMinted/TokensRefused metrics, the refusal of a credential as an HTTP
// answer, and the request limits and deadline.
//
// It exists apart from shared/bridge so that the wallet bridge does not link
// shared/identity: providers register themselves there in an init, so linking
// identity links every provider into the binary. It must never import
// shared/identity (archcheck R7).
package tokenedge

import (
	"errors"
	"log/slog"
	"net/http"
	"time"

	"github.com/insforge/edge-functions-go/shared/config"
	"github.com/insforge/edge-functions-go/shared/httpapi"
	"github.com/insforge/edge-functions-go/shared/metrics"
	"github.com/insforge/edge-functions-go/shared/signer"
)

// Config is the environment every token bridge shares (besides its provider's
// or the wallet's own).
type Config struct {
	signer.Config
	// AllowedOrigins is the exact list of browser origins (ALLOWED_ORIGINS).
	AllowedOrigins config.CSV `envconfig:"ALLOWED_ORIGINS"`
}

// Validate checks the signer settings and that ALLOWED_ORIGINS lists exact
// origins (config.Load calls it).
func (c Config) Validate() error {
	if err := c.Config.Validate(); err != nil {
		return err
	}
	return config.CheckOrigins("ALLOWED_ORIGINS", c.AllowedOrigins)
}

// Metric names (namespace metrics.Namespace). Both carry the provider dimension;
// TokensRefused also carries the error code (a small fixed set, never user data).
const (
	MetricMinted  = "TokensMinted"
	MetricRefused = "TokensRefused"
)

// DefaultTimeout bounds one verification.
const DefaultTimeout = 6 * time.Second

// MaxHeaderBytes caps a token request's headers: a credential is a few KiB.
const MaxHeaderBytes = httpapi.DefaultMaxHeaderBytes

// Response is the 200 body of a minted token.
type Response struct {
	Token     string `json:"token"`
	TokenType string `json:"token_type"`
	ExpiresIn int64  `json:"expires_in"`
	ExpiresAt int64  `json:"expires_at"`
}

// WriteToken answers 200 with tok, never cached.
func WriteToken(w http.ResponseWriter, tok signer.Token) {
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Pragma", "no-cache")
	httpapi.WriteJSON(w, http.StatusOK, Response{Token: tok.Value, TokenType: "Bearer",
		ExpiresIn: int64(tok.TTL / time.Second), ExpiresAt: tok.ExpiresAt.Unix()})
}

// LogMinted logs a minted token on one line that carries the TokensMinted metric
// (dimension provider) when m is set: the largest share of what a successful
// request costs in CloudWatch. Without m the line is only logged.
func LogMinted(w http.ResponseWriter, r *http.Request, m *metrics.Recorder, provider string, attrs ...slog.Attr) {
	if m == nil {
		httpapi.Logger(r.Context()).LogAttrs(r.Context(), slog.LevelInfo, "token minted", attrs...)
		return
	}
	props := []metrics.Prop{{Key: "request_id", Value: w.Header().Get("X-Request-Id")}}
	for _, a := range attrs {
		props = append(props, metrics.Prop{Key: a.Key, Value: a.Value.Any()})
	}
	m.Emit("token minted", MetricMinted, 1, "Count", map[string]string{"provider": provider}, props...)
}

// CountRefused counts a refused request as TokensRefused with its error code
// (internal_error for an error that is no *httpapi.Error); nil m counts nothing.
func CountRefused(m *metrics.Recorder, provider string, err error) {
	if m == nil {
		return
	}
	code := httpapi.Internal.Name()
	var e *httpapi.Error
	if errors.As(err, &e) {
		code = e.Code.Name()
	}
	m.Count(MetricRefused, map[string]string{"provider": provider, "code": code})
}
