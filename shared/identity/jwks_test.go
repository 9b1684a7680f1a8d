package identity_test

import (
	"context"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/insforge/edge-functions-go/shared/identity"
	"github.com/insforge/edge-functions-go/shared/identity/identitytest"
	"github.com/insforge/edge-functions-go/shared/identity/providertest"
)

// newTestJWT is a JWKS verifier over a local issuer with spec's rules.
func newTestJWT(t *testing.T, spec identity.JWTSpec) (*identity.JWTVerifier, *identitytest.Issuer) {
	t.Helper()
	iss := identitytest.NewIssuer(t, "RS256")
	spec.Provider, spec.JWKSURL, spec.JWKSVar = "P", iss.JWKSURL(), "P_JWKS_URL"
	spec.Algorithms, spec.Issuers = []string{"RS256"}, []string{iss.URL()}
	v, err := identity.NewJWT(spec, providertest.Options(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(v.Close)
	return v, iss
}

func signNow(iss *identitytest.Issuer, extra claims) string {
	now := time.Now()
	c := claims{"iss": iss.URL(), "sub": "user_1", "iat": now.Unix(), "exp": now.Add(time.Hour).Unix()}
	for k, v := range extra {
		c[k] = v
	}
	return iss.Sign(c)
}

// The verifier itself refuses act and failed markers with their own kinds, and
// never returns an identity with the error.
func TestVerifierRefusesImpersonationAndMachineTokens(t *testing.T) {
	markers := []identity.Marker{{Claim: "sid", Required: true, Reason: "no session"},
		{Claim: "gty", Refused: []string{"client-credentials"}, Reason: "machine token"}}
	cases := []struct {
		name       string
		allowActor bool
		claims     claims
		kind       identity.Kind
		message    string
		actor      string
	}{
		{name: "session", claims: claims{"sid": "s1"}},
		{name: "act refused", claims: claims{"sid": "s1", "act": map[string]any{"sub": "admin"}},
			kind: identity.KindImpersonation, message: "set P_ALLOW=true"},
		{name: "act without sub refused", claims: claims{"sid": "s1", "act": map[string]any{}}, kind: identity.KindImpersonation},
		{name: "act allowed names the actor", allowActor: true, claims: claims{"sid": "s1", "act": map[string]any{"sub": "admin"}}, actor: "admin"},
		{name: "act allowed, actor capped", allowActor: true,
			claims: claims{"sid": "s1", "act": map[string]any{"sub": strings.Repeat("a", 300)}}, actor: strings.Repeat("a", identity.MaxSubjectBytes)},
		{name: "missing marker", claims: claims{}, kind: identity.KindNotUserSession, message: "no session"},
		{name: "machine marker", claims: claims{"sid": "s1", "gty": "client-credentials"}, kind: identity.KindNotUserSession, message: "machine token"},
		{name: "machine marker wins over act", claims: claims{"gty": "client-credentials", "sid": "s1", "act": map[string]any{"sub": "a"}},
			kind: identity.KindNotUserSession},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			v, iss := newTestJWT(t, identity.JWTSpec{Markers: markers, AllowActor: tc.allowActor, ActorOptIn: "P_ALLOW"})
			id, err := v.Verify(context.Background(), identity.Credential{Token: signNow(iss, tc.claims)})
			if tc.kind == "" {
				if err != nil || id.Subject != "user_1" || id.Actor != tc.actor {
					t.Fatalf("identity %+v, err %v; want user_1 with actor %q", id, err, tc.actor)
				}
				return
			}
			var ie *identity.Error
			if !errors.As(err, &ie) || ie.Kind != tc.kind || !strings.Contains(ie.Message, tc.message) {
				t.Fatalf("err = %v, want %s mentioning %q", err, tc.kind, tc.message)
			}
			if id != (identity.Identity{}) {
				t.Fatalf("an identity came with the refusal: %+v", id)
			}
		})
	}
}

func TestVerifierChecksTheCompactForm(t *testing.T) {
	v, iss := newTestJWT(t, identity.JWTSpec{})
	good := signNow(iss, nil)
	parts := strings.Split(good, ".")
	for name, tok := range map[string]string{
		"two segments":                 parts[0] + "." + parts[1],
		"four segments":                good + ".x",
		"empty header":                 "." + parts[1] + "." + parts[2],
		"header not base64url":         "%%%." + parts[1] + "." + parts[2],
		"payload not base64url":        parts[0] + ".@@." + parts[2],
		"signature of another payload": parts[0] + "." + strings.Split(signNow(iss, claims{"sub": "user_2"}), ".")[1] + "." + parts[2],
		"crit header":                  identitytest.SignWith(iss.Current(), claims{"iss": iss.URL(), "sub": "u", "exp": time.Now().Add(time.Hour).Unix()}, map[string]any{"crit": []string{"exp"}}),
	} {
		if _, err := v.Verify(context.Background(), identity.Credential{Token: tok}); !errors.Is(err, &identity.Error{Kind: identity.KindInvalid}) {
			t.Errorf("%s: err = %v, want invalid_token", name, err)
		}
	}
	if _, err := v.Verify(context.Background(), identity.Credential{Token: good}); err != nil {
		t.Fatalf("the untouched token: %v", err)
	}
}

// hmacWith is the HS256 token of claims signed with key (providertest.Env.HS256).
func hmacWith(e *env, key []byte, c claims) identity.Credential { return bearer(e.HS256(key, c)) }

func b64(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

// signedWith is the valid claims signed with k and extra header fields.
func signedWith(k func(e *env) identitytest.Key, header map[string]any) func(e *env) identity.Credential {
	return func(e *env) identity.Credential { return bearer(identitytest.SignWith(k(e), e.Claims(nil), header)) }
}

func current(e *env) identitytest.Key     { return e.Issuer.Current() }
func unpublished(e *env) identitytest.Key { return e.Issuer.Unpublished() }

// reshaped is a valid token's three segments rejoined by join.
func reshaped(join func(e *env, p []string) string) func(e *env) identity.Credential {
	return func(e *env) identity.Credential { return bearer(join(e, strings.Split(e.Token(nil), "."))) }
}

// refetchAtOnce sets the unknown-kid refetch cooldown to 1 ns (before the provider
// is built): keyfunc's limiter then always allows a refetch, so the verification
// that meets new or returning keys fetches them itself.
func refetchAtOnce(e *env) { e.Opts.UnknownKIDCooldown = time.Nanosecond }

// The JWKS verifier's rules, for every provider: pinned algorithms, published
// keys, the compact form, the registered claims, and the key set's availability.
var jwksRules = []rule{
	// Algorithm attacks.
	{name: "alg none without signature", kind: identity.KindInvalid,
		cred: func(e *env) identity.Credential {
			return bearer(identitytest.Unsigned(map[string]any{"alg": "none", "typ": "JWT", "kid": e.Issuer.Current().KID}, e.Claims(nil)))
		}},
	{name: "alg None (capitalised) without signature", kind: identity.KindInvalid,
		cred: func(e *env) identity.Credential {
			return bearer(identitytest.Unsigned(map[string]any{"alg": "None", "kid": e.Issuer.Current().KID}, e.Claims(nil)))
		}},
	{name: "alg none with the original signature kept", kind: identity.KindInvalid,
		cred: func(e *env) identity.Credential {
			sig := strings.Split(e.Token(nil), ".")[2]
			return bearer(identitytest.Unsigned(map[string]any{"alg": "none", "kid": e.Issuer.Current().KID}, e.Claims(nil)) + sig)
		}},
	{name: "HS256 signed with the public key (DER)", kind: identity.KindInvalid,
		cred: func(e *env) identity.Credential { return hmacWith(e, e.Issuer.Current().PublicDER(), e.Claims(nil)) }},
	{name: "HS256 signed with the public key (PEM)", kind: identity.KindInvalid,
		cred: func(e *env) identity.Credential {
			p := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: e.Issuer.Current().PublicDER()})
			return hmacWith(e, p, e.Claims(nil))
		}},
	{name: "HS256 signed with a shared secret (a Clerk template token)", kind: identity.KindInvalid,
		cred: func(e *env) identity.Credential {
			return hmacWith(e, []byte("test-secret-0123456789abcdef0123456789"), e.Claims(set("role", "authenticated")))
		}},
	{name: "another asymmetric alg with the right key (RS512/PS256)", kind: identity.KindInvalid,
		applies: func(s providertest.Spec) bool { return s.Alg == "RS256" },
		cred:    signedWith(func(e *env) identitytest.Key { k := e.Issuer.Current(); k.Alg = "PS256"; return k }, nil)},
	{name: "RS256 token to an EdDSA provider", kind: identity.KindInvalid,
		applies: func(s providertest.Spec) bool { return s.Alg == "EdDSA" },
		cred: signedWith(func(e *env) identitytest.Key {
			other := identitytest.NewIssuer(e.T, "RS256").Current()
			other.KID = e.Issuer.Current().KID
			return other
		}, nil)},
	{name: "alg header missing", kind: identity.KindInvalid, cred: signedWith(current, map[string]any{"alg": nil})},

	// Key attacks.
	{name: "unknown kid signed by an unpublished key", kind: identity.KindInvalid, cred: signedWith(unpublished, nil)},
	{name: "published kid but signed by another key", kind: identity.KindInvalid,
		cred: signedWith(func(e *env) identitytest.Key { k := e.Issuer.Unpublished(); k.KID = e.Issuer.Current().KID; return k }, nil)},
	{name: "kid missing", kind: identity.KindInvalid, cred: signedWith(current, map[string]any{"kid": nil})},
	{name: "kid is not a string", kind: identity.KindInvalid, cred: signedWith(current, map[string]any{"kid": 7})},
	{name: "kid path traversal", kind: identity.KindInvalid,
		cred: signedWith(func(e *env) identitytest.Key { k := e.Issuer.Unpublished(); k.KID = "../../../../etc/passwd"; return k }, nil)},
	{name: "attacker key embedded as jwk / jku headers", kind: identity.KindInvalid,
		cred: func(e *env) identity.Credential {
			k := e.Issuer.Unpublished()
			return bearer(identitytest.SignWith(k, e.Claims(nil), map[string]any{
				"jwk": identitytest.JWK(k), "jku": "https://attacker.example/jwks", "x5u": "https://attacker.example/x5"}))
		}},
	{name: "retired key after rotation is refused", kind: identity.KindInvalid,
		message: "signed with a key the provider does not publish", cold: refetchAtOnce,
		cred: func(e *env) identity.Credential {
			old := e.Issuer.Current()
			warm(e, "warm-up")
			e.Issuer.Rotate(true)
			// The new key is fetched (unknown kid), which drops the retired one.
			warm(e, "rotated key")
			return bearer(identitytest.SignWith(old, e.Claims(nil), nil))
		}},

	// Registered claims.
	{name: "wrong iss", kind: identity.KindInvalid, cred: token(set("iss", "https://evil.example.com"))},
	{name: "iss missing", kind: identity.KindInvalid, cred: token(del("iss"))},
	{name: "iss differs only by a trailing slash or case", kind: identity.KindInvalid,
		cred: func(e *env) identity.Credential {
			iss := e.Base["iss"].(string)
			if strings.HasSuffix(iss, "/") {
				iss = strings.TrimSuffix(iss, "/")
			} else {
				iss = strings.ToUpper(iss)
			}
			return bearer(e.Token(set("iss", iss)))
		}},
	{name: "iss is a number", kind: identity.KindInvalid, cred: token(set("iss", 42))},
	{name: "wrong aud", kind: identity.KindInvalid, applies: withAud, cred: token(set("aud", "https://other-api.example.com"))},
	{name: "aud array without ours", kind: identity.KindInvalid, applies: withAud, cred: token(set("aud", []string{"a", "b"}))},
	{name: "aud missing", kind: identity.KindInvalid, applies: withAud, cred: token(del("aud"))},
	{name: "aud empty array", kind: identity.KindInvalid, applies: withAud, cred: token(set("aud", []string{}))},
	{name: "aud is ignored when the provider has none (insforge-api in a template)", applies: withoutAud,
		cred: token(set("aud", "insforge-api"))},
	{name: "expired", kind: identity.KindExpired, cred: token(set("exp", time.Now().Add(-5*time.Minute).Unix()))},
	{name: "expired just beyond the leeway", kind: identity.KindExpired, cred: token(set("exp", time.Now().Add(-45*time.Second).Unix()))},
	{name: "exp missing", kind: identity.KindInvalid, cred: token(del("exp"))},
	{name: "exp is not a number", kind: identity.KindInvalid, cred: token(set("exp", map[string]any{"$gt": 0}))},
	{name: "nbf in the future", kind: identity.KindInvalid, cred: token(set("nbf", time.Now().Add(5*time.Minute).Unix()))},
	{name: "iat in the future", kind: identity.KindInvalid, cred: token(set("iat", time.Now().Add(5*time.Minute).Unix()))},

	// Tampering and shape.
	{name: "tampered payload (sub swapped after signing)", kind: identity.KindInvalid,
		cred: func(e *env) identity.Credential {
			p := strings.Split(e.Token(nil), ".")
			forged := strings.Split(e.Token(set("sub", "user_victim")), ".")
			return bearer(p[0] + "." + forged[1] + "." + p[2])
		}},
	{name: "tampered payload (role added after signing)", kind: identity.KindInvalid,
		cred: reshaped(func(_ *env, p []string) string {
			return p[0] + "." + b64(`{"sub":"x","role":"project_admin","exp":9999999999}`) + "." + p[2]
		})},
	{name: "tampered header (kid swapped)", kind: identity.KindInvalid,
		cred: reshaped(func(e *env, p []string) string {
			return b64(fmt.Sprintf(`{"alg":%q,"kid":"other","typ":"JWT"}`, e.Spec.Alg)) + "." + p[1] + "." + p[2]
		})},
	{name: "signature stripped", kind: identity.KindInvalid, cred: reshaped(func(_ *env, p []string) string { return p[0] + "." + p[1] + "." })},
	{name: "signature truncated", kind: identity.KindInvalid,
		cred: func(e *env) identity.Credential { t := e.Token(nil); return bearer(t[:len(t)-8]) }},
	{name: "token truncated to two segments", kind: identity.KindInvalid, cred: reshaped(func(_ *env, p []string) string { return p[0] + "." + p[1] })},
	{name: "garbage with JWT shape", kind: identity.KindInvalid, cred: func(*env) identity.Credential { return bearer("a.b.c") }},
	{name: "header is not JSON", kind: identity.KindInvalid,
		cred: func(*env) identity.Credential { return bearer(b64("not json") + "." + b64("{}") + ".c2ln") }},
	{name: "garbage opaque string", kind: identity.KindInvalid, cred: func(*env) identity.Credential { return bearer("garbage-token") }},
	{name: "JWE-shaped (five segments) token", kind: identity.KindInvalid,
		cred: func(*env) identity.Credential {
			return bearer(b64(`{"alg":"dir","enc":"A256GCM"}`) + "..aXY.Y2lwaGVy.dGFn")
		}},

	// Key set availability.
	{name: "JWKS down at cold start", kind: identity.KindUnavailable, cold: func(e *env) { e.Issuer.SetDown(true) }, cred: valid},
	{name: "JWKS answers garbage at cold start", kind: identity.KindUnavailable,
		cold: func(e *env) { e.Issuer.SetMode(identitytest.Garbage) }, cred: valid},
	{name: "JWKS answers over 1 MiB at cold start", kind: identity.KindUnavailable,
		cold: func(e *env) { e.Issuer.SetMode(identitytest.Huge) }, cred: valid},
	{name: "JWKS down at cold start recovers when it is back",
		cold: func(e *env) { e.Issuer.SetDown(true); refetchAtOnce(e) },
		cred: func(e *env) identity.Credential {
			if _, err := e.Verify(valid(e)); !errors.Is(err, &identity.Error{Kind: identity.KindUnavailable}) {
				e.T.Fatalf("while down: %v, want provider_unavailable", err)
			}
			e.Issuer.SetDown(false)
			if e.Spec.Name != "oidc" {
				warm(e, "JWKS back")
				return valid(e)
			}
			// OIDC discovery was down too; it is retried in the background, not by
			// the verification, so this one outage heals asynchronously.
			for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(15 * time.Millisecond) {
				if _, err := e.Verify(valid(e)); err == nil {
					break
				}
			}
			return valid(e)
		}},
	{name: "JWKS down after a successful fetch: cached keys keep working",
		cred: func(e *env) identity.Credential { warm(e, "warm-up"); e.Issuer.SetDown(true); return valid(e) }},
	{name: "JWKS down after a fetch: an unknown kid is unavailable, not invalid", kind: identity.KindUnavailable,
		cred: func(e *env) identity.Credential {
			warm(e, "warm-up")
			e.Issuer.SetDown(true)
			return bearer(identitytest.SignWith(e.Issuer.Unpublished(), e.Claims(nil), nil))
		}},
	{name: "key rotation: a new kid is picked up",
		cred: func(e *env) identity.Credential { warm(e, "warm-up"); e.Issuer.Rotate(false); return valid(e) }},
}

func TestEveryProviderAppliesTheJWKSRules(t *testing.T) { runRules(t, jwksRules) }
