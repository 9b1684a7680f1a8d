// Package identity turns a sign-in provider's credential into a verified identity
// (subject, optional email). JWT providers share one JWKS verifier; opaque-session
// providers (Stytch session tokens, Better Auth sessions) call the provider's API.
// Providers differ only by configuration: one small file per provider maps its
// environment variables onto the shared verifiers.
//
// Errors are *Error values with a Kind (a credential that is not good, a provider
// that cannot be reached, ...), a message safe to show and the cause for the logs.
// This package knows nothing of HTTP: the bridge maps kinds to statuses and headers.
package identity

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/insforge/edge-functions-go/shared/internal/positive"
)

// Identity is who the provider says the caller is.
type Identity struct {
	// Subject is the provider's user id; it becomes the InsForge token's sub.
	Subject string
	// Email is set only when the provider asserts it verified, exactly
	// (email_verified === true or its documented equivalent); never derived or guessed.
	Email string
	// ExpiresAt is when the provider's credential stops being valid: the JWT's exp
	// or the opaque session's expiry. A minted token never outlives it.
	ExpiresAt time.Time
	// Actor is who acts on the subject's behalf (an impersonating admin), when the
	// provider says so and the operator allowed it; logged with every mint.
	Actor string
}

// Credential is what the caller presented.
type Credential struct {
	// Token is the bearer token or the cookie value, as received.
	Token string
	// Cookie names the cookie the token came from; empty for Authorization: Bearer.
	Cookie string
}

// Verifier checks a credential. It returns *Error values (KindInvalid and the
// other credential kinds for a bad credential, KindUnavailable when the provider
// cannot be reached); the bridge maps kinds to HTTP.
type Verifier interface {
	Verify(ctx context.Context, c Credential) (Identity, error)
}

// VerifierFunc adapts a function to Verifier.
type VerifierFunc func(ctx context.Context, c Credential) (Identity, error)

// Verify calls f.
func (f VerifierFunc) Verify(ctx context.Context, c Credential) (Identity, error) { return f(ctx, c) }

// Provider is a configured provider: its name, the cookies that may carry its
// credential (besides Authorization: Bearer) and its verifier.
type Provider struct {
	Name    string   // display name, e.g. "WorkOS"
	Cookies []string // cookie names, most preferred first; nil when tokens only travel as bearer
	Verifier
	closers []func()
	now     func() time.Time
}

// Verify runs the provider's verifier, then the rules every provider shares: a
// credential must say when it expires, and one with less than MinRemaining left
// is refused as expired (a minted token never outlives it, and a token of a
// second or two helps no one).
func (p *Provider) Verify(ctx context.Context, c Credential) (Identity, error) {
	id, err := p.Verifier.Verify(ctx, c)
	if err != nil {
		return Identity{}, err
	}
	if id.ExpiresAt.IsZero() {
		return Identity{}, Invalid("the "+p.Name+" credential does not say when it expires", nil)
	}
	now := time.Now
	if p.now != nil {
		now = p.now
	}
	if left := id.ExpiresAt.Sub(now()); left < MinRemaining {
		return Identity{}, Expired(p.Name, fmt.Errorf("credential expires in %s (minimum %s)", left.Truncate(time.Second), MinRemaining))
	}
	return id, nil
}

// Close stops background work (JWKS refresh). Functions never need it; tests do.
func (p *Provider) Close() {
	for _, c := range p.closers {
		c()
	}
}

// Options tune the outbound side of every provider. The zero value is production.
type Options struct {
	Logger *slog.Logger
	// Transport for outbound calls (JWKS and provider APIs); nil means a clone of
	// http.DefaultTransport.
	Transport http.RoundTripper
	// Timeout bounds each outbound call (http.Client.Timeout); the request context
	// bounds it further. Default 5s.
	Timeout time.Duration
	// RefreshInterval is how often the JWKS is refreshed in the background. Default 15m: a
	// rotated key is seen within that even when unknown-kid refetches are cooling down.
	RefreshInterval time.Duration
	// UnknownKIDCooldown is the minimum time between JWKS refetches caused by a
	// token with an unknown kid (an attacker can send any kid). Default 30s, as
	// jose's createRemoteJWKSet does.
	UnknownKIDCooldown time.Duration
	// Leeway is the clock skew allowed on exp, nbf and iat. Default 30s, max 60s.
	Leeway time.Duration
	// Now is the clock (tests). Default time.Now.
	Now func() time.Time
	// SessionLookupsPerSecond and SessionLookupBurst bound upstream opaque-session
	// lookups per instance (defaults 10/s, burst 20).
	SessionLookupsPerSecond float64
	SessionLookupBurst      int
	// NegativeCacheTTL and NegativeCacheSize bound the cache of credentials the
	// provider refused (defaults 30s, 4096 entries).
	NegativeCacheTTL  time.Duration
	NegativeCacheSize int
}

// Defaults.
const (
	DefaultTimeout            = 5 * time.Second
	DefaultRefreshInterval    = 15 * time.Minute
	DefaultUnknownKIDCooldown = 30 * time.Second
	// DefaultLeeway covers clock drift between the provider, Lambda and the caller.
	// Clerk tokens live 60s (nbf already 5s early) and providers recommend 5-30s;
	// 30s keeps the window small next to 5-minute-plus token lifetimes.
	DefaultLeeway = 30 * time.Second
	// MaxLeeway is the most clock skew accepted.
	MaxLeeway = 60 * time.Second
	// MaxResponseBytes caps every provider response (JWKS, Stytch, Better Auth).
	MaxResponseBytes = 1 << 20
	// MaxSubjectBytes caps the subject copied into the InsForge token.
	MaxSubjectBytes = 255
	// MaxCredentialBytes caps a credential before any parsing or provider call.
	MaxCredentialBytes = 16 << 10
	// MinRemaining is the least lifetime a credential must have left to be
	// exchanged. Below it the credential counts as expired: the client refreshes
	// it (every provider SDK does so before expiry) instead of getting a token of
	// a few seconds.
	MinRemaining = 5 * time.Second
)

func (o Options) withDefaults() Options {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Transport == nil {
		o.Transport = http.DefaultTransport.(*http.Transport).Clone()
	}
	o.Timeout = positive.Or(o.Timeout, DefaultTimeout)
	o.RefreshInterval = positive.Or(o.RefreshInterval, DefaultRefreshInterval)
	o.UnknownKIDCooldown = positive.Or(o.UnknownKIDCooldown, DefaultUnknownKIDCooldown)
	o.Leeway = min(positive.Or(o.Leeway, DefaultLeeway), MaxLeeway)
	o.SessionLookupsPerSecond = positive.Or(o.SessionLookupsPerSecond, DefaultSessionLookupsPerSecond)
	o.SessionLookupBurst = positive.Or(o.SessionLookupBurst, DefaultSessionLookupBurst)
	o.NegativeCacheTTL = positive.Or(o.NegativeCacheTTL, DefaultNegativeCacheTTL)
	o.NegativeCacheSize = positive.Or(o.NegativeCacheSize, DefaultNegativeCacheSize)
	return o
}

// Error codes, one per Kind (Kind.Code). The bridge answers each kind with the
// httpapi code of the same name (shared/bridge/errors.go), which carries its status.
const (
	// KindInvalid: the credential is not acceptable (forged, malformed, wrong issuer
	// or audience, ambiguous: two Authorization headers or the same cookie twice).
	CodeInvalidToken = "invalid_token"
	// KindExpired: the credential has expired or has less than MinRemaining left.
	CodeTokenExpired = "token_expired"
	// KindNotUserSession: a genuine credential, but not a user's session: a machine
	// (client-credentials) token, a token for another app, a third-party token.
	CodeNotUserSession = "not_user_session"
	// KindImpersonation: an impersonation token (act claim) while the operator has not allowed them.
	CodeImpersonationRefused = "impersonation_refused"
	// KindUnavailable: the provider (JWKS, discovery or session API) cannot be reached.
	CodeProviderUnavailable = "provider_unavailable"
	// KindThrottled: this instance is looking up too many opaque sessions right now; retry.
	CodeLookupThrottled = "session_lookup_throttled"
	// KindMisconfigured: the bridge's configuration contradicts the provider (found
	// after cold start, when discovery was unreachable at first).
	CodeMisconfigured = "bridge_misconfigured"
)

// AllCodes lists every error code of this package (documentation, tests).
var AllCodes = []string{CodeInvalidToken, CodeTokenExpired, CodeNotUserSession, CodeImpersonationRefused,
	CodeProviderUnavailable, CodeLookupThrottled, CodeMisconfigured}

// Invalid is a credential that is not acceptable (KindInvalid). message is shown
// to the client; cause is logged only.
func Invalid(message string, cause error) *Error {
	return &Error{Kind: KindInvalid, Message: message, Err: cause}
}

// Expired is an expired credential, or one with less than MinRemaining left (KindExpired).
func Expired(provider string, cause error) *Error {
	return &Error{Kind: KindExpired,
		Message: "the " + provider + " token has expired; get a fresh one from the provider and retry", Err: cause}
}

// NotUserSession is a genuine credential that is not a user's session (machine,
// third-party or another app's token). message says which rule failed and, where
// it could lock out a real setup, what to change.
func NotUserSession(message string, cause error) *Error {
	return &Error{Kind: KindNotUserSession, Message: message, Err: cause}
}

// ImpersonationRefused is a token that carries an act (actor) claim while the
// operator has not allowed impersonation; optIn names the variable that would.
func ImpersonationRefused(provider, optIn string) *Error {
	msg := "the " + provider + " token is an impersonation token (act claim); impersonation is not allowed by this bridge"
	if optIn != "" {
		msg += " (set " + optIn + "=true to allow it; the actor is then logged with every mint)"
	}
	return &Error{Kind: KindImpersonation, Message: msg}
}

// Throttled is returned when this instance has used up its budget of upstream
// session lookups; the caller retries shortly.
func Throttled(provider string) *Error {
	return &Error{Kind: KindThrottled,
		Message:    "too many " + provider + " session checks right now; try again shortly",
		RetryAfter: time.Second}
}

// Unavailable is a provider that cannot be reached; the cause is logged.
func Unavailable(provider string, cause error) *Error {
	return &Error{Kind: KindUnavailable,
		Message:    "could not reach " + provider + " to check the credential; try again shortly",
		RetryAfter: 5 * time.Second, Err: cause}
}

// Misconfigured is a bridge whose configuration contradicts what the provider
// publishes (found after cold start); message names no secret, cause is logged.
func Misconfigured(message string, cause error) *Error {
	return &Error{Kind: KindMisconfigured, Message: message, Err: cause}
}

// checkSubject enforces what InsForge and Postgres need from sub: non-empty,
// bounded, printable UTF-8.
func checkSubject(provider, sub string) error {
	switch {
	case strings.TrimSpace(sub) == "":
		return Invalid("the "+provider+" credential has no subject (sub)", nil)
	case len(sub) > MaxSubjectBytes:
		return Invalid(fmt.Sprintf("the %s subject is longer than %d bytes", provider, MaxSubjectBytes), nil)
	case !utf8.ValidString(sub) || strings.IndexFunc(sub, unicode.IsControl) >= 0:
		return Invalid("the "+provider+" subject contains invalid characters", nil)
	}
	return nil
}

// exactlyTrue reports whether raw is the JSON literal true, the only value that
// asserts a verified email ("true", 1 or a missing field do not).
func exactlyTrue(raw json.RawMessage) bool {
	return string(bytes.TrimSpace(raw)) == "true"
}

// LooksLikeJWT reports whether s has the three-segment shape of a compact JWS.
// Opaque session tokens (Stytch, Better Auth) never have exactly two dots.
func LooksLikeJWT(s string) bool {
	return strings.Count(s, ".") == 2
}

// ShapeRouter sends JWT-shaped bearer credentials to jwt and everything else to
// opaque. Cookies listed in sessionCookies always go to opaque (Better Auth's
// session cookie is never a JWT).
type shapeRouter struct {
	jwt, opaque    Verifier
	sessionCookies []string
}

func (s shapeRouter) Verify(ctx context.Context, c Credential) (Identity, error) {
	for _, name := range s.sessionCookies {
		if c.Cookie == name {
			return s.opaque.Verify(ctx, c)
		}
	}
	if LooksLikeJWT(c.Token) {
		return s.jwt.Verify(ctx, c)
	}
	return s.opaque.Verify(ctx, c)
}
