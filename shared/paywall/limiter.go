package paywall

import (
	"math"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// limiter is a set of token buckets keyed by payer or source IP. It bounds the
// facilitator calls anyone can cause with throwaway keys: a request it refuses
// leaves the process with no upstream call. Memory is bounded: past maxKeys the
// buckets start over (a burst of fresh keys cannot grow the map forever).
type limiter struct {
	mu      sync.Mutex
	every   rate.Limit
	burst   int
	maxKeys int
	buckets map[string]*rate.Limiter
}

func newLimiter(perMinute, burst, maxKeys int) *limiter {
	if perMinute <= 0 {
		return nil
	}
	if burst <= 0 {
		burst = perMinute
	}
	return &limiter{every: rate.Limit(float64(perMinute) / 60), burst: burst, maxKeys: maxKeys, buckets: map[string]*rate.Limiter{}}
}

// allow takes a token for key at now; when none is left it returns the wait
// until the next one (for Retry-After).
func (l *limiter) allow(key string, now time.Time) (bool, time.Duration) {
	if l == nil {
		return true, 0
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	b, ok := l.buckets[key]
	if !ok {
		if len(l.buckets) >= l.maxKeys {
			l.buckets = map[string]*rate.Limiter{}
		}
		b = rate.NewLimiter(l.every, l.burst)
		l.buckets[key] = b
	}
	r := b.ReserveN(now, 1)
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now)
		return false, d
	}
	return true, 0
}

// retryAfter rounds a wait up to whole seconds (at least 1).
func retryAfter(d time.Duration) int {
	return max(1, int(math.Ceil(d.Seconds())))
}
