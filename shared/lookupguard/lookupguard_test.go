package lookupguard

import (
	"testing"
	"time"
)

func TestNegativeCacheIsSizeBoundedAndExpires(t *testing.T) {
	n := newNegativeCache(3, time.Minute)
	now := time.Unix(1000, 0)
	keys := [][32]byte{{1}, {2}, {3}, {4}}
	for _, k := range keys {
		n.add(k, now)
	}
	if n.len() != 3 || n.has(keys[0], now) || !n.has(keys[3], now) {
		t.Fatalf("after 4 adds to a cache of 3: len %d, oldest kept %v", n.len(), n.has(keys[0], now))
	}
	if n.has(keys[3], now.Add(time.Minute)) {
		t.Fatal("an entry outlived its TTL")
	}
}

func TestGuardAllowsBurstThenRate(t *testing.T) {
	for _, c := range []struct {
		name    string
		o       Options
		after   time.Duration
		allowed int
	}{
		{"defaults: burst 20 at once", Options{}, 0, DefaultBurst},
		{"burst 3 at 1/s: one more a second later", Options{Burst: 3, PerSecond: 1}, time.Second, 4},
		{"burst 3 at 10/s: the bucket refills to its burst, no more", Options{Burst: 3}, time.Second, 6},
	} {
		t.Run(c.name, func(t *testing.T) {
			g, now := New(c.o), time.Unix(1000, 0)
			got := 0
			for i := 0; i < 1000; i++ {
				if g.Allow(now) {
					got++
				}
			}
			if c.after > 0 {
				for i := 0; i < 1000; i++ {
					if g.Allow(now.Add(c.after)) {
						got++
					}
				}
			}
			if got != c.allowed {
				t.Fatalf("allowed %d lookups, want %d", got, c.allowed)
			}
		})
	}
}

func TestKeySeparatesParts(t *testing.T) {
	if Key("ab", "c") == Key("a", "bc") || Key("a") != Key("a") {
		t.Fatal("Key must hash parts unambiguously and deterministically")
	}
}
