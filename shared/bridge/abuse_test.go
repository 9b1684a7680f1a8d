package bridge_test

import (
	"math/rand/v2"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/insforge/edge-functions-go/shared/identity"
	"github.com/insforge/edge-functions-go/shared/identity/identitytest"
)

// randomBearers are n credentials an attacker might send, the same every run: half
// arbitrary printable junk of random length, half shaped exactly like the
// provider's session tokens (the worst case: the attacker knows the format).
func randomBearers(sp spec, n int) []string {
	r := rand.New(rand.NewPCG(1, uint64(len(sp.name))))
	out := make([]string, 0, n)
	for i := 0; i < n; i++ {
		if i%2 == 0 {
			b := make([]byte, 1+r.IntN(200))
			for j := range b {
				b[j] = byte('!' + r.IntN('~'-'!'+1))
			}
			s := strings.ReplaceAll(string(b), ".", "_") // never JWT-shaped
			out = append(out, s)
			continue
		}
		out = append(out, sp.sessionToken(1_000_000+r.IntN(1<<30)))
	}
	return out
}

// TestRandomBearersAreBoundedUpstream sends 1,000 random bearers to each bridge
// that checks opaque sessions upstream and counts the upstream calls: the shape
// check stops the junk, the per-instance limiter caps the well-shaped ones at its
// burst (the clock is frozen, so no tokens refill), and nothing is minted.
func TestRandomBearersAreBoundedUpstream(t *testing.T) {
	for _, sp := range specs {
		if !hasSessions(sp) {
			continue
		}
		t.Run(sp.name, func(t *testing.T) {
			e := newEnv(t, sp)
			frozen := time.Now()
			e.opts.Now = func() time.Time { return frozen }
			e.build()
			var junkCalls, shapedCalls int64
			status := map[int]int{}
			for i, tok := range randomBearers(sp, 1000) {
				before := e.sessions.Calls()
				r := e.bearer("x")
				r.Header.Set("Authorization", "Bearer "+tok)
				w := e.serve(r)
				status[w.Code]++
				if w.Code == http.StatusOK || strings.Contains(w.Body.String(), `"token"`) {
					t.Fatalf("random bearer %d minted: %s", i, w.Body)
				}
				// A refusal says what it is: 401 with the bearer challenge, or the
				// limiter's 503 with a one-second retry hint.
				switch w.Code {
				case http.StatusUnauthorized:
					if got := w.Header().Get("Www-Authenticate"); got != `Bearer error="invalid_token"` {
						t.Fatalf("random bearer %d: 401 with WWW-Authenticate %q", i, got)
					}
				case http.StatusServiceUnavailable:
					if !strings.Contains(w.Body.String(), `"error":"`+identity.CodeLookupThrottled+`"`) || w.Header().Get("Retry-After") != "1" {
						t.Fatalf("random bearer %d: 503 %v %s, want %s with Retry-After 1", i, w.Header(), w.Body, identity.CodeLookupThrottled)
					}
				}
				if d := e.sessions.Calls() - before; i%2 == 0 {
					junkCalls += d
				} else {
					shapedCalls += d
				}
			}
			t.Logf("%s: 1,000 random bearers -> %d upstream calls (%d from 500 junk, %d from 500 well-shaped); statuses %v",
				sp.name, junkCalls+shapedCalls, junkCalls, shapedCalls, status)
			if junkCalls != 0 {
				t.Errorf("junk bearers reached the provider %d times, want 0", junkCalls)
			}
			if shapedCalls != identity.DefaultSessionLookupBurst {
				t.Errorf("well-shaped random bearers cost %d upstream calls, want the limiter's burst %d", shapedCalls, identity.DefaultSessionLookupBurst)
			}
			if status[http.StatusUnauthorized]+status[http.StatusServiceUnavailable] != 1000 {
				t.Errorf("statuses %v, want only 401 and 503", status)
			}
		})
	}
}

// TestRefusedSessionIsCachedByHash: the same unknown session sent 1,000 times costs
// one upstream call; the cache holds a hash, so the token never sits in memory twice.
func TestRefusedSessionIsCachedByHash(t *testing.T) {
	for _, sp := range specs {
		if !hasSessions(sp) {
			continue
		}
		t.Run(sp.name, func(t *testing.T) {
			e := newEnv(t, sp)
			var now atomic.Int64
			now.Store(time.Now().UnixNano())
			e.opts.Now = func() time.Time { return time.Unix(0, now.Load()) }
			e.build()
			bad := e.bearer(sp.sessionToken(424242)).Header.Get("Authorization")
			for i := 0; i < 1000; i++ {
				r := e.bearer("x")
				r.Header.Set("Authorization", bad)
				expectError(t, e.serve(r), http.StatusUnauthorized, codeInvalid)
			}
			if n := e.sessions.Calls(); n != 1 {
				t.Fatalf("upstream calls = %d, want 1", n)
			}
			// Past the cache's lifetime the provider is asked again.
			now.Add(int64(identity.DefaultNegativeCacheTTL + time.Second))
			r := e.bearer("x")
			r.Header.Set("Authorization", bad)
			expectError(t, e.serve(r), http.StatusUnauthorized, codeInvalid)
			if n := e.sessions.Calls(); n != 2 {
				t.Fatalf("upstream calls after the cache expired = %d, want 2", n)
			}
		})
	}
}

// TestProviderOutageIsNotCached: a 503 is not a verdict on the credential; once
// the provider is back the same credential mints.
func TestProviderOutageIsNotCached(t *testing.T) {
	for _, sp := range specs {
		if !hasSessions(sp) {
			continue
		}
		t.Run(sp.name, func(t *testing.T) {
			e := newEnv(t, sp)
			e.build()
			tok := e.session(1, nil)
			e.sessions.SetMode(identitytest.Down)
			expectError(t, e.serve(e.bearer(tok)), http.StatusServiceUnavailable, codeUnavailable)
			e.sessions.SetMode(identitytest.Up)
			expectMinted(t, e, e.serve(e.bearer(tok)), e.base["sub"].(string), "")
		})
	}
}
