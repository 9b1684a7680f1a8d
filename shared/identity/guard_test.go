package identity_test

import (
	"errors"
	"math/rand/v2"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/insforge/edge-functions-go/shared/identity"
	"github.com/insforge/edge-functions-go/shared/identity/identitytest"
	"github.com/insforge/edge-functions-go/shared/identity/providertest"
)

// noLookups asserts that the provider's session API was never called.
func noLookups(t *testing.T, e *env) {
	t.Helper()
	if n := e.Sessions.Calls(); n != 0 {
		t.Fatalf("%d upstream session lookups, want none", n)
	}
}

// The lookup guard of opaque sessions: what is not shaped like a session never
// reaches the provider, and a refused session is answered from the negative cache.
var guardRules = []rule{
	{name: "session: junk bearer never reaches the provider", kind: identity.KindInvalid, applies: sessions,
		cred: func(*env) identity.Credential { return bearer("not-a-session-token") }, after: noLookups},
	{name: "session: token one character short never reaches the provider", kind: identity.KindInvalid, applies: sessions,
		cred:  func(e *env) identity.Credential { return bearer(e.Session(1, nil)[1:]) },
		after: noLookups},
	{name: "session: token with a foreign character never reaches the provider", kind: identity.KindInvalid, applies: sessions,
		cred: func(e *env) identity.Credential {
			tok := []byte(e.Session(1, nil))
			tok[3] = '!'
			return bearer(string(tok))
		},
		after: noLookups},
	{name: "session: 4 KiB opaque bearer never reaches the provider", kind: identity.KindInvalid, applies: sessions,
		cred: func(*env) identity.Credential { return bearer(strings.Repeat("A", 4096)) }, after: noLookups},
	{name: "session: a refused session asked again is answered from the negative cache", kind: identity.KindInvalid,
		applies: sessions,
		cred: func(e *env) identity.Credential {
			if _, err := e.Verify(bearer(e.Spec.SessionToken(77))); !errors.Is(err, &identity.Error{Kind: identity.KindInvalid}) {
				e.T.Fatalf("first ask: %v, want invalid_token", err)
			}
			return bearer(e.Spec.SessionToken(77))
		},
		after: func(t *testing.T, e *env) {
			if n := e.Sessions.Calls(); n != 1 {
				t.Fatalf("upstream calls = %d, want 1", n)
			}
		}},
}

func TestEverySessionProviderAppliesTheLookupGuard(t *testing.T) { runRules(t, guardRules) }

// randomBearers are n credentials an attacker might send, the same every run: half
// arbitrary printable junk of random length, half shaped exactly like the
// provider's session tokens (the worst case: the attacker knows the format).
func randomBearers(sp providertest.Spec, n int) []string {
	r := rand.New(rand.NewPCG(1, uint64(len(sp.Name))))
	out := make([]string, 0, n)
	for i := 0; i < n; i++ {
		if i%2 == 0 {
			b := make([]byte, 1+r.IntN(200))
			for j := range b {
				b[j] = byte('!' + r.IntN('~'-'!'+1))
			}
			out = append(out, strings.ReplaceAll(string(b), ".", "_")) // never JWT-shaped
			continue
		}
		out = append(out, sp.SessionToken(1_000_000+r.IntN(1<<30)))
	}
	return out
}

// forSessionProviders runs f for every provider that checks opaque sessions upstream.
func forSessionProviders(t *testing.T, f func(t *testing.T, sp providertest.Spec)) {
	for _, sp := range providertest.Specs {
		if sp.HasSessions() {
			t.Run(sp.Name, func(t *testing.T) { f(t, sp) })
		}
	}
}

// TestRandomBearersAreBoundedUpstream sends 1,000 random bearers to each provider
// that checks opaque sessions upstream and counts the upstream calls: the shape
// check stops the junk, the per-instance limiter caps the well-shaped ones at its
// burst (the clock is frozen, so no tokens refill), and none is accepted. A
// refusal is invalid_token, or the limiter's throttled with a one-second retry hint.
func TestRandomBearersAreBoundedUpstream(t *testing.T) {
	forSessionProviders(t, func(t *testing.T, sp providertest.Spec) {
		e := providertest.New(t, sp)
		frozen := time.Now()
		e.Opts.Now = func() time.Time { return frozen }
		e.Load()
		var junkCalls, shapedCalls int64
		kinds := map[identity.Kind]int{}
		for i, tok := range randomBearers(sp, 1000) {
			before := e.Sessions.Calls()
			id, err := e.Verify(bearer(tok))
			var ie *identity.Error
			if !errors.As(err, &ie) || id != (identity.Identity{}) {
				t.Fatalf("random bearer %d: identity %+v, err %v", i, id, err)
			}
			kinds[ie.Kind]++
			if ie.Kind == identity.KindThrottled && ie.RetryAfter != time.Second {
				t.Fatalf("random bearer %d: throttled with RetryAfter %v, want 1s", i, ie.RetryAfter)
			}
			if d := e.Sessions.Calls() - before; i%2 == 0 {
				junkCalls += d
			} else {
				shapedCalls += d
			}
		}
		t.Logf("%s: 1,000 random bearers -> %d upstream calls (%d from 500 junk, %d from 500 well-shaped); kinds %v",
			sp.Name, junkCalls+shapedCalls, junkCalls, shapedCalls, kinds)
		if junkCalls != 0 {
			t.Errorf("junk bearers reached the provider %d times, want 0", junkCalls)
		}
		if shapedCalls != identity.DefaultSessionLookupBurst {
			t.Errorf("well-shaped random bearers cost %d upstream calls, want the limiter's burst %d", shapedCalls, identity.DefaultSessionLookupBurst)
		}
		if kinds[identity.KindInvalid]+kinds[identity.KindThrottled] != 1000 {
			t.Errorf("kinds %v, want only invalid_token and session_lookup_throttled", kinds)
		}
	})
}

// TestRefusedSessionIsCachedByHash: the same unknown session sent 1,000 times costs
// one upstream call; the cache holds a hash, so the token never sits in memory twice.
func TestRefusedSessionIsCachedByHash(t *testing.T) {
	forSessionProviders(t, func(t *testing.T, sp providertest.Spec) {
		e := providertest.New(t, sp)
		var now atomic.Int64
		now.Store(time.Now().UnixNano())
		e.Opts.Now = func() time.Time { return time.Unix(0, now.Load()) }
		e.Load()
		bad := bearer(sp.SessionToken(424242))
		refused := func() {
			t.Helper()
			if _, err := e.Verify(bad); !errors.Is(err, &identity.Error{Kind: identity.KindInvalid}) {
				t.Fatalf("err = %v, want invalid_token", err)
			}
		}
		for i := 0; i < 1000; i++ {
			refused()
		}
		if n := e.Sessions.Calls(); n != 1 {
			t.Fatalf("upstream calls = %d, want 1", n)
		}
		// Past the cache's lifetime the provider is asked again.
		now.Add(int64(identity.DefaultNegativeCacheTTL + time.Second))
		refused()
		if n := e.Sessions.Calls(); n != 2 {
			t.Fatalf("upstream calls after the cache expired = %d, want 2", n)
		}
	})
}

// TestProviderOutageIsNotCached: unavailable is not a verdict on the credential;
// once the provider is back the same credential is accepted.
func TestProviderOutageIsNotCached(t *testing.T) {
	forSessionProviders(t, func(t *testing.T, sp providertest.Spec) {
		e := providertest.New(t, sp)
		e.Load()
		tok := bearer(e.Session(1, nil))
		e.Sessions.SetMode(identitytest.Down)
		if _, err := e.Verify(tok); !errors.Is(err, &identity.Error{Kind: identity.KindUnavailable}) {
			t.Fatalf("while down: %v, want provider_unavailable", err)
		}
		e.Sessions.SetMode(identitytest.Up)
		if id, err := e.Verify(tok); err != nil || id.Subject != e.Base["sub"] {
			t.Fatalf("once back: %+v, %v", id, err)
		}
	})
}
