package identity

import (
	"context"
	"crypto/sha256"
	"errors"
	"net/url"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Bounds on what opaque credentials can cost the provider. Every opaque token is
// checked with an upstream call (Stytch sessions/authenticate with the project
// secret, spending its rate limit; a Better Auth get-session, a database query),
// so an attacker sending random bearers must not turn each into one.
const (
	// DefaultSessionLookupsPerSecond and DefaultSessionLookupBurst bound upstream
	// session lookups per instance. A Lambda instance serves one request at a
	// time, each lookup taking tens of milliseconds, so real traffic stays well
	// under this; a flood gets KindThrottled (session_lookup_throttled) instead.
	DefaultSessionLookupsPerSecond = 10
	DefaultSessionLookupBurst      = 20
	// DefaultNegativeCacheTTL is how long a credential the provider refused is
	// refused again without asking. Session tokens are random and never become
	// valid later, so only the memory bound matters.
	DefaultNegativeCacheTTL = 30 * time.Second
	// DefaultNegativeCacheSize bounds the refused credentials remembered.
	DefaultNegativeCacheSize = 4096
)

// guardedSessions puts the abuse bounds in front of an opaque-session verifier:
// a shape check from the provider's documented token format, a negative cache
// keyed by a hash of the credential, and a per-instance limiter on lookups.
type guardedSessions struct {
	provider string
	shape    func(Credential) bool
	notShape string // client message when the shape check fails
	next     Verifier
	limiter  *rate.Limiter
	refused  *negativeCache
	now      func() time.Time
}

func newGuard(provider, notShape string, shape func(Credential) bool, next Verifier, o Options) *guardedSessions {
	return &guardedSessions{
		provider: provider, shape: shape, notShape: notShape, next: next, now: o.Now,
		limiter: rate.NewLimiter(rate.Limit(o.SessionLookupsPerSecond), o.SessionLookupBurst),
		refused: newNegativeCache(o.NegativeCacheSize, o.NegativeCacheTTL),
	}
}

func (g *guardedSessions) Verify(ctx context.Context, c Credential) (Identity, error) {
	if !g.shape(c) {
		return Identity{}, Invalid(g.notShape, nil)
	}
	key := sha256.Sum256([]byte(c.Cookie + "\x00" + c.Token))
	now := g.now()
	if g.refused.has(key, now) {
		return Identity{}, Invalid("the "+g.provider+" session is not valid (expired, revoked or unknown)",
			errors.New("refused by the provider moments ago (negative cache)"))
	}
	if !g.limiter.AllowN(now, 1) {
		return Identity{}, Throttled(g.provider)
	}
	id, err := g.next.Verify(ctx, c)
	var ie *Error
	if errors.As(err, &ie) && ie.Kind == KindInvalid {
		g.refused.add(key, now)
	}
	return id, err
}

// negativeCache remembers refused credentials (by hash) for a while, holding at
// most size entries: the oldest are dropped first.
type negativeCache struct {
	mu    sync.Mutex
	ttl   time.Duration
	size  int
	until map[[32]byte]time.Time
	order [][32]byte // insertion order, for eviction
}

func newNegativeCache(size int, ttl time.Duration) *negativeCache {
	return &negativeCache{ttl: ttl, size: size, until: make(map[[32]byte]time.Time, size)}
}

func (n *negativeCache) has(k [32]byte, now time.Time) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	t, ok := n.until[k]
	return ok && now.Before(t)
}

func (n *negativeCache) add(k [32]byte, now time.Time) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if _, ok := n.until[k]; !ok {
		for len(n.order) >= n.size {
			delete(n.until, n.order[0])
			n.order = n.order[1:]
		}
		n.order = append(n.order, k)
	}
	n.until[k] = now.Add(n.ttl)
}

func (n *negativeCache) len() int {
	n.mu.Lock()
	defer n.mu.Unlock()
	return len(n.until)
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
