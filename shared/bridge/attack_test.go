package bridge_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/insforge/edge-functions-go/shared/bridge"
	"github.com/insforge/edge-functions-go/shared/identity"
	"github.com/insforge/edge-functions-go/shared/identity/identitytest"
)

// attack is one request against a freshly built bridge. Unless status is 200 it
// must fail with code and mint nothing.
type attack struct {
	name    string
	applies func(spec) bool                                          // nil: every JWT provider
	cold    func(e *env)                                             // runs before the bridge is built (cold start)
	req     func(e *env) *http.Request                               // may serve warm-up requests itself
	status  int                                                      // expected status
	code    string                                                   // expected error code ("" for 200)
	message string                                                   // the error message must contain this ("" = any)
	minted  func(t *testing.T, e *env, w *httptest.ResponseRecorder) // extra checks for 200
	noEmail bool                                                     // the minted token must carry no email
	email   string                                                   // the minted token must carry this email
	after   func(t *testing.T, e *env)                               // extra checks after any outcome
	// initFails: the cold start (bridge.FromEnv) must fail naming this variable.
	initFails string
}

// actorLogged asserts that the mint was logged with the impersonating actor.
func actorLogged(actor string) func(t *testing.T, e *env, w *httptest.ResponseRecorder) {
	return func(t *testing.T, e *env, w *httptest.ResponseRecorder) {
		t.Helper()
		for _, line := range strings.Split(e.logs.String(), "\n") {
			if strings.Contains(line, `"msg":"token minted"`) && strings.Contains(line, `"actor":"`+actor+`"`) {
				return
			}
		}
		t.Fatalf("no mint logged with actor %q:\n%s", actor, e.logs.String())
	}
}

func hasSessions(s spec) bool { return s.sessionToken != nil }

// noLookups asserts that the provider's session API was never called.
func noLookups(t *testing.T, e *env) {
	t.Helper()
	if n := e.sessions.Calls(); n != 0 {
		t.Fatalf("%d upstream session lookups, want none", n)
	}
}

const (
	codeInvalid       = identity.CodeInvalidToken
	codeExpired       = identity.CodeTokenExpired
	codeUnavailable   = identity.CodeProviderUnavailable
	codeMissing       = "missing_credential"
	codeNotUser       = identity.CodeNotUserSession
	codeImpersonation = identity.CodeImpersonationRefused
)

func hasCookie(s spec) bool { return s.jwtCookie != "" }

// withEmail adds an email and sets the provider's verified claim to v (nil: null).
func withEmail(e *env, v any) func(jwt.MapClaims) {
	return func(c jwt.MapClaims) {
		c["email"] = "ada@example.com"
		c[e.verifiedClaim()] = v
	}
}

func withAud(s spec) bool    { return s.aud }
func withoutAud(s spec) bool { return !s.aud }
func only(names ...string) func(spec) bool {
	return func(s spec) bool {
		for _, n := range names {
			if s.name == n {
				return true
			}
		}
		return false
	}
}

func set(k string, v any) func(jwt.MapClaims) { return func(c jwt.MapClaims) { c[k] = v } }
func del(k string) func(jwt.MapClaims)        { return func(c jwt.MapClaims) { delete(c, k) } }

func b64(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

// hmacWith signs claims as HS256 with key, with the issuer's current kid: the
// classic algorithm-confusion attack when key is the provider's public key.
func hmacWith(e *env, key []byte, claims jwt.MapClaims) string {
	t := jwt.NewWithClaims(jwt.SigningMethodHS256, claims)
	t.Header["kid"] = e.iss.Current().KID
	s, err := t.SignedString(key)
	if err != nil {
		panic(err)
	}
	return s
}

func expectedEmail(e *env) string {
	if v, _ := e.base["email"].(string); v != "" && e.base["emailVerified"] == true {
		return v
	}
	return ""
}

func okRequest(e *env) *http.Request { return e.bearer(e.token(nil)) }

// waitFor200 polls until a request gets 200 or a few seconds went by. It is only
// for outages that heal in the background, outside any request (a first JWKS fetch
// still in flight when the provider comes back); where the request itself refetches
// the keys, use refetchAtOnce and exchanged instead: one request, no waiting.
func waitFor200(e *env, mk func() *http.Request) *httptest.ResponseRecorder {
	var w *httptest.ResponseRecorder
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(15 * time.Millisecond) {
		if w = e.serve(mk()); w.Code == http.StatusOK {
			break
		}
	}
	return w
}

// refetchAtOnce sets the unknown-kid refetch cooldown to 1 ns (before the bridge
// is built): keyfunc's limiter then always allows a refetch, so the request that
// meets new or returning keys fetches them itself, within that request.
func refetchAtOnce(e *env) { e.opts.UnknownKIDCooldown = time.Nanosecond }

// exchanged serves one ordinary request and fails the test unless it mints: no
// retries and no waiting, because the refetch happens inside the request.
func exchanged(e *env, what string) {
	e.t.Helper()
	if w := e.serve(okRequest(e)); w.Code != http.StatusOK {
		e.t.Fatalf("%s: %d %s", what, w.Code, w.Body)
	}
}

var attacks = []attack{
	// Baselines: the suite proves it can tell good from bad.
	{name: "valid token is exchanged", req: okRequest, status: 200},
	{name: "upstream role project_admin still mints role authenticated", status: 200,
		req: func(e *env) *http.Request {
			return e.bearer(e.token(func(c jwt.MapClaims) { c["role"] = "project_admin"; c["is_project_admin"] = true }))
		}},
	{name: "expired within the 30s leeway is refused (a minted token would outlive it)", status: 401, code: codeExpired,
		req: func(e *env) *http.Request {
			return e.bearer(e.token(set("exp", time.Now().Add(-10*time.Second).Unix())))
		}},

	// Algorithm attacks.
	{name: "alg none without signature", status: 401, code: codeInvalid,
		req: func(e *env) *http.Request {
			return e.bearer(identitytest.Unsigned(map[string]any{"alg": "none", "typ": "JWT", "kid": e.iss.Current().KID}, e.claims(nil)))
		}},
	{name: "alg None (capitalised) without signature", status: 401, code: codeInvalid,
		req: func(e *env) *http.Request {
			return e.bearer(identitytest.Unsigned(map[string]any{"alg": "None", "kid": e.iss.Current().KID}, e.claims(nil)))
		}},
	{name: "alg none with the original signature kept", status: 401, code: codeInvalid,
		req: func(e *env) *http.Request {
			sig := strings.Split(e.token(nil), ".")[2]
			return e.bearer(identitytest.Unsigned(map[string]any{"alg": "none", "kid": e.iss.Current().KID}, e.claims(nil)) + sig)
		}},
	{name: "HS256 signed with the public key (DER)", status: 401, code: codeInvalid,
		req: func(e *env) *http.Request { return e.bearer(hmacWith(e, e.iss.Current().PublicDER(), e.claims(nil))) }},
	{name: "HS256 signed with the public key (PEM)", status: 401, code: codeInvalid,
		req: func(e *env) *http.Request {
			p := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: e.iss.Current().PublicDER()})
			return e.bearer(hmacWith(e, p, e.claims(nil)))
		}},
	{name: "HS256 signed with the InsForge secret (a Clerk template token)", status: 401, code: codeInvalid,
		req: func(e *env) *http.Request {
			return e.bearer(hmacWith(e, []byte(testSecret), e.claims(set("role", "authenticated"))))
		}},
	{name: "another asymmetric alg with the right key (RS512/PS256)", status: 401, code: codeInvalid,
		applies: func(s spec) bool { return s.alg == "RS256" },
		req: func(e *env) *http.Request {
			k := e.iss.Current()
			k.Alg = "PS256"
			return e.bearer(identitytest.SignWith(k, e.claims(nil), nil))
		}},
	{name: "RS256 token to an EdDSA provider", status: 401, code: codeInvalid,
		applies: func(s spec) bool { return s.alg == "EdDSA" },
		req: func(e *env) *http.Request {
			other := identitytest.NewIssuer(e.t, "RS256").Current()
			other.KID = e.iss.Current().KID
			return e.bearer(identitytest.SignWith(other, e.claims(nil), nil))
		}},
	{name: "alg header missing", status: 401, code: codeInvalid,
		req: func(e *env) *http.Request {
			return e.bearer(identitytest.SignWith(e.iss.Current(), e.claims(nil), map[string]any{"alg": nil}))
		}},

	// Key attacks.
	{name: "unknown kid signed by an unpublished key", status: 401, code: codeInvalid,
		req: func(e *env) *http.Request {
			return e.bearer(identitytest.SignWith(e.iss.Unpublished(), e.claims(nil), nil))
		}},
	{name: "published kid but signed by another key", status: 401, code: codeInvalid,
		req: func(e *env) *http.Request {
			k := e.iss.Unpublished()
			k.KID = e.iss.Current().KID
			return e.bearer(identitytest.SignWith(k, e.claims(nil), nil))
		}},
	{name: "kid missing", status: 401, code: codeInvalid,
		req: func(e *env) *http.Request {
			return e.bearer(identitytest.SignWith(e.iss.Current(), e.claims(nil), map[string]any{"kid": nil}))
		}},
	{name: "kid is not a string", status: 401, code: codeInvalid,
		req: func(e *env) *http.Request {
			return e.bearer(identitytest.SignWith(e.iss.Current(), e.claims(nil), map[string]any{"kid": 7}))
		}},
	{name: "kid path traversal", status: 401, code: codeInvalid,
		req: func(e *env) *http.Request {
			k := e.iss.Unpublished()
			k.KID = "../../../../etc/passwd"
			return e.bearer(identitytest.SignWith(k, e.claims(nil), nil))
		}},
	{name: "attacker key embedded as jwk / jku headers", status: 401, code: codeInvalid,
		req: func(e *env) *http.Request {
			k := e.iss.Unpublished()
			return e.bearer(identitytest.SignWith(k, e.claims(nil), map[string]any{
				"jwk": identitytest.JWK(k), "jku": "https://attacker.example/jwks", "x5u": "https://attacker.example/x5"}))
		}},
	{name: "retired key after rotation is refused", status: 401, code: codeInvalid,
		message: "signed with a key the provider does not publish", cold: refetchAtOnce,
		req: func(e *env) *http.Request {
			old := e.iss.Current()
			if w := e.serve(okRequest(e)); w.Code != 200 {
				e.t.Fatalf("warm-up: %d %s", w.Code, w.Body)
			}
			e.iss.Rotate(true)
			// The new key is fetched (unknown kid), which drops the retired one.
			exchanged(e, "rotated key")
			return e.bearer(identitytest.SignWith(old, e.claims(nil), nil))
		}},

	// Claim attacks.
	{name: "wrong iss", status: 401, code: codeInvalid,
		req: func(e *env) *http.Request { return e.bearer(e.token(set("iss", "https://evil.example.com"))) }},
	{name: "iss missing", status: 401, code: codeInvalid,
		req: func(e *env) *http.Request { return e.bearer(e.token(del("iss"))) }},
	{name: "iss differs only by a trailing slash or case", status: 401, code: codeInvalid,
		req: func(e *env) *http.Request {
			iss := e.base["iss"].(string)
			if strings.HasSuffix(iss, "/") {
				iss = strings.TrimSuffix(iss, "/")
			} else {
				iss = strings.ToUpper(iss)
			}
			return e.bearer(e.token(set("iss", iss)))
		}},
	{name: "iss is a number", status: 401, code: codeInvalid,
		req: func(e *env) *http.Request { return e.bearer(e.token(set("iss", 42))) }},
	{name: "wrong aud", status: 401, code: codeInvalid, applies: withAud,
		req: func(e *env) *http.Request { return e.bearer(e.token(set("aud", "https://other-api.example.com"))) }},
	{name: "aud array without ours", status: 401, code: codeInvalid, applies: withAud,
		req: func(e *env) *http.Request { return e.bearer(e.token(set("aud", []string{"a", "b"}))) }},
	{name: "aud missing", status: 401, code: codeInvalid, applies: withAud,
		req: func(e *env) *http.Request { return e.bearer(e.token(del("aud"))) }},
	{name: "aud empty array", status: 401, code: codeInvalid, applies: withAud,
		req: func(e *env) *http.Request { return e.bearer(e.token(set("aud", []string{}))) }},
	{name: "aud is ignored when the provider has none (insforge-api in a template)", status: 200, applies: withoutAud,
		req: func(e *env) *http.Request { return e.bearer(e.token(set("aud", "insforge-api"))) }},
	{name: "expired", status: 401, code: codeExpired,
		req: func(e *env) *http.Request {
			return e.bearer(e.token(set("exp", time.Now().Add(-5*time.Minute).Unix())))
		}},
	{name: "expired just beyond the leeway", status: 401, code: codeExpired,
		req: func(e *env) *http.Request {
			return e.bearer(e.token(set("exp", time.Now().Add(-45*time.Second).Unix())))
		}},
	{name: "exp missing", status: 401, code: codeInvalid,
		req: func(e *env) *http.Request { return e.bearer(e.token(del("exp"))) }},
	{name: "exp is not a number", status: 401, code: codeInvalid,
		req: func(e *env) *http.Request { return e.bearer(e.token(set("exp", map[string]any{"$gt": 0}))) }},
	{name: "nbf in the future", status: 401, code: codeInvalid,
		req: func(e *env) *http.Request { return e.bearer(e.token(set("nbf", time.Now().Add(5*time.Minute).Unix()))) }},
	{name: "iat in the future", status: 401, code: codeInvalid,
		req: func(e *env) *http.Request { return e.bearer(e.token(set("iat", time.Now().Add(5*time.Minute).Unix()))) }},
	{name: "sub missing", status: 401, code: codeInvalid,
		req: func(e *env) *http.Request { return e.bearer(e.token(del("sub"))) }},
	{name: "sub empty", status: 401, code: codeInvalid,
		req: func(e *env) *http.Request { return e.bearer(e.token(set("sub", ""))) }},
	{name: "sub blank", status: 401, code: codeInvalid,
		req: func(e *env) *http.Request { return e.bearer(e.token(set("sub", "   "))) }},
	{name: "sub is a number", status: 401, code: codeInvalid,
		req: func(e *env) *http.Request { return e.bearer(e.token(set("sub", 12345))) }},
	{name: "sub too long", status: 401, code: codeInvalid,
		req: func(e *env) *http.Request { return e.bearer(e.token(set("sub", strings.Repeat("u", 300)))) }},
	{name: "sub with control characters", status: 401, code: codeInvalid,
		req: func(e *env) *http.Request { return e.bearer(e.token(set("sub", "user_1\u0000admin"))) }},
	{name: "unverified email is not copied", status: 200, noEmail: true,
		req: func(e *env) *http.Request {
			return e.bearer(e.token(func(c jwt.MapClaims) { c["email"] = "victim@example.com"; c[e.verifiedClaim()] = false }))
		},
		minted: func(t *testing.T, e *env, w *httptest.ResponseRecorder) {
			if strings.Contains(w.Body.String(), "victim") {
				t.Fatal("email leaked")
			}
		}},

	// Tampering and shape.
	{name: "tampered payload (sub swapped after signing)", status: 401, code: codeInvalid,
		req: func(e *env) *http.Request {
			p := strings.Split(e.token(nil), ".")
			forged := strings.Split(e.token(set("sub", "user_victim")), ".")
			return e.bearer(p[0] + "." + forged[1] + "." + p[2])
		}},
	{name: "tampered payload (role added after signing)", status: 401, code: codeInvalid,
		req: func(e *env) *http.Request {
			p := strings.Split(e.token(nil), ".")
			return e.bearer(p[0] + "." + b64(`{"sub":"x","role":"project_admin","exp":9999999999}`) + "." + p[2])
		}},
	{name: "tampered header (kid swapped)", status: 401, code: codeInvalid,
		req: func(e *env) *http.Request {
			p := strings.Split(e.token(nil), ".")
			return e.bearer(b64(fmt.Sprintf(`{"alg":%q,"kid":"other","typ":"JWT"}`, e.spec.alg)) + "." + p[1] + "." + p[2])
		}},
	{name: "signature stripped", status: 401, code: codeInvalid,
		req: func(e *env) *http.Request {
			p := strings.Split(e.token(nil), ".")
			return e.bearer(p[0] + "." + p[1] + ".")
		}},
	{name: "signature truncated", status: 401, code: codeInvalid,
		req: func(e *env) *http.Request { t := e.token(nil); return e.bearer(t[:len(t)-8]) }},
	{name: "token truncated to two segments", status: 401, code: codeInvalid,
		req: func(e *env) *http.Request {
			p := strings.Split(e.token(nil), ".")
			return e.bearer(p[0] + "." + p[1])
		}},
	{name: "garbage with JWT shape", status: 401, code: codeInvalid,
		req: func(e *env) *http.Request { return e.bearer("a.b.c") }},
	{name: "header is not JSON", status: 401, code: codeInvalid,
		req: func(e *env) *http.Request { return e.bearer(b64("not json") + "." + b64("{}") + ".c2ln") }},
	{name: "garbage opaque string", status: 401, code: codeInvalid,
		req: func(e *env) *http.Request { return e.bearer("garbage-token") }},
	{name: "JWE-shaped (five segments) token", status: 401, code: codeInvalid,
		req: func(e *env) *http.Request {
			return e.bearer(b64(`{"alg":"dir","enc":"A256GCM"}`) + "..aXY.Y2lwaGVy.dGFn")
		}},

	// Credential-faithful minting: never longer than the credential, never more
	// than it asserts, never someone else acting as the user.
	{name: "exp in 3s (under the minimum left) is refused as expired", status: 401, code: codeExpired,
		req: func(e *env) *http.Request { return e.bearer(e.token(set("exp", time.Now().Add(3*time.Second).Unix()))) }},
	{name: "exp 1s ago is refused as expired", status: 401, code: codeExpired,
		req: func(e *env) *http.Request { return e.bearer(e.token(set("exp", time.Now().Add(-time.Second).Unix()))) }},
	{name: "exp in 25s caps the minted token at the credential's exp", status: 200,
		req: func(e *env) *http.Request {
			return e.bearer(e.token(set("exp", time.Now().Add(25*time.Second).Unix())))
		},
		minted: func(t *testing.T, e *env, w *httptest.ResponseRecorder) {
			if !strings.Contains(w.Body.String(), fmt.Sprintf(`"expires_at":%d`, e.credExp)) {
				t.Fatalf("expires_at is not the credential's exp %d: %s", e.credExp, w.Body)
			}
		}},
	{name: "exp in 2 days is capped at TOKEN_TTL", status: 200,
		req: func(e *env) *http.Request {
			return e.bearer(e.token(set("exp", time.Now().Add(48*time.Hour).Unix())))
		},
		minted: func(t *testing.T, e *env, w *httptest.ResponseRecorder) {
			if !strings.Contains(w.Body.String(), `"expires_in":3600`) {
				t.Fatalf("expires_in is not TOKEN_TTL: %s", w.Body)
			}
		}},
	{name: "email with verified exactly true is copied", status: 200, email: "ada@example.com",
		req: func(e *env) *http.Request { return e.bearer(e.token(withEmail(e, true))) }},
	{name: "email with verified missing is not copied", status: 200, noEmail: true,
		req: func(e *env) *http.Request {
			return e.bearer(e.token(func(c jwt.MapClaims) { withEmail(e, nil)(c); delete(c, e.verifiedClaim()) }))
		}},
	{name: "email with verified null is not copied", status: 200, noEmail: true,
		req: func(e *env) *http.Request { return e.bearer(e.token(withEmail(e, nil))) }},
	{name: `email with verified "true" (a string) is not copied`, status: 200, noEmail: true,
		req: func(e *env) *http.Request { return e.bearer(e.token(withEmail(e, "true"))) }},
	{name: "email with verified 1 is not copied", status: 200, noEmail: true,
		req: func(e *env) *http.Request { return e.bearer(e.token(withEmail(e, 1))) }},
	{name: `email with verified "yes" is not copied`, status: 200, noEmail: true,
		req: func(e *env) *http.Request { return e.bearer(e.token(withEmail(e, "yes"))) }},
	{name: "email with verified false is not copied", status: 200, noEmail: true,
		req: func(e *env) *http.Request { return e.bearer(e.token(withEmail(e, false))) }},
	{name: "email with verified [true] (an array) is not copied", status: 200, noEmail: true,
		req: func(e *env) *http.Request { return e.bearer(e.token(withEmail(e, []bool{true}))) }},
	{name: "impersonation token (act claim) is refused", status: 401, code: codeImpersonation,
		req: func(e *env) *http.Request {
			return e.bearer(e.token(set("act", map[string]any{"sub": "admin@example.com"})))
		}},
	{name: "act claim without sub is refused", status: 401, code: codeImpersonation,
		req: func(e *env) *http.Request { return e.bearer(e.token(set("act", "admin"))) }},
	{name: "act null counts as absent", status: 200,
		req: func(e *env) *http.Request { return e.bearer(e.token(set("act", nil))) }},
	{name: "the same provider cookie twice (victim's, then attacker's) is refused", status: 401, code: codeInvalid,
		applies: hasCookie,
		req: func(e *env) *http.Request {
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			r.Header.Set("Cookie", e.cookieName()+"="+e.token(nil)+"; "+e.cookieName()+"="+e.token(set("sub", "attacker")))
			return r
		}},
	{name: "the same provider cookie twice (attacker's first) is refused", status: 401, code: codeInvalid,
		applies: hasCookie,
		req: func(e *env) *http.Request {
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			r.Header.Set("Cookie", e.cookieName()+"="+e.token(set("sub", "attacker"))+"; "+e.cookieName()+"="+e.token(nil))
			return r
		}},
	{name: "the same provider cookie in two Cookie headers is refused", status: 401, code: codeInvalid,
		applies: hasCookie,
		req: func(e *env) *http.Request {
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			r.Header.Add("Cookie", e.cookieName()+"="+e.token(nil))
			r.Header.Add("Cookie", "other=1; "+e.cookieName()+"="+e.token(nil))
			return r
		}},
	{name: "the provider cookie once among other cookies is accepted", status: 200, applies: hasCookie,
		req: func(e *env) *http.Request {
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			r.Header.Set("Cookie", "theme=dark; "+e.cookieName()+"="+e.token(nil)+"; __session_other=x")
			return r
		}},

	// Opaque sessions (Stytch session_token, Better Auth session): the same rules,
	// with the expiry and email the provider's API reports.
	{name: "session: active session mints", status: 200, noEmail: true, applies: hasSessions,
		req: func(e *env) *http.Request { return e.bearer(e.session(1, nil)) }},
	{name: "session: expiring in 20s caps the minted token", status: 200, noEmail: true, applies: hasSessions,
		req: func(e *env) *http.Request {
			return e.bearer(e.session(1, func(u *identitytest.User) { u.ExpiresAt = time.Now().Add(20 * time.Second) }))
		}},
	{name: "session: expiring in 2s is refused as expired", status: 401, code: codeExpired, applies: hasSessions,
		req: func(e *env) *http.Request {
			return e.bearer(e.session(1, func(u *identitytest.User) { u.ExpiresAt = time.Now().Add(2 * time.Second) }))
		}},
	{name: "session: reported with an expiry in the past is refused as expired", status: 401, code: codeExpired,
		applies: hasSessions,
		req: func(e *env) *http.Request {
			return e.bearer(e.session(1, func(u *identitytest.User) { u.ExpiresAt = time.Now().Add(-time.Minute) }))
		}},
	{name: "session: verified email is copied", status: 200, email: "ada@example.com", applies: hasSessions,
		req: func(e *env) *http.Request {
			return e.bearer(e.session(1, func(u *identitytest.User) { u.Email, u.EmailVerified = "ada@example.com", true }))
		}},
	{name: "session: unverified email is not copied", status: 200, noEmail: true, applies: hasSessions,
		req: func(e *env) *http.Request {
			return e.bearer(e.session(1, func(u *identitytest.User) { u.Email = "victim@example.com" }))
		}},
	{name: "session: the session cookie twice is refused without asking the provider", status: 401, code: codeInvalid,
		applies: hasSessions,
		req: func(e *env) *http.Request {
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			r.Header.Set("Cookie", e.spec.sessionCookie+"="+e.session(1, nil)+"; "+e.spec.sessionCookie+"="+e.session(2, nil))
			return r
		},
		after: noLookups},
	{name: "session: the session cookie once is accepted", status: 200, noEmail: true, applies: hasSessions,
		req: func(e *env) *http.Request {
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			r.Header.Set("Cookie", "theme=dark; "+e.spec.sessionCookie+"="+e.session(1, nil))
			return r
		}},
	{name: "session: unknown session is 401", status: 401, code: codeInvalid, applies: hasSessions,
		req: func(e *env) *http.Request { return e.bearer(e.spec.sessionToken(99)) }},
	{name: "better-auth: impersonated session (admin plugin) is refused", status: 401, code: codeImpersonation,
		applies: only("better-auth"),
		req: func(e *env) *http.Request {
			return e.bearer(e.session(1, func(u *identitytest.User) { u.ImpersonatedBy = "admin_user_1" }))
		}},
	{name: "better-auth: impersonated session accepted with BETTER_AUTH_ALLOW_IMPERSONATION, actor logged", status: 200,
		noEmail: true, applies: only("better-auth"),
		cold: func(e *env) { e.t.Setenv("BETTER_AUTH_ALLOW_IMPERSONATION", "true") },
		req: func(e *env) *http.Request {
			return e.bearer(e.session(1, func(u *identitytest.User) { u.ImpersonatedBy = "admin_user_1" }))
		},
		minted: actorLogged("admin_user_1")},
	{name: "session: junk bearer never reaches the provider", status: 401, code: codeInvalid, applies: hasSessions,
		req: func(e *env) *http.Request { return e.bearer("not-a-session-token") }, after: noLookups},
	{name: "session: token one character short never reaches the provider", status: 401, code: codeInvalid,
		applies: hasSessions,
		req: func(e *env) *http.Request {
			tok := e.session(1, nil)
			return e.bearer(tok[1:])
		},
		after: noLookups},
	{name: "session: token with a foreign character never reaches the provider", status: 401, code: codeInvalid,
		applies: hasSessions,
		req: func(e *env) *http.Request {
			tok := []byte(e.session(1, nil))
			tok[3] = '!'
			return e.bearer(string(tok))
		},
		after: noLookups},
	{name: "session: 4 KiB opaque bearer never reaches the provider", status: 401, code: codeInvalid, applies: hasSessions,
		req: func(e *env) *http.Request { return e.bearer(strings.Repeat("A", 4096)) }, after: noLookups},
	{name: "session: a refused session asked again is answered from the negative cache", status: 401, code: codeInvalid,
		applies: hasSessions,
		req: func(e *env) *http.Request {
			expectError(e.t, e.serve(e.bearer(e.spec.sessionToken(77))), 401, codeInvalid)
			return e.bearer(e.spec.sessionToken(77))
		},
		after: func(t *testing.T, e *env) {
			if n := e.sessions.Calls(); n != 1 {
				t.Fatalf("upstream calls = %d, want 1", n)
			}
		}},

	// Configuration: a bad ALLOWED_ORIGINS fails the cold start, naming the variable.
	{name: "ALLOWED_ORIGINS listing null fails the cold start", initFails: "ALLOWED_ORIGINS",
		cold: func(e *env) { e.t.Setenv("ALLOWED_ORIGINS", appOrigin+",null") }},
	{name: "ALLOWED_ORIGINS with a path fails the cold start", initFails: "ALLOWED_ORIGINS",
		cold: func(e *env) { e.t.Setenv("ALLOWED_ORIGINS", appOrigin+"/callback") }},
	{name: "ALLOWED_ORIGINS with * among origins fails the cold start", initFails: "ALLOWED_ORIGINS",
		cold: func(e *env) { e.t.Setenv("ALLOWED_ORIGINS", appOrigin+",*") }},
	{name: "ALLOWED_ORIGINS with junk fails the cold start", initFails: "ALLOWED_ORIGINS",
		cold: func(e *env) { e.t.Setenv("ALLOWED_ORIGINS", "localhost:5173") }},

	// Transport-level attacks.
	{name: "no credential", status: 401, code: codeMissing,
		req: func(e *env) *http.Request { return httptest.NewRequest(http.MethodPost, "/", nil) }},
	{name: "empty bearer", status: 401, code: codeMissing,
		req: func(e *env) *http.Request {
			r := httptest.NewRequest(http.MethodPost, "/", nil)
			r.Header.Set("Authorization", "Bearer ")
			return r
		}},
	{name: "Basic instead of Bearer", status: 401, code: codeMissing,
		req: func(e *env) *http.Request {
			r := httptest.NewRequest(http.MethodPost, "/", nil)
			r.Header.Set("Authorization", "Basic "+b64("user:pass"))
			return r
		}},
	{name: "two Authorization headers (one valid)", status: 401, code: codeInvalid,
		req: func(e *env) *http.Request {
			r := okRequest(e)
			r.Header.Add("Authorization", "Bearer other")
			return r
		}},
	{name: "1 MB header", status: 413, code: "request_too_large",
		req: func(e *env) *http.Request {
			r := okRequest(e)
			r.Header.Set("X-Padding", strings.Repeat("a", 1<<20))
			return r
		}},
	{name: "1 MB bearer token", status: 413, code: "request_too_large",
		req: func(e *env) *http.Request { return e.bearer(strings.Repeat("a", 1<<20)) }},
	{name: "1 MB body", status: 413, code: "request_too_large",
		req: func(e *env) *http.Request {
			r := okRequest(e)
			r.Body = http.NoBody
			r2 := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(strings.Repeat("{", 1<<20)))
			r2.Header = r.Header
			return r2
		}},
	{name: "PUT is not allowed", status: 405, code: "method_not_allowed",
		req: func(e *env) *http.Request {
			r := okRequest(e)
			r.Method = http.MethodPut
			return r
		}},
	{name: "DELETE is not allowed", status: 405, code: "method_not_allowed",
		req: func(e *env) *http.Request {
			r := okRequest(e)
			r.Method = http.MethodDelete
			return r
		}},
	{name: "browser request from an origin not in ALLOWED_ORIGINS", status: 403, code: "origin_not_allowed",
		req: func(e *env) *http.Request {
			r := okRequest(e)
			r.Header.Set("Origin", "https://evil.example.com")
			return r
		}},

	// JWKS availability.
	{name: "JWKS down at cold start", status: 503, code: codeUnavailable,
		cold: func(e *env) { e.iss.SetDown(true) }, req: okRequest},
	{name: "JWKS answers garbage at cold start", status: 503, code: codeUnavailable,
		cold: func(e *env) { e.iss.SetMode(identitytest.Garbage) }, req: okRequest},
	{name: "JWKS answers over 1 MiB at cold start", status: 503, code: codeUnavailable,
		cold: func(e *env) { e.iss.SetMode(identitytest.Huge) }, req: okRequest},
	{name: "JWKS down at cold start recovers when it is back", status: 200,
		cold: func(e *env) { e.iss.SetDown(true); refetchAtOnce(e) },
		req: func(e *env) *http.Request {
			expectError(e.t, e.serve(okRequest(e)), 503, codeUnavailable)
			e.iss.SetDown(false)
			if e.spec.name != "oidc" {
				exchanged(e, "JWKS back")
				return okRequest(e)
			}
			// OIDC discovery was down too; it is retried in the background, not by
			// the request, so this one outage heals asynchronously.
			if w := waitFor200(e, func() *http.Request { return okRequest(e) }); w.Code != http.StatusOK {
				e.t.Fatalf("discovery and JWKS back: %d %s", w.Code, w.Body)
			}
			return okRequest(e)
		}},
	{name: "JWKS down after a successful fetch: cached keys keep working", status: 200,
		req: func(e *env) *http.Request {
			if w := e.serve(okRequest(e)); w.Code != 200 {
				e.t.Fatalf("warm-up: %d", w.Code)
			}
			e.iss.SetDown(true)
			return okRequest(e)
		}},
	{name: "JWKS down after a fetch: an unknown kid is 503, not 401", status: 503, code: codeUnavailable,
		req: func(e *env) *http.Request {
			if w := e.serve(okRequest(e)); w.Code != 200 {
				e.t.Fatalf("warm-up: %d", w.Code)
			}
			e.iss.SetDown(true)
			return e.bearer(identitytest.SignWith(e.iss.Unpublished(), e.claims(nil), nil))
		}},
	{name: "key rotation: a new kid is picked up", status: 200,
		req: func(e *env) *http.Request {
			if w := e.serve(okRequest(e)); w.Code != 200 {
				e.t.Fatalf("warm-up: %d", w.Code)
			}
			e.iss.Rotate(false)
			return okRequest(e)
		}},

	// Provider-specific rules.
	{name: "clerk: azp not in CLERK_AUTHORIZED_PARTIES", status: 401, code: codeNotUser, applies: only("clerk"),
		req: func(e *env) *http.Request { return e.bearer(e.token(set("azp", "https://evil.example.com"))) }},
	// Clerk omits azp when the Frontend API request had no Origin (native apps):
	// https://clerk.com/docs/guides/sessions/session-tokens
	{name: "clerk: azp missing (no Origin at Clerk) is a user session", status: 200, applies: only("clerk"),
		req: func(e *env) *http.Request { return e.bearer(e.token(del("azp"))) }},
	{name: "clerk: azp missing while CLERK_REQUIRE_AZP is set", status: 401, code: codeNotUser, applies: only("clerk"),
		cold: func(e *env) { e.t.Setenv("CLERK_REQUIRE_AZP", "true") },
		req:  func(e *env) *http.Request { return e.bearer(e.token(del("azp"))) }},
	{name: "clerk: azp null while CLERK_REQUIRE_AZP is set", status: 401, code: codeNotUser, applies: only("clerk"),
		cold: func(e *env) { e.t.Setenv("CLERK_REQUIRE_AZP", "true") },
		req:  func(e *env) *http.Request { return e.bearer(e.token(set("azp", nil))) }},
	{name: "clerk: azp empty string", status: 401, code: codeNotUser, applies: only("clerk"),
		req: func(e *env) *http.Request { return e.bearer(e.token(set("azp", ""))) }},
	{name: "clerk: azp differing by a trailing slash", status: 401, code: codeNotUser, applies: only("clerk"),
		req: func(e *env) *http.Request { return e.bearer(e.token(set("azp", appOrigin+"/"))) }},
	{name: "clerk: sid missing (OAuth, machine or template token)", status: 401, code: codeNotUser, applies: only("clerk"),
		req: func(e *env) *http.Request { return e.bearer(e.token(del("sid"))) }},
	{name: "clerk: sid empty", status: 401, code: codeNotUser, applies: only("clerk"),
		req: func(e *env) *http.Request { return e.bearer(e.token(set("sid", ""))) }},
	{name: "clerk: OAuth access token shape (client azp, no sid)", status: 401, code: codeNotUser, applies: only("clerk"),
		req: func(e *env) *http.Request {
			return e.bearer(e.token(func(c jwt.MapClaims) { delete(c, "sid"); c["azp"] = "client_oauth_app"; c["scope"] = "profile" }))
		}},
	{name: "clerk: parties default to ALLOWED_ORIGINS when CLERK_AUTHORIZED_PARTIES is unset", status: 401, code: codeNotUser,
		applies: only("clerk"),
		cold: func(e *env) {
			e.t.Setenv("CLERK_AUTHORIZED_PARTIES", "")
			e.t.Setenv("ALLOWED_ORIGINS", appOrigin)
		},
		req: func(e *env) *http.Request { return e.bearer(e.token(set("azp", "https://admin.example.com"))) }},
	{name: "clerk: a token from an ALLOWED_ORIGINS origin is accepted by default", status: 200, applies: only("clerk"),
		cold: func(e *env) {
			e.t.Setenv("CLERK_AUTHORIZED_PARTIES", "")
			e.t.Setenv("ALLOWED_ORIGINS", appOrigin)
		},
		req: okRequest},
	{name: "clerk: impersonation accepted with CLERK_ALLOW_IMPERSONATION, actor logged", status: 200, applies: only("clerk"),
		cold: func(e *env) { e.t.Setenv("CLERK_ALLOW_IMPERSONATION", "true") },
		req: func(e *env) *http.Request {
			return e.bearer(e.token(set("act", map[string]any{"sub": "user_admin_1", "iss": "https://dashboard.clerk.com"})))
		},
		minted: actorLogged("user_admin_1")},
	{name: "clerk: pending session (sts)", status: 401, code: codeInvalid, applies: only("clerk"),
		req: func(e *env) *http.Request { return e.bearer(e.token(set("sts", "pending"))) }},
	{name: "clerk: second authorized party accepted", status: 200, applies: only("clerk"),
		req: func(e *env) *http.Request { return e.bearer(e.token(set("azp", "https://admin.example.com"))) }},
	{name: "clerk: __session cookie on a same-site GET", status: 200, applies: only("clerk"),
		req: func(e *env) *http.Request {
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			r.AddCookie(&http.Cookie{Name: "__session", Value: e.token(nil)})
			return r
		}},
	{name: "stytch: session_jwt cookie", status: 200, applies: only("stytch"),
		req: func(e *env) *http.Request {
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			r.AddCookie(&http.Cookie{Name: "stytch_session_jwt", Value: e.token(nil)})
			return r
		}},
	{name: "stytch: custom-domain issuer (the API base URL) accepted", status: 200, applies: only("stytch"),
		req: func(e *env) *http.Request { return e.bearer(e.token(set("iss", e.vars["STYTCH_API_URL"]))) }},
	{name: "stytch: session claim missing (an M2M access token)", status: 401, code: codeNotUser, applies: only("stytch"),
		req: func(e *env) *http.Request {
			return e.bearer(e.token(func(c jwt.MapClaims) {
				delete(c, "https://stytch.com/session")
				c["sub"], c["scope"] = "m2m-client-test-d731954d-dab3-4a2b-bdee-07f3ad1be885", "read:users"
			}))
		}},
	{name: "stytch: session claim null", status: 401, code: codeNotUser, applies: only("stytch"),
		req: func(e *env) *http.Request { return e.bearer(e.token(set("https://stytch.com/session", nil))) }},
	{name: "stytch: session claim empty object", status: 401, code: codeNotUser, applies: only("stytch"),
		req: func(e *env) *http.Request {
			return e.bearer(e.token(set("https://stytch.com/session", map[string]any{})))
		}},
	{name: "stytch: session claim under another name", status: 401, code: codeNotUser, applies: only("stytch"),
		req: func(e *env) *http.Request {
			return e.bearer(e.token(func(c jwt.MapClaims) {
				c["https://stytch.com/sessions"] = c["https://stytch.com/session"]
				delete(c, "https://stytch.com/session")
			}))
		}},
	{name: "stytch: aud of another project", status: 401, code: codeInvalid, applies: only("stytch"),
		req: func(e *env) *http.Request { return e.bearer(e.token(set("aud", []string{"project-test-other"}))) }},
	{name: "auth0: opaque access token says an audience is needed", status: 401, code: codeInvalid, applies: only("auth0"),
		message: "request the token with audience",
		req:     func(e *env) *http.Request { return e.bearer("h7Tkd9s0_mOpaQUEtokenWITHOUTdots") }},
	{name: "auth0: client-credentials token (gty)", status: 401, code: codeNotUser, applies: only("auth0"),
		req: func(e *env) *http.Request { return e.bearer(e.token(set("gty", "client-credentials"))) }},
	{name: "auth0: client-credentials token (sub @clients)", status: 401, code: codeNotUser, applies: only("auth0"),
		req: func(e *env) *http.Request { return e.bearer(e.token(set("sub", "hJ7sDk2lAbC0x9@clients"))) }},
	{name: "auth0: M2M token as issued (gty and sub @clients, no azp user)", status: 401, code: codeNotUser, applies: only("auth0"),
		req: func(e *env) *http.Request {
			return e.bearer(e.token(func(c jwt.MapClaims) {
				c["sub"], c["gty"], c["azp"], c["aud"] = "hJ7sDk2lAbC0x9@clients", "client-credentials", "hJ7sDk2lAbC0x9", "https://api.example.com"
			}))
		}},
	{name: "auth0: gty array with client-credentials", status: 401, code: codeNotUser, applies: only("auth0"),
		req: func(e *env) *http.Request { return e.bearer(e.token(set("gty", []string{"client-credentials"}))) }},
	{name: "auth0: gty that is not a string", status: 401, code: codeNotUser, applies: only("auth0"),
		req: func(e *env) *http.Request {
			return e.bearer(e.token(set("gty", map[string]any{"grant": "client-credentials"})))
		}},
	{name: "auth0: gty password (resource owner, a user) is accepted", status: 200, applies: only("auth0"),
		req: func(e *env) *http.Request { return e.bearer(e.token(set("gty", "password"))) }},
	{name: "auth0: aud as a plain string", status: 200, applies: only("auth0"),
		req: func(e *env) *http.Request { return e.bearer(e.token(set("aud", "https://api.example.com"))) }},
	{name: "kinde: M2M token (gty [client_credentials])", status: 401, code: codeNotUser, applies: only("kinde"),
		req: func(e *env) *http.Request { return e.bearer(e.token(set("gty", []string{"client_credentials"}))) }},
	{name: "kinde: gty client_credentials as a string", status: 401, code: codeNotUser, applies: only("kinde"),
		req: func(e *env) *http.Request { return e.bearer(e.token(set("gty", "client_credentials"))) }},
	{name: "kinde: gty array mixing grants", status: 401, code: codeNotUser, applies: only("kinde"),
		req: func(e *env) *http.Request {
			return e.bearer(e.token(set("gty", []string{"authorization_code", "client_credentials"})))
		}},
	{name: "kinde: M2M token as documented (no sub)", status: 401, code: codeInvalid, applies: only("kinde"),
		req: func(e *env) *http.Request {
			return e.bearer(e.token(func(c jwt.MapClaims) { delete(c, "sub"); c["gty"] = []string{"client_credentials"}; c["v"] = "2" }))
		}},
	{name: "kinde: gty that is not a string", status: 401, code: codeNotUser, applies: only("kinde"),
		req: func(e *env) *http.Request { return e.bearer(e.token(set("gty", 7))) }},
	{name: "kinde: user token with gty refresh_token is accepted", status: 200, applies: only("kinde"),
		req: func(e *env) *http.Request { return e.bearer(e.token(set("gty", []string{"refresh_token"}))) }},
	{name: "kinde: aud array with several audiences", status: 200, applies: only("kinde"),
		req: func(e *env) *http.Request {
			return e.bearer(e.token(set("aud", []string{"https://other.example.com", "https://api.example.com"})))
		}},
	{name: "workos: legacy issuer https://api.workos.com", status: 200, applies: only("workos"),
		req: func(e *env) *http.Request { return e.bearer(e.token(set("iss", "https://api.workos.com"))) }},
	{name: "workos: legacy issuer with a trailing slash (as the sessions guide shows)", status: 200, applies: only("workos"),
		req: func(e *env) *http.Request { return e.bearer(e.token(set("iss", "https://api.workos.com/"))) }},
	{name: "workos: legacy issuer with two trailing slashes", status: 401, code: codeInvalid, applies: only("workos"),
		req: func(e *env) *http.Request { return e.bearer(e.token(set("iss", "https://api.workos.com//"))) }},
	{name: "workos: legacy issuer over http", status: 401, code: codeInvalid, applies: only("workos"),
		req: func(e *env) *http.Request { return e.bearer(e.token(set("iss", "http://api.workos.com"))) }},
	{name: "workos: WORKOS_ISSUERS replaces the defaults (legacy issuer refused)", status: 401, code: codeInvalid,
		applies: only("workos"),
		cold:    func(e *env) { e.t.Setenv("WORKOS_ISSUERS", "https://auth.example.com") },
		req:     func(e *env) *http.Request { return e.bearer(e.token(set("iss", "https://api.workos.com"))) }},
	{name: "workos: WORKOS_ISSUERS custom domain accepted", status: 200, applies: only("workos"),
		cold: func(e *env) { e.t.Setenv("WORKOS_ISSUERS", "https://auth.example.com") },
		req:  func(e *env) *http.Request { return e.bearer(e.token(set("iss", "https://auth.example.com"))) }},
	{name: "workos: sid missing", status: 401, code: codeNotUser, applies: only("workos"),
		req: func(e *env) *http.Request { return e.bearer(e.token(del("sid"))) }},
	{name: "workos: sid empty", status: 401, code: codeNotUser, applies: only("workos"),
		req: func(e *env) *http.Request { return e.bearer(e.token(set("sid", ""))) }},
	{name: "workos: impersonation with WORKOS_ALLOW_IMPERSONATION=false is refused", status: 401, code: codeImpersonation,
		applies: only("workos"),
		cold:    func(e *env) { e.t.Setenv("WORKOS_ALLOW_IMPERSONATION", "false") },
		req: func(e *env) *http.Request {
			return e.bearer(e.token(set("act", map[string]any{"sub": "admin@example.com", "reason": "support"})))
		}},
	{name: "workos: impersonation accepted with WORKOS_ALLOW_IMPERSONATION, actor logged", status: 200, applies: only("workos"),
		cold: func(e *env) { e.t.Setenv("WORKOS_ALLOW_IMPERSONATION", "true") },
		req: func(e *env) *http.Request {
			return e.bearer(e.token(set("act", map[string]any{"sub": "admin@example.com", "reason": "support"})))
		},
		minted: actorLogged("admin@example.com")},
	{name: "workos: issuer of another client", status: 401, code: codeInvalid, applies: only("workos"),
		req: func(e *env) *http.Request {
			return e.bearer(e.token(set("iss", "https://api.workos.com/user_management/client_OTHER")))
		}},
	{name: "better-auth: plugin payload with role admin mints authenticated", status: 200, applies: only("better-auth"),
		req: func(e *env) *http.Request { return e.bearer(e.token(set("role", "admin"))) }},

	// Generic OIDC: discovery, audience or client_id, token use, machine tokens.
	{name: "oidc: discovery names another issuer once it answers: 500, never a mint", status: 500, code: identity.CodeMisconfigured,
		applies: only("oidc"),
		cold: func(e *env) {
			e.iss.SetDown(true) // unreachable at cold start, so init cannot refuse it
			e.iss.SetDiscoveryIssuer(e.iss.URL() + "/")
		},
		req: func(e *env) *http.Request {
			expectError(e.t, e.serve(okRequest(e)), 503, codeUnavailable)
			e.iss.SetDown(false)
			// Discovery is retried in the background, not by the request: poll until
			// it has answered (the verdict then stays 500, never a mint).
			for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(15 * time.Millisecond) {
				if w := e.serve(okRequest(e)); w.Code != 503 {
					break
				}
			}
			return okRequest(e)
		}},
	{name: "oidc: Cognito access token (no aud, client_id ours) accepted", status: 200, applies: only("oidc"),
		req: func(e *env) *http.Request {
			return e.bearer(e.token(func(c jwt.MapClaims) {
				delete(c, "aud")
				delete(c, "azp")
				c["client_id"], c["token_use"], c["username"], c["scope"] = oidcClient, "access", "ada", "openid"
			}))
		}},
	{name: "oidc: Cognito access token of another app client", status: 401, code: codeInvalid, applies: only("oidc"),
		req: func(e *env) *http.Request {
			return e.bearer(e.token(func(c jwt.MapClaims) {
				delete(c, "aud")
				delete(c, "azp")
				c["client_id"], c["token_use"] = "another-client", "access"
			}))
		}},
	{name: "oidc: client_id ours but aud foreign", status: 401, code: codeInvalid, applies: only("oidc"),
		req: func(e *env) *http.Request {
			return e.bearer(e.token(func(c jwt.MapClaims) { c["aud"], c["client_id"] = "another-api", oidcClient }))
		}},
	{name: "oidc: Cognito ID token (token_use id) accepted", status: 200, applies: only("oidc"),
		req: func(e *env) *http.Request { return e.bearer(e.token(set("token_use", "id"))) }},
	{name: "oidc: token_use other than access or id", status: 401, code: codeNotUser, applies: only("oidc"),
		req: func(e *env) *http.Request { return e.bearer(e.token(set("token_use", "refresh"))) }},
	{name: "oidc: ID token refused when OIDC_TOKEN_USE=access", status: 401, code: codeNotUser, applies: only("oidc"),
		cold: func(e *env) { e.t.Setenv("OIDC_TOKEN_USE", "access") },
		req:  func(e *env) *http.Request { return e.bearer(e.token(set("token_use", "id"))) }},
	{name: "oidc: at+jwt access token refused when OIDC_TOKEN_USE=id", status: 401, code: codeNotUser, applies: only("oidc"),
		cold: func(e *env) { e.t.Setenv("OIDC_TOKEN_USE", "id") },
		req: func(e *env) *http.Request {
			return e.bearer(identitytest.SignWith(e.iss.Current(), e.claims(nil), map[string]any{"typ": "at+jwt"}))
		}},
	{name: "oidc: client-credentials token (sub is the client id)", status: 401, code: codeNotUser, applies: only("oidc"),
		req: func(e *env) *http.Request {
			return e.bearer(e.token(func(c jwt.MapClaims) {
				delete(c, "aud")
				c["sub"], c["client_id"], c["token_use"] = oidcClient, oidcClient, "access"
			}))
		}},
	{name: "oidc: Okta service token (sub equals cid)", status: 401, code: codeNotUser, applies: only("oidc"),
		req: func(e *env) *http.Request {
			return e.bearer(e.token(func(c jwt.MapClaims) { c["cid"] = "0oa1okta"; c["sub"] = "0oa1okta" }))
		}},
	{name: "oidc: gty client-credentials", status: 401, code: codeNotUser, applies: only("oidc"),
		req: func(e *env) *http.Request { return e.bearer(e.token(set("gty", "client-credentials"))) }},
	{name: "oidc: Entra app-only token (idtyp app)", status: 401, code: codeNotUser, applies: only("oidc"),
		req: func(e *env) *http.Request { return e.bearer(e.token(set("idtyp", "app"))) }},
	{name: "oidc: aud array holding ours among others", status: 200, applies: only("oidc"),
		req: func(e *env) *http.Request { return e.bearer(e.token(set("aud", []string{"other", oidcClient}))) }},
	{name: "oidc: OIDC_AUDIENCE=* accepts a foreign audience", status: 200, applies: only("oidc"),
		cold: func(e *env) { e.t.Setenv("OIDC_AUDIENCE", "*") },
		req:  func(e *env) *http.Request { return e.bearer(e.token(set("aud", "another-client"))) }},
	{name: "oidc: OIDC_JWKS_URL and OIDC_ALGORITHMS set: nothing is discovered", status: 200, applies: only("oidc"),
		cold: func(e *env) {
			e.t.Setenv("OIDC_JWKS_URL", e.iss.JWKSURL())
			e.t.Setenv("OIDC_ALGORITHMS", "RS256")
			e.iss.SetDiscoveryIssuer("https://not-consulted.example.com")
		},
		req: okRequest,
		minted: func(t *testing.T, e *env, _ *httptest.ResponseRecorder) {
			if n := e.iss.DiscoveryFetches.Load(); n != 0 {
				t.Fatalf("%d discovery fetches, want 0", n)
			}
		}},
	{name: "oidc: OIDC_ALGORITHMS pins the algorithm over discovery", status: 401, code: codeInvalid, applies: only("oidc"),
		cold: func(e *env) { e.t.Setenv("OIDC_ALGORITHMS", "ES256") },
		req:  okRequest},
}

// TestAttackSuite runs every attack against every JWT provider. Each case gets a
// fresh issuer, fakes and bridge, so cold-start and rotation cases are isolated.
func TestAttackSuite(t *testing.T) {
	for _, sp := range specs {
		t.Run(sp.name, func(t *testing.T) {
			n := 0
			for _, a := range attacks {
				if a.applies != nil && !a.applies(sp) {
					continue
				}
				if a.status != 200 {
					n++
				}
				if a.initFails != "" {
					t.Run(a.name, func(t *testing.T) {
						e := newEnv(t, sp)
						t.Setenv("INSFORGE_JWT_SECRET", testSecret)
						a.cold(e)
						_, err := bridge.FromEnv(slog.New(slog.NewJSONHandler(e.logs, nil)), e.spec.load)
						if err == nil || !strings.Contains(err.Error(), a.initFails) {
							t.Fatalf("cold start err = %v, want it to name %s", err, a.initFails)
						}
						if strings.Contains(err.Error(), "/callback") || strings.Contains(err.Error(), "localhost:5173") {
							t.Fatalf("the error repeats the value: %v", err)
						}
					})
					continue
				}
				t.Run(a.name, func(t *testing.T) {
					e := newEnv(t, sp)
					if a.cold != nil {
						a.cold(e)
					}
					e.build()
					req := a.req(e) // may serve warm-up requests
					mintsBefore := strings.Count(e.logs.String(), `"msg":"token minted"`)
					w := e.serve(req)
					if a.after != nil {
						defer a.after(t, e)
					}
					if a.status != 200 {
						expectError(t, w, a.status, a.code)
						if a.message != "" {
							var body struct{ Message string }
							if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil || !strings.Contains(body.Message, a.message) {
								t.Fatalf("message %q, want it to contain %q", body.Message, a.message)
							}
						}
						if strings.Count(e.logs.String(), `"msg":"token minted"`) != mintsBefore {
							t.Fatalf("a token was minted on an error path:\n%s", e.logs)
						}
						return
					}
					body := w.Body.String()
					email := expectedEmail(e)
					if a.noEmail {
						email = ""
					}
					if a.email != "" {
						email = a.email
					}
					expectMinted(t, e, w, e.base["sub"].(string), email)
					w.Body = bytes.NewBufferString(body)
					if a.minted != nil {
						a.minted(t, e, w)
					}
				})
			}
			if n < 40 {
				t.Errorf("%s: only %d attack cases, want at least 40", sp.name, n)
			}
			t.Logf("%s: %d attack cases", sp.name, n)
		})
	}
}
