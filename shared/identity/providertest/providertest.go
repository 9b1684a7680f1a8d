// Package providertest builds every provider declared in identity.Bridges for a
// test, against the identity emulator (identitytest): a fresh issuer and, for
// opaque-session providers, the strict session API on httptest servers, the
// provider's variables set with t.Setenv, and the claims of a valid token. The
// rule tables of shared/identity and the HTTP tests of shared/bridge both start
// from it, so each provider's test shape is written once.
package providertest

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"log/slog"
	"maps"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/insforge/edge-functions-go/shared/identity"
	"github.com/insforge/edge-functions-go/shared/identity/identitytest"
	"github.com/insforge/edge-functions-go/shared/logtest"
)

// Fixed identifiers of the test providers.
const (
	AppOrigin     = "https://app.example.com"
	StytchProject = "project-test-6a1e8c2d-0000-4000-8000-000000000001"
	StytchSecret  = "secret-test-xyz"
	// OIDCClient is the client id the generic OIDC bridge is configured with.
	OIDCClient = "oidc-client-1"
	// Audience is the API audience of the providers configured with one.
	Audience = "https://api.example.com"
)

// Claims are a token's claims; User is a session's user at the provider.
type (
	Claims = jwt.MapClaims
	User   = identitytest.User
)

// Spec describes one provider to the harness: providers are data.
type Spec struct {
	Name string // the bridge's slug
	Alg  string
	// Setup starts what the provider needs besides the issuer and returns its
	// environment and the claims of a valid token.
	Setup func(e *Env) (map[string]string, jwt.MapClaims)
	Load  func(identity.Options) (*identity.Provider, error)
	Aud   bool // aud is checked
	// JWTCookie is a cookie that may carry the JWT.
	JWTCookie string
	// Verified is the claim that must be exactly true for email to be copied.
	Verified string
	// SessionCookie carries an opaque session (checked with the provider's API);
	// SessionToken makes the n-th well-formed session credential.
	SessionCookie string
	SessionToken  func(n int) string
}

// HasSessions: the provider checks opaque sessions with its API.
func (s Spec) HasSessions() bool { return s.SessionToken != nil }

// Specs are every bridge declared in identity.Bridges, in order. A provider whose
// tokens are a plain JWT of its issuer (iss, sub, aud when it checks one) needs no
// entry in shaped. Each builds exactly as its main.go does (Bridge.Load:
// envconfig + Validate + constructor).
var Specs = declaredSpecs()

func declaredSpecs() []Spec {
	var out []Spec
	for _, b := range identity.Bridges {
		sp, ok := shaped[b.Slug]
		if !ok {
			sp = plainJWTSpec(b)
		}
		sp.Name, sp.Load = b.Slug, b.Load
		out = append(out, sp)
	}
	return out
}

// Named returns the spec of the bridge with slug name.
func Named(name string) Spec {
	i := slices.IndexFunc(Specs, func(s Spec) bool { return s.Name == name })
	if i < 0 {
		panic("providertest: no bridge " + name)
	}
	return Specs[i]
}

// plainJWTSpec points a bridge's issuer, JWKS and audience variables at the
// test issuer and signs the claims every JWT bridge requires.
func plainJWTSpec(b *identity.Bridge) Spec {
	return Spec{Alg: b.Alg, Aud: b.AudienceVar != "",
		Setup: func(e *Env) (map[string]string, jwt.MapClaims) {
			vars := map[string]string{b.IssuerVar: e.Issuer.URL(), b.JWKSVar: e.Issuer.JWKSURL()}
			claims := jwt.MapClaims{"iss": e.Issuer.URL(), "sub": "user_" + b.Slug + "_1"}
			if b.AudienceVar != "" {
				vars[b.AudienceVar] = Audience
				claims["aud"] = []string{Audience}
			}
			return vars, claims
		}}
}

var shaped = map[string]Spec{
	"workos": {
		Alg: "RS256",
		Setup: func(e *Env) (map[string]string, jwt.MapClaims) {
			return map[string]string{"WORKOS_CLIENT_ID": "client_01HTEST", "WORKOS_JWKS_URL": e.Issuer.JWKSURL()},
				jwt.MapClaims{"iss": "https://api.workos.com/user_management/client_01HTEST", "sub": "user_01HBEQKA6K4QJAS93VPE39W1JT",
					"sid": "session_01H", "org_id": "org_01H", "role": "member", "permissions": []string{"posts:write"}, "jti": "01J"}
		},
	},
	"kinde": {
		Alg: "RS256", Aud: true,
		Setup: func(e *Env) (map[string]string, jwt.MapClaims) {
			// KINDE_JWKS_URL unset: the default <issuer>/.well-known/jwks is served by the issuer.
			return map[string]string{"KINDE_ISSUER_URL": e.Issuer.URL(), "KINDE_AUDIENCE": Audience},
				jwt.MapClaims{"iss": e.Issuer.URL(), "sub": "kp_1234abcd", "aud": []string{Audience},
					"azp": "kinde-client", "scp": []string{"openid"}, "org_code": "org_1"}
		},
	},
	"auth0": {
		Alg: "RS256", Aud: true,
		Setup: func(e *Env) (map[string]string, jwt.MapClaims) {
			// AUTH0_ISSUER unset: the default https://<domain>/ (trailing slash) is used.
			return map[string]string{"AUTH0_DOMAIN": "tenant.us.auth0.com", "AUTH0_AUDIENCE": Audience,
					"AUTH0_JWKS_URL": e.Issuer.JWKSURL()},
				jwt.MapClaims{"iss": "https://tenant.us.auth0.com/", "sub": "auth0|6553da60a54af58e29493993",
					"aud": []string{Audience, "https://tenant.us.auth0.com/userinfo"}, "azp": "spa-client",
					"scope": "openid profile"}
		},
	},
	"stytch": {
		Alg: "RS256", Aud: true, JWTCookie: "stytch_session_jwt",
		SessionCookie: "stytch_session", SessionToken: StytchToken,
		Setup: func(e *Env) (map[string]string, jwt.MapClaims) {
			// STYTCH_JWKS_URL unset: the default <api>/v1/sessions/jwks/<project> is served by the fake.
			api := identitytest.NewStytchAPI(e.T, StytchProject, StytchSecret, e.Issuer)
			e.Sessions = api
			return map[string]string{"STYTCH_PROJECT_ID": StytchProject, "STYTCH_SECRET": StytchSecret, "STYTCH_API_URL": api.Server.URL},
				jwt.MapClaims{"iss": "stytch.com/" + StytchProject, "sub": "user-test-16d9ba61-97a1-4ba4-9720-b03761dc50c6",
					"aud": []string{StytchProject}, "https://stytch.com/session": map[string]any{"id": "session-test-1"}}
		},
	},
	"better-auth": {
		Alg: "EdDSA", Aud: true, Verified: "emailVerified",
		SessionCookie: identity.BetterAuthSecureCookie, SessionToken: BetterAuthToken,
		Setup: func(e *Env) (map[string]string, jwt.MapClaims) {
			// Only BETTER_AUTH_URL: JWKS /api/auth/jwks, iss and aud = its origin.
			api := identitytest.NewBetterAuthAPI(e.T, e.Issuer)
			e.Sessions = api
			return map[string]string{"BETTER_AUTH_URL": api.Server.URL},
				jwt.MapClaims{"iss": api.Server.URL, "aud": api.Server.URL, "sub": "f5kGYiUXDPEJqRDQ4jgtNTopIzpj5MgK",
					"id": "f5kGYiUXDPEJqRDQ4jgtNTopIzpj5MgK", "name": "Ada", "email": "ada@example.com", "emailVerified": true}
		},
	},
	"clerk": {
		Alg: "RS256", JWTCookie: "__session",
		Setup: func(e *Env) (map[string]string, jwt.MapClaims) {
			// CLERK_JWKS_URL unset: the default <issuer>/.well-known/jwks.json is served by the issuer.
			return map[string]string{"CLERK_ISSUER": e.Issuer.URL(), "CLERK_AUTHORIZED_PARTIES": AppOrigin + ",https://admin.example.com"},
				jwt.MapClaims{"iss": e.Issuer.URL(), "sub": "user_2NNEqL2nrIRdJ194ndJqAHwEfxC", "azp": AppOrigin,
					"sid": "sess_2N", "sts": "active", "v": 2, "fva": []int{1, -1}}
		},
	},
	"oidc": {
		Alg: "RS256", Aud: true,
		Setup: func(e *Env) (map[string]string, jwt.MapClaims) {
			// Only issuer and audience: the JWKS URL and RS256 come from the issuer's
			// discovery document (which also lists HS256 and none, never picked up).
			return map[string]string{"OIDC_ISSUER": e.Issuer.URL(), "OIDC_AUDIENCE": OIDCClient},
				jwt.MapClaims{"iss": e.Issuer.URL(), "sub": "248289761001", "aud": OIDCClient, "azp": OIDCClient,
					"auth_time": time.Now().Add(-time.Minute).Unix(), "name": "Ada"}
		},
	},
}

// StytchToken is a session_token of Stytch's shape: 44 URL-safe characters.
func StytchToken(n int) string { return fmt.Sprintf("%044d", n) }

// BetterAuthToken is a signed Better Auth session cookie value: a 32-character
// token, ".", and the URL-encoded 44-character base64 HMAC.
func BetterAuthToken(n int) string {
	tok := fmt.Sprintf("T%031d", n)
	mac := sha256.Sum256([]byte(tok))
	return tok + "." + url.QueryEscape(base64.StdEncoding.EncodeToString(mac[:]))
}

// SessionAPI is what tests need from an opaque-session fake.
type SessionAPI interface {
	AddSession(value string, u identitytest.User)
	Calls() int64
	SetMode(identitytest.Mode)
}

// Env is one provider under test, fresh for every case.
type Env struct {
	T      *testing.T
	Spec   Spec
	Issuer *identitytest.Issuer
	Base   jwt.MapClaims // the claims of a valid token
	Vars   map[string]string
	// Opts are the options Load passes; change them before Load.
	Opts identity.Options
	// Logs holds what the provider logged (DEBUG and up).
	Logs *logtest.Buffer
	// Provider is set by Load.
	Provider *identity.Provider
	// CredExp is the exp of the last token made by Claims, or the expiry of the
	// last session made by Session (unix seconds; 0: none).
	CredExp int64
	// Sessions is the opaque-session fake (Stytch, Better Auth), nil otherwise.
	Sessions SessionAPI
	// Sent are the credentials given to Verify; none may appear in Logs.
	Sent []string
}

// Options are the test options: short timeouts, a fast unknown-kid refetch.
func Options(logger *slog.Logger) identity.Options {
	return identity.Options{Logger: logger, Timeout: 2 * time.Second, UnknownKIDCooldown: 10 * time.Millisecond}
}

// New starts the issuer and the provider's fakes and sets its variables; call
// Load to build the provider (after any cold-start preparation). At cleanup it
// fails the test if a credential given to Verify, or the Stytch secret, was logged.
func New(t *testing.T, sp Spec) *Env {
	t.Helper()
	e := &Env{T: t, Spec: sp, Issuer: identitytest.NewIssuer(t, sp.Alg), Logs: &logtest.Buffer{}}
	e.Vars, e.Base = sp.Setup(e)
	for k, v := range e.Vars {
		t.Setenv(k, v)
	}
	e.Opts = Options(slog.New(slog.NewJSONHandler(e.Logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	t.Cleanup(func() { CheckLogs(t, e.Logs.String(), e.Sent) })
	return e
}

// CheckLogs fails t if logs hold any of sent (by its last 16 characters) or the
// Stytch project secret.
func CheckLogs(t testing.TB, logs string, sent []string) {
	t.Helper()
	for _, c := range sent {
		if len(c) > 24 && strings.Contains(logs, c[len(c)-16:]) {
			t.Errorf("a credential (or its signature) appears in the logs:\n%s", logs)
		}
	}
	if strings.Contains(logs, StytchSecret) {
		t.Errorf("the Stytch project secret appears in the logs")
	}
}

// Load builds the provider as its function does, closed at cleanup.
func (e *Env) Load() *identity.Provider {
	e.T.Helper()
	p, err := e.Spec.Load(e.Opts)
	if err != nil {
		e.T.Fatalf("build %s: %v", e.Spec.Name, err)
	}
	e.T.Cleanup(p.Close)
	e.Provider = p
	return p
}

// Verify has the provider verify c within 3 s (the bridge's deadline in tests).
func (e *Env) Verify(c identity.Credential) (identity.Identity, error) {
	e.Sent = append(e.Sent, c.Token)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	return e.Provider.Verify(ctx, c)
}

// Claims returns a valid claim set (fresh times) changed by mod.
func (e *Env) Claims(mod func(jwt.MapClaims)) jwt.MapClaims {
	now := time.Now()
	c := maps.Clone(e.Base)
	c["iat"] = now.Unix()
	c["nbf"] = now.Add(-5 * time.Second).Unix()
	c["exp"] = now.Add(5 * time.Minute).Unix()
	if mod != nil {
		mod(c)
	}
	e.CredExp = 0
	if exp, ok := c["exp"].(int64); ok {
		e.CredExp = exp
	}
	return c
}

// Token signs valid claims (changed by mod) with the issuer's current key.
func (e *Env) Token(mod func(jwt.MapClaims)) string { return e.Issuer.Sign(e.Claims(mod)) }

// HS256 signs claims as HS256 with key, with the issuer's current kid: the
// classic algorithm-confusion attack when key is the provider's public key.
func (e *Env) HS256(key []byte, c Claims) string {
	t := jwt.NewWithClaims(jwt.SigningMethodHS256, c)
	t.Header["kid"] = e.Issuer.Current().KID
	s, err := t.SignedString(key)
	if err != nil {
		e.T.Fatal(err)
	}
	return s
}

// Session registers a session for the base subject, changed by mod, and
// returns its credential (the n-th of the provider's shape).
func (e *Env) Session(n int, mod func(*identitytest.User)) string {
	u := identitytest.User{ID: e.Base["sub"].(string), ExpiresAt: time.Now().Add(7 * 24 * time.Hour)}
	if mod != nil {
		mod(&u)
	}
	tok := e.Spec.SessionToken(n)
	e.Sessions.AddSession(tok, u)
	e.CredExp = u.ExpiresAt.Unix()
	return tok
}

// VerifiedClaim is the claim that asserts a verified email for this provider.
func (e *Env) VerifiedClaim() string {
	if e.Spec.Verified != "" {
		return e.Spec.Verified
	}
	return "email_verified"
}

// ExpectedEmail is the email a valid token of Base yields ("" when Base asserts none).
func (e *Env) ExpectedEmail() string {
	if v, _ := e.Base["email"].(string); v != "" && e.Base["emailVerified"] == true {
		return v
	}
	return ""
}

// Set and Del change one claim.
func Set(k string, v any) func(jwt.MapClaims) { return func(c jwt.MapClaims) { c[k] = v } }
func Del(k string) func(jwt.MapClaims)        { return func(c jwt.MapClaims) { delete(c, k) } }

// WithEmail adds an email and sets the provider's verified claim to v (nil: null).
func (e *Env) WithEmail(v any) func(jwt.MapClaims) {
	return func(c jwt.MapClaims) {
		c["email"] = "ada@example.com"
		c[e.VerifiedClaim()] = v
	}
}

// Only selects the specs named.
func Only(names ...string) func(Spec) bool {
	return func(s Spec) bool { return slices.Contains(names, s.Name) }
}
