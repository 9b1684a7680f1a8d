// Package lookupguard bounds what junk credentials can cost an upstream: a
// per-instance limiter on lookups and a negative cache of refused credentials,
// keyed by a SHA-256 of the credential (never the credential itself). The
// provider bridges put it in front of opaque-session lookups (shared/identity),
// the wallet bridge in front of EIP-1271 eth_calls (shared/siwe).
package lookupguard

import (
	"crypto/sha256"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/insforge/edge-functions-go/shared/internal/positive"
)

// Defaults. A Lambda instance serves one request at a time, each lookup taking
// tens of milliseconds, so real traffic stays well under the limit; a refused
// credential is random junk that never becomes valid later, so only the memory
// bound of the cache matters.
const (
	DefaultPerSecond = 10
	DefaultBurst     = 20
	DefaultTTL       = 30 * time.Second
	DefaultSize      = 4096
)

// Options size a Guard; zero fields take the defaults.
type Options struct {
	PerSecond float64
	Burst     int
	TTL       time.Duration
	Size      int
}

// Guard is safe for concurrent use.
type Guard struct {
	limiter *rate.Limiter
	refused *negativeCache
}

// New returns a guard sized by o.
func New(o Options) *Guard {
	limiter := rate.NewLimiter(rate.Limit(positive.Or(o.PerSecond, DefaultPerSecond)), positive.Or(o.Burst, DefaultBurst))
	return &Guard{limiter: limiter, refused: newNegativeCache(positive.Or(o.Size, DefaultSize), positive.Or(o.TTL, DefaultTTL))}
}

// Key hashes the parts of a credential (NUL-separated, so ("ab","c") ≠ ("a","bc")).
func Key(parts ...string) [32]byte {
	h := sha256.New()
	for i, p := range parts {
		if i > 0 {
			h.Write([]byte{0})
		}
		h.Write([]byte(p))
	}
	var k [32]byte
	h.Sum(k[:0])
	return k
}

// Refused reports whether the credential keyed k was refused upstream within the TTL.
func (g *Guard) Refused(k [32]byte, now time.Time) bool { return g.refused.has(k, now) }

// Allow spends one lookup of the budget; false means the caller must not ask upstream.
func (g *Guard) Allow(now time.Time) bool { return g.limiter.AllowN(now, 1) }

// Remember records that upstream refused the credential keyed k.
func (g *Guard) Remember(k [32]byte, now time.Time) { g.refused.add(k, now) }

// Remembered is how many refused credentials are held (tests, metrics).
func (g *Guard) Remembered() int { return g.refused.len() }

// Tokens is the lookup budget left at now (tests).
func (g *Guard) Tokens(now time.Time) float64 { return g.limiter.TokensAt(now) }

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
