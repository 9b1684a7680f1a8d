package bridge_test

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/insforge/edge-functions-go/shared/bridge"
	"github.com/insforge/edge-functions-go/shared/httpapi/openapitest"
	"github.com/insforge/edge-functions-go/shared/identity"
	"github.com/insforge/edge-functions-go/shared/identity/identitytest"
	"github.com/insforge/edge-functions-go/shared/logtest"
	"github.com/insforge/edge-functions-go/shared/signer"
)

const (
	testSecret    = "test-secret-0123456789abcdef0123456789"
	appOrigin     = "https://app.example.com"
	stytchProject = "project-test-6a1e8c2d-0000-4000-8000-000000000001"
	stytchSecret  = "secret-test-xyz"
)

// spec describes one provider to the shared harness: providers are data.
type spec struct {
	name string
	alg  string
	// setup starts what the provider needs besides the issuer and returns its
	// environment and the claims of a valid token.
	setup     func(e *env) (map[string]string, jwt.MapClaims)
	load      func(identity.Options) (*identity.Provider, error)
	aud       bool   // aud is checked
	jwtCookie string // a cookie that may carry the JWT
	// verified is the claim that must be exactly true for email to be copied.
	verified string
	// sessionCookie carries an opaque session (checked with the provider's API);
	// sessionToken makes the n-th well-formed session credential.
	sessionCookie string
	sessionToken  func(n int) string
}

// specs are every bridge declared in identity.Bridges, in order: the suites run
// against each. A provider whose tokens are a plain JWT of its issuer (iss, sub,
// aud when it checks one) needs no entry here; shaped lists the providers whose
// setup or tokens differ from that. Each builds exactly as its main.go does
// (Bridge.Load: envconfig + Validate + constructor).
var specs = declaredSpecs()

func declaredSpecs() []spec {
	var out []spec
	for _, b := range identity.Bridges {
		sp, ok := shaped[b.Slug]
		if !ok {
			sp = plainJWTSpec(b)
		}
		sp.name, sp.load = b.Slug, b.Load
		out = append(out, sp)
	}
	return out
}

// plainJWTSpec points a bridge's issuer, JWKS and audience variables at the
// test issuer and signs the claims every JWT bridge requires.
func plainJWTSpec(b *identity.Bridge) spec {
	const aud = "https://api.example.com"
	return spec{alg: b.Alg, aud: b.AudienceVar != "",
		setup: func(e *env) (map[string]string, jwt.MapClaims) {
			vars := map[string]string{b.IssuerVar: e.iss.URL(), b.JWKSVar: e.iss.JWKSURL()}
			claims := jwt.MapClaims{"iss": e.iss.URL(), "sub": "user_" + b.Slug + "_1"}
			if b.AudienceVar != "" {
				vars[b.AudienceVar] = aud
				claims["aud"] = []string{aud}
			}
			return vars, claims
		}}
}

var shaped = map[string]spec{
	"workos": {
		alg: "RS256",
		setup: func(e *env) (map[string]string, jwt.MapClaims) {
			return map[string]string{"WORKOS_CLIENT_ID": "client_01HTEST", "WORKOS_JWKS_URL": e.iss.JWKSURL()},
				jwt.MapClaims{"iss": "https://api.workos.com/user_management/client_01HTEST", "sub": "user_01HBEQKA6K4QJAS93VPE39W1JT",
					"sid": "session_01H", "org_id": "org_01H", "role": "member", "permissions": []string{"posts:write"}, "jti": "01J"}
		},
	},
	"kinde": {
		alg: "RS256", aud: true,
		setup: func(e *env) (map[string]string, jwt.MapClaims) {
			// KINDE_JWKS_URL unset: the default <issuer>/.well-known/jwks is served by the issuer.
			return map[string]string{"KINDE_ISSUER_URL": e.iss.URL(), "KINDE_AUDIENCE": "https://api.example.com"},
				jwt.MapClaims{"iss": e.iss.URL(), "sub": "kp_1234abcd", "aud": []string{"https://api.example.com"},
					"azp": "kinde-client", "scp": []string{"openid"}, "org_code": "org_1"}
		},
	},
	"auth0": {
		alg: "RS256", aud: true,
		setup: func(e *env) (map[string]string, jwt.MapClaims) {
			// AUTH0_ISSUER unset: the default https://<domain>/ (trailing slash) is used.
			return map[string]string{"AUTH0_DOMAIN": "tenant.us.auth0.com", "AUTH0_AUDIENCE": "https://api.example.com",
					"AUTH0_JWKS_URL": e.iss.JWKSURL()},
				jwt.MapClaims{"iss": "https://tenant.us.auth0.com/", "sub": "auth0|6553da60a54af58e29493993",
					"aud": []string{"https://api.example.com", "https://tenant.us.auth0.com/userinfo"}, "azp": "spa-client",
					"scope": "openid profile"}
		},
	},
	"stytch": {
		alg: "RS256", aud: true, jwtCookie: "stytch_session_jwt",
		sessionCookie: "stytch_session", sessionToken: stytchToken,
		setup: func(e *env) (map[string]string, jwt.MapClaims) {
			// STYTCH_JWKS_URL unset: the default <api>/v1/sessions/jwks/<project> is served by the fake.
			api := identitytest.NewStytchAPI(e.t, stytchProject, stytchSecret, e.iss)
			e.sessions = api
			return map[string]string{"STYTCH_PROJECT_ID": stytchProject, "STYTCH_SECRET": stytchSecret, "STYTCH_API_URL": api.Server.URL},
				jwt.MapClaims{"iss": "stytch.com/" + stytchProject, "sub": "user-test-16d9ba61-97a1-4ba4-9720-b03761dc50c6",
					"aud": []string{stytchProject}, "https://stytch.com/session": map[string]any{"id": "session-test-1"}}
		},
	},
	"better-auth": {
		alg: "EdDSA", aud: true, verified: "emailVerified",
		sessionCookie: identity.BetterAuthSecureCookie, sessionToken: betterAuthToken,
		setup: func(e *env) (map[string]string, jwt.MapClaims) {
			// Only BETTER_AUTH_URL: JWKS /api/auth/jwks, iss and aud = its origin.
			api := identitytest.NewBetterAuthAPI(e.t, e.iss)
			e.sessions = api
			return map[string]string{"BETTER_AUTH_URL": api.Server.URL},
				jwt.MapClaims{"iss": api.Server.URL, "aud": api.Server.URL, "sub": "f5kGYiUXDPEJqRDQ4jgtNTopIzpj5MgK",
					"id": "f5kGYiUXDPEJqRDQ4jgtNTopIzpj5MgK", "name": "Ada", "email": "ada@example.com", "emailVerified": true}
		},
	},
	"clerk": {
		alg: "RS256", jwtCookie: "__session",
		setup: func(e *env) (map[string]string, jwt.MapClaims) {
			// CLERK_JWKS_URL unset: the default <issuer>/.well-known/jwks.json is served by the issuer.
			return map[string]string{"CLERK_ISSUER": e.iss.URL(), "CLERK_AUTHORIZED_PARTIES": appOrigin + ",https://admin.example.com"},
				jwt.MapClaims{"iss": e.iss.URL(), "sub": "user_2NNEqL2nrIRdJ194ndJqAHwEfxC", "azp": appOrigin,
					"sid": "sess_2N", "sts": "active", "v": 2, "fva": []int{1, -1}}
		},
	},
	"oidc": {
		alg: "RS256", aud: true,
		setup: func(e *env) (map[string]string, jwt.MapClaims) {
			// Only issuer and audience: the JWKS URL and RS256 come from the issuer's
			// discovery document (which also lists HS256 and none, never picked up).
			return map[string]string{"OIDC_ISSUER": e.iss.URL(), "OIDC_AUDIENCE": oidcClient},
				jwt.MapClaims{"iss": e.iss.URL(), "sub": "248289761001", "aud": oidcClient, "azp": oidcClient,
					"auth_time": time.Now().Add(-time.Minute).Unix(), "name": "Ada"}
		},
	},
}

// oidcClient is the client id the generic OIDC bridge is configured with.
const oidcClient = "oidc-client-1"

// stytchToken is a session_token of Stytch's shape: 44 URL-safe characters.
func stytchToken(n int) string { return fmt.Sprintf("%044d", n) }

// betterAuthToken is a signed Better Auth session cookie value: a 32-character
// token, ".", and the URL-encoded 44-character base64 HMAC.
func betterAuthToken(n int) string {
	tok := fmt.Sprintf("T%031d", n)
	mac := sha256.Sum256([]byte(tok))
	return tok + "." + url.QueryEscape(base64.StdEncoding.EncodeToString(mac[:]))
}

// session registers a session for the base subject, changed by mod, and
// returns its credential; a minted token must not outlive u.ExpiresAt.
func (e *env) session(n int, mod func(*identitytest.User)) string {
	u := identitytest.User{ID: e.base["sub"].(string), ExpiresAt: time.Now().Add(7 * 24 * time.Hour)}
	if mod != nil {
		mod(&u)
	}
	tok := e.spec.sessionToken(n)
	e.sessions.AddSession(tok, u)
	e.credExp = u.ExpiresAt.Unix()
	return tok
}

// syncBuffer collects logs from the handler and the JWKS goroutines.
type syncBuffer = logtest.Buffer

// env is one provider bridge under test, fresh for every case.
type env struct {
	t      *testing.T
	spec   spec
	iss    *identitytest.Issuer
	base   jwt.MapClaims
	vars   map[string]string
	opts   identity.Options
	prov   *identity.Provider
	h      http.Handler
	signer *signer.Signer
	logs   *syncBuffer
	sent   []string // credentials sent, checked against the logs
	// credExp is the exp of the last token signed through claims (unix seconds):
	// a minted token must not outlive it.
	credExp int64
	// sessions is the opaque-session fake (Stytch, Better Auth), nil otherwise.
	sessions sessionAPI
}

// sessionAPI is what the attack cases need from an opaque-session fake.
type sessionAPI interface {
	AddSession(value string, u identitytest.User)
	Calls() int64
	SetMode(identitytest.Mode)
}

func testOptions(logger *slog.Logger) identity.Options {
	return identity.Options{Logger: logger, Timeout: 2 * time.Second, UnknownKIDCooldown: 10 * time.Millisecond}
}

// newEnv starts the issuer and the provider's fakes; call build to construct the
// bridge (after any cold-start preparation).
func newEnv(t *testing.T, sp spec) *env {
	t.Helper()
	e := &env{t: t, spec: sp, iss: identitytest.NewIssuer(t, sp.alg), logs: &syncBuffer{}}
	e.vars, e.base = sp.setup(e)
	for k, v := range e.vars {
		t.Setenv(k, v)
	}
	logger := slog.New(slog.NewJSONHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	e.opts = testOptions(logger)
	s, err := signer.New(signer.Config{Secret: testSecret, TTL: time.Hour}, signer.Options{})
	if err != nil {
		t.Fatal(err)
	}
	e.signer = s
	t.Cleanup(func() {
		logs := e.logs.String()
		for _, c := range e.sent {
			if len(c) > 24 && strings.Contains(logs, c[len(c)-16:]) {
				t.Errorf("a credential (or its signature) appears in the logs:\n%s", logs)
			}
		}
		if strings.Contains(logs, testSecret) {
			t.Errorf("the signing secret appears in the logs")
		}
		if strings.Contains(logs, stytchSecret) {
			t.Errorf("the Stytch project secret appears in the logs")
		}
	})
	return e
}

func (e *env) build() {
	e.t.Helper()
	p, err := e.spec.load(e.opts)
	if err != nil {
		e.t.Fatalf("build %s: %v", e.spec.name, err)
	}
	e.t.Cleanup(p.Close)
	e.prov = p
	e.h = bridge.New(bridge.Config{AllowedOrigins: []string{appOrigin}}, bridge.Deps{Provider: p, Signer: e.signer, Timeout: 3 * time.Second,
		Logger: slog.New(slog.NewJSONHandler(e.logs, nil))})
}

// claims returns a valid claim set (fresh times) changed by mod.
func (e *env) claims(mod func(jwt.MapClaims)) jwt.MapClaims {
	now := time.Now()
	c := maps.Clone(e.base)
	c["iat"] = now.Unix()
	c["nbf"] = now.Add(-5 * time.Second).Unix()
	c["exp"] = now.Add(5 * time.Minute).Unix()
	if mod != nil {
		mod(c)
	}
	e.credExp = 0
	if exp, ok := c["exp"].(int64); ok {
		e.credExp = exp
	}
	return c
}

// token signs valid claims (changed by mod) with the issuer's current key.
func (e *env) token(mod func(jwt.MapClaims)) string { return e.iss.Sign(e.claims(mod)) }

// cookieName is the cookie that carries this provider's JWT.
func (e *env) cookieName() string { return e.spec.jwtCookie }

// verifiedClaim is the claim that asserts a verified email for this provider.
func (e *env) verifiedClaim() string {
	if e.spec.verified != "" {
		return e.spec.verified
	}
	return "email_verified"
}

func (e *env) bearer(tok string) *http.Request {
	r := httptest.NewRequest(http.MethodPost, "/token/"+e.spec.name, nil)
	r.Header.Set("Authorization", "Bearer "+tok)
	return r
}

func (e *env) serve(r *http.Request) *httptest.ResponseRecorder {
	if a := r.Header.Get("Authorization"); a != "" {
		e.sent = append(e.sent, a)
	}
	for _, c := range r.Cookies() {
		e.sent = append(e.sent, c.Value)
	}
	w := httptest.NewRecorder()
	e.h.ServeHTTP(w, r)
	if e.spec.name != "" { // envs built by hand (no provider spec) have no route to check against
		openapitest.CheckRoute(e.t, "/token/"+e.spec.name, r, w) // every response here also proves docs/openapi.yaml
	}
	return w
}

// expectError asserts status, code, the {error,message} shape and that nothing
// that looks like a token was returned.
func expectError(t *testing.T, w *httptest.ResponseRecorder, status int, code string) {
	t.Helper()
	body := w.Body.String()
	if w.Code != status {
		t.Fatalf("status = %d, want %d; body %s", w.Code, status, body)
	}
	var m map[string]any
	if err := json.Unmarshal(w.Body.Bytes(), &m); err != nil {
		t.Fatalf("error body is not JSON: %q", body)
	}
	if m["error"] != code {
		t.Fatalf("error = %v, want %s; body %s", m["error"], code, body)
	}
	if msg, _ := m["message"].(string); msg == "" || len(m) != 2 {
		t.Fatalf("error body must be exactly {error, message}: %s", body)
	}
	if _, ok := m["token"]; ok || strings.Contains(body, "eyJ") {
		t.Fatalf("a token was returned on an error path: %s", body)
	}
	if cc := w.Header().Get("Cache-Control"); cc != "no-store" {
		t.Fatalf("Cache-Control = %q on an error", cc)
	}
}

// expectOutcome asserts a case's outcome: minted for sub (and email) when
// status is 200, else refused with status and code.
func expectOutcome(t *testing.T, e *env, w *httptest.ResponseRecorder, status int, code, sub, email string) {
	t.Helper()
	if status == http.StatusOK {
		expectMinted(t, e, w, sub, email)
	} else {
		expectError(t, w, status, code)
	}
}

// expectMinted asserts a 200 with a valid InsForge token for sub, role
// "authenticated", and no claim beyond the ones the signer sets.
func expectMinted(t *testing.T, e *env, w *httptest.ResponseRecorder, sub, email string) *signer.Claims {
	t.Helper()
	if w.Code != http.StatusOK {
		t.Fatalf("status = %d, want 200; body %s", w.Code, w.Body.String())
	}
	if cc := w.Header().Get("Cache-Control"); cc != "no-store" {
		t.Fatalf("Cache-Control = %q, want no-store", cc)
	}
	var res bridge.Response
	dec := json.NewDecoder(w.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&res); err != nil {
		t.Fatalf("decode: %v", err)
	}
	c, err := e.signer.Verify(res.Token)
	if err != nil {
		t.Fatalf("minted token does not verify: %v", err)
	}
	// expires_in and expires_at tell the truth: exp - iat and exp, and exp is
	// min(iat + TOKEN_TTL, the credential's exp).
	iat := c.IssuedAt.Unix()
	wantExp := iat + 3600
	if e.credExp != 0 && e.credExp < wantExp {
		wantExp = e.credExp
	}
	if res.TokenType != "Bearer" || res.ExpiresAt != wantExp || res.ExpiresIn != wantExp-iat || iat < time.Now().Unix()-5 {
		t.Fatalf("response = %+v, want exp %d (iat %d, credential exp %d)", res, wantExp, iat, e.credExp)
	}
	if c.Role != signer.Role || c.Subject != sub || c.Email != email || c.ExpiresAt.Unix() != res.ExpiresAt {
		t.Fatalf("minted claims = role %q sub %q email %q exp %v; want authenticated %q %q", c.Role, c.Subject, c.Email, c.ExpiresAt, sub, email)
	}
	raw, _ := base64.RawURLEncoding.DecodeString(strings.Split(res.Token, ".")[1])
	var all map[string]any
	_ = json.Unmarshal(raw, &all)
	for k := range all {
		switch k {
		case "sub", "role", "aud", "iat", "exp", "email":
		default:
			t.Fatalf("minted token carries upstream claim %q: %s", k, raw)
		}
	}
	return c
}
