package identity

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/insforge/edge-functions-go/shared/config"
)

// Better Auth session cookie names: the __Secure- prefix is used in production.
const (
	BetterAuthSecureCookie = "__Secure-better-auth.session_token"
	BetterAuthCookie       = "better-auth.session_token"
)

// BetterAuthConfig configures the Better Auth bridge. JWTs from the jwt() plugin
// are checked against its JWKS; session tokens (bearer plugin) and session cookies
// are checked by Better Auth itself through GET /api/auth/get-session.
type BetterAuthConfig struct {
	URL      string `envconfig:"BETTER_AUTH_URL" required:"true"`
	JWKSURL  string `envconfig:"BETTER_AUTH_JWKS_URL"`
	Issuer   string `envconfig:"BETTER_AUTH_ISSUER"`
	Audience string `envconfig:"BETTER_AUTH_AUDIENCE"`
	// Algorithms of the jwt() plugin's keys (keyPairConfig.alg); EdDSA by default.
	Algorithms config.CSV `envconfig:"BETTER_AUTH_JWT_ALGORITHMS" default:"EdDSA"`
	// BasePath is Better Auth's basePath option (default /api/auth): where
	// get-session and jwks are served under BETTER_AUTH_URL.
	BasePath string `envconfig:"BETTER_AUTH_BASE_PATH" default:"/api/auth"`
	// CookiePrefix is advanced.cookiePrefix (default better-auth): the session
	// cookie is <prefix>.session_token, with __Secure- in production.
	CookiePrefix string `envconfig:"BETTER_AUTH_COOKIE_PREFIX" default:"better-auth"`
	// AllowImpersonation accepts sessions an admin started as another user (the
	// admin plugin's session.impersonatedBy); the admin is logged with every mint.
	AllowImpersonation bool `envconfig:"BETTER_AUTH_ALLOW_IMPERSONATION"`
}

// cookies returns the session cookie names, the __Secure- one first.
func (c BetterAuthConfig) cookies() ([]string, error) {
	prefix := orDefault(c.CookiePrefix, "better-auth")
	if !validCookieName(prefix) {
		return nil, config.Invalid("BETTER_AUTH_COOKIE_PREFIX", "must be letters, digits, '-', '_' or '.' (at most 64), as in advanced.cookiePrefix")
	}
	return []string{"__Secure-" + prefix + ".session_token", prefix + ".session_token"}, nil
}

// basePath returns the checked basePath: "/" followed by path segments, no
// trailing slash, query or fragment.
func (c BetterAuthConfig) basePath() (string, error) {
	bp := strings.TrimRight(orDefault(c.BasePath, "/api/auth"), "/")
	if bp == "" {
		return "", nil // basePath "/": routes at the root
	}
	if !strings.HasPrefix(bp, "/") || strings.ContainsAny(bp, "?#%\\ ") || strings.Contains(bp, "//") || strings.Contains(bp, "/../") ||
		strings.HasSuffix(bp, "/..") || len(bp) > 128 {
		return "", config.Invalid("BETTER_AUTH_BASE_PATH", "must be an absolute path such as /api/auth (Better Auth's basePath option)")
	}
	return bp, nil
}

// BetterAuthBridge declares the Better Auth bridge (/token/better-auth) to the emulator, the dev tokens and the test harnesses.
var BetterAuthBridge = Bridge{Slug: "better-auth", Name: "Better Auth", Alg: "EdDSA", IssuerVar: "BETTER_AUTH_ISSUER", JWKSVar: "BETTER_AUTH_JWKS_URL", AudienceVar: "BETTER_AUTH_AUDIENCE",
	Config: func() any { return new(BetterAuthConfig) }, Load: func(o Options) (*Provider, error) { return loadWith(NewBetterAuth, o) },
	Deploy: Deploy{Condition: "BetterAuth", Params: []DeployParam{
		{Name: "BetterAuthUrl", Prompt: "Better Auth server URL", Where: "your Better Auth server's base URL (https)", Sample: "https://auth.rehearsal.invalid"},
	}}}

func init() { register(&BetterAuthBridge) }

// Validate checks the configuration (config.Load calls it).
func (c BetterAuthConfig) Validate() error { return checkSessions(c) }

func (c BetterAuthConfig) resolve() (JWTSpec, string, error) {
	base, err := checkBaseURL("BETTER_AUTH_URL", c.URL)
	if err != nil {
		return JWTSpec{}, "", err
	}
	algs := []string(c.Algorithms)
	if len(algs) == 0 {
		algs = []string{"EdDSA"}
	}
	for i, a := range algs {
		if !slices.Contains(asymmetric, a) {
			return JWTSpec{}, "", config.Invalid("BETTER_AUTH_JWT_ALGORITHMS", "entry %d is not an asymmetric JWT algorithm (use EdDSA, ES256, ES512, PS256 or RS256)", i+1)
		}
	}
	bp, err := c.basePath()
	if err != nil {
		return JWTSpec{}, "", err
	}
	// The jwt() plugin's iss and aud both default to the baseURL origin.
	o := origin(base)
	return JWTSpec{
		Provider:   "Better Auth",
		JWKSURL:    orDefault(c.JWKSURL, base+bp+"/jwks"),
		JWKSVar:    "BETTER_AUTH_JWKS_URL",
		Algorithms: algs,
		Issuers:    []string{orDefault(c.Issuer, o)},
		Audiences:  []string{orDefault(c.Audience, o)},
		// The payload is the user object: emailVerified, not email_verified.
		EmailVerifiedClaim: "emailVerified",
	}, base + bp, nil
}

// NewBetterAuth builds the Better Auth provider.
func NewBetterAuth(c BetterAuthConfig, o Options) (*Provider, error) {
	s, err := newSessionProvider(c, o)
	if err != nil {
		return nil, err
	}
	// disableCookieCache: always ask the database, so a revoked session is refused.
	// disableRefresh: checking a session must not extend it (Better Auth slides
	// expiresAt forward on reads once updateAge has passed).
	sessions := newGuard("Better Auth", "the credential is not a Better Auth session token or jwt() token", betterAuthTokenShape,
		&betterAuthSessions{url: s.api + "/get-session?disableCookieCache=true&disableRefresh=true", api: newAPIClient(s.opts),
			allowImpersonation: c.AllowImpersonation}, s.opts)
	s.Verifier = shapeRouter{jwt: s.jwt, opaque: sessions, sessionCookies: s.cookies}
	return s.Provider, nil
}

type betterAuthSessions struct {
	url                string
	api                apiClient
	allowImpersonation bool
}

type betterAuthSession struct {
	Session struct {
		UserID    string `json:"userId"`
		ExpiresAt string `json:"expiresAt"`
		// ImpersonatedBy is set by the admin plugin on a session an admin started
		// as this user: https://better-auth.com/docs/plugins/admin
		ImpersonatedBy *string `json:"impersonatedBy"`
	} `json:"session"`
	User struct {
		ID            string          `json:"id"`
		Email         string          `json:"email"`
		EmailVerified json.RawMessage `json:"emailVerified"`
	} `json:"user"`
}

func (b *betterAuthSessions) Verify(ctx context.Context, c Credential) (Identity, error) {
	req, err := http.NewRequest(http.MethodGet, b.url, nil)
	if err != nil {
		return Identity{}, Unavailable("Better Auth", err)
	}
	// Forward exactly the credential we were given, in the form we got it.
	if c.Cookie != "" {
		req.Header.Set("Cookie", c.Cookie+"="+c.Token)
	} else {
		req.Header.Set("Authorization", "Bearer "+c.Token)
	}
	req.Header.Set("Accept", "application/json")
	status, raw, err := b.api.do(ctx, req)
	if err != nil {
		return Identity{}, Unavailable("Better Auth", fmt.Errorf("GET get-session: %w", err))
	}
	switch {
	case status == http.StatusOK:
	case status == http.StatusUnauthorized || status == http.StatusForbidden:
		return Identity{}, Invalid("the Better Auth session is not valid", fmt.Errorf("get-session: status %d", status))
	default:
		return Identity{}, Unavailable("Better Auth", fmt.Errorf("get-session: status %d", status))
	}
	// A signed-out caller gets 200 with a null body.
	var s *betterAuthSession
	if err := json.Unmarshal(raw, &s); err != nil {
		return Identity{}, Unavailable("Better Auth", fmt.Errorf("get-session: decode: %w", err))
	}
	if s == nil {
		return Identity{}, Invalid("the Better Auth session is not valid (signed out, expired or revoked)", nil)
	}
	if s.Session.UserID != "" && s.Session.UserID != s.User.ID {
		return Identity{}, Unavailable("Better Auth", fmt.Errorf("get-session: session user %q differs from user %q", s.Session.UserID, s.User.ID))
	}
	if err := checkSubject("Better Auth", s.User.ID); err != nil {
		return Identity{}, err
	}
	exp, err := time.Parse(time.RFC3339Nano, s.Session.ExpiresAt)
	if err != nil {
		return Identity{}, Unavailable("Better Auth", fmt.Errorf("get-session: session.expiresAt: %w", err))
	}
	id := Identity{Subject: s.User.ID, ExpiresAt: exp}
	if by := s.Session.ImpersonatedBy; by != nil && strings.TrimSpace(*by) != "" {
		if !b.allowImpersonation {
			return Identity{}, ImpersonationRefused("Better Auth", "BETTER_AUTH_ALLOW_IMPERSONATION")
		}
		id.Actor = strings.TrimSpace(*by)
		if len(id.Actor) > MaxSubjectBytes {
			id.Actor = id.Actor[:MaxSubjectBytes]
		}
	}
	if exactlyTrue(s.User.EmailVerified) {
		id.Email = strings.TrimSpace(s.User.Email)
	}
	return id, nil
}
