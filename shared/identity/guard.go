package identity

import (
	"context"
	"errors"
	"net/url"
	"strings"
	"time"

	"github.com/insforge/edge-functions-go/shared/lookupguard"
)

// Bounds on what opaque credentials can cost the provider (shared/lookupguard). Every opaque token is
// checked with an upstream call (Stytch sessions/authenticate with the project
// secret, spending its rate limit; a Better Auth get-session, a database query),
// so an attacker sending random bearers must not turn each into one.
const (
	// DefaultSessionLookupsPerSecond and DefaultSessionLookupBurst bound upstream
	// session lookups per instance. A Lambda instance serves one request at a
	// time, each lookup taking tens of milliseconds, so real traffic stays well
	// under this; a flood gets KindThrottled (session_lookup_throttled) instead.
	DefaultSessionLookupsPerSecond = lookupguard.DefaultPerSecond
	DefaultSessionLookupBurst      = lookupguard.DefaultBurst
	// DefaultNegativeCacheTTL is how long a credential the provider refused is
	// refused again without asking. Session tokens are random and never become
	// valid later, so only the memory bound matters.
	DefaultNegativeCacheTTL = lookupguard.DefaultTTL
	// DefaultNegativeCacheSize bounds the refused credentials remembered.
	DefaultNegativeCacheSize = lookupguard.DefaultSize
)

// guardedSessions puts the abuse bounds in front of an opaque-session verifier:
// a shape check from the provider's documented token format, a negative cache
// keyed by a hash of the credential, and a per-instance limiter on lookups.
type guardedSessions struct {
	provider string
	shape    func(Credential) bool
	notShape string // client message when the shape check fails
	next     Verifier
	guard    *lookupguard.Guard
	now      func() time.Time
}

func newGuard(provider, notShape string, shape func(Credential) bool, next Verifier, o Options) *guardedSessions {
	return &guardedSessions{
		provider: provider, shape: shape, notShape: notShape, next: next, now: o.Now,
		guard: lookupguard.New(lookupguard.Options{PerSecond: o.SessionLookupsPerSecond, Burst: o.SessionLookupBurst,
			TTL: o.NegativeCacheTTL, Size: o.NegativeCacheSize}),
	}
}

func (g *guardedSessions) Verify(ctx context.Context, c Credential) (Identity, error) {
	if !g.shape(c) {
		return Identity{}, Invalid(g.notShape, nil)
	}
	key := lookupguard.Key(c.Cookie, c.Token)
	now := g.now()
	if g.guard.Refused(key, now) {
		return Identity{}, Invalid("the "+g.provider+" session is not valid (expired, revoked or unknown)",
			errors.New("refused by the provider moments ago (negative cache)"))
	}
	if !g.guard.Allow(now) {
		return Identity{}, Throttled(g.provider)
	}
	id, err := g.next.Verify(ctx, c)
	var ie *Error
	if errors.As(err, &ie) && ie.Kind == KindInvalid {
		g.guard.Remember(key, now)
	}
	return id, err
}

// isAlnum reports whether s is only ASCII letters and digits.
func isAlnum(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9') {
			return false
		}
	}
	return true
}

// stytchTokenShape: Stytch session tokens are 44 URL-safe base64 characters
// (https://stytch.com/docs/guides/sessions/session-tokens-vs-jwts).
func stytchTokenShape(c Credential) bool {
	if len(c.Token) != 44 {
		return false
	}
	for i := 0; i < len(c.Token); i++ {
		ch := c.Token[i]
		if !('a' <= ch && ch <= 'z' || 'A' <= ch && ch <= 'Z' || '0' <= ch && ch <= '9' || ch == '_' || ch == '-') {
			return false
		}
	}
	return true
}

// betterAuthTokenLen is the length of a Better Auth session token (generateId(32),
// letters and digits).
const betterAuthTokenLen = 32

// betterAuthTokenShape: a session cookie holds the token signed by better-call,
// urlencode(token + "." + base64(HMAC-SHA256)) with a 44-character padded
// signature; the bearer plugin also accepts the signed value (encoded or not)
// or the raw token.
func betterAuthTokenShape(c Credential) bool {
	v := c.Token
	if len(v) > 256 {
		return false
	}
	if c.Cookie == "" && len(v) == betterAuthTokenLen && isAlnum(v) {
		return true
	}
	if strings.Contains(v, "%") {
		d, err := url.PathUnescape(v)
		if err != nil {
			return false
		}
		v = d
	}
	tok, sig, ok := strings.Cut(v, ".")
	if !ok || len(tok) != betterAuthTokenLen || !isAlnum(tok) || len(sig) != 44 || !strings.HasSuffix(sig, "=") {
		return false
	}
	for i := 0; i < len(sig)-1; i++ {
		ch := sig[i]
		if !('a' <= ch && ch <= 'z' || 'A' <= ch && ch <= 'Z' || '0' <= ch && ch <= '9' || ch == '+' || ch == '/') {
			return false
		}
	}
	return true
}
