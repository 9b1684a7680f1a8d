package identity

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/insforge/edge-functions-go/shared/config"
)

// StytchConfig configures the Stytch (consumer) bridge. A session_jwt is checked
// locally against the project's JWKS; an opaque session_token is checked with
// POST /v1/sessions/authenticate (needs STYTCH_SECRET).
type StytchConfig struct {
	ProjectID string `envconfig:"STYTCH_PROJECT_ID" required:"true"`
	Secret    string `envconfig:"STYTCH_SECRET" secret:"true"`
	APIURL    string `envconfig:"STYTCH_API_URL"`
	JWKSURL   string `envconfig:"STYTCH_JWKS_URL"`
	// SessionCookie and SessionJWTCookie are the cookie names the frontend SDK
	// writes (cookieOptions.opaqueTokenCookieName / jwtCookieName).
	SessionCookie    string `envconfig:"STYTCH_SESSION_COOKIE" default:"stytch_session"`
	SessionJWTCookie string `envconfig:"STYTCH_SESSION_JWT_COOKIE" default:"stytch_session_jwt"`
}

// cookies returns the JWT cookie then the opaque-session cookie.
func (c StytchConfig) cookies() ([]string, error) {
	jwtName := orDefault(c.SessionJWTCookie, "stytch_session_jwt")
	opaque := orDefault(c.SessionCookie, "stytch_session")
	for name, v := range map[string]string{"STYTCH_SESSION_JWT_COOKIE": jwtName, "STYTCH_SESSION_COOKIE": opaque} {
		if !validCookieName(v) {
			return nil, config.Invalid(name, "must be a cookie name (letters, digits, '-', '_' or '.')")
		}
	}
	if jwtName == opaque {
		return nil, config.Invalid("STYTCH_SESSION_COOKIE", "and STYTCH_SESSION_JWT_COOKIE must differ")
	}
	return []string{jwtName, opaque}, nil
}

// StytchBridge declares the Stytch bridge (/token/stytch) to the emulator, the dev tokens and the test harnesses.
var StytchBridge = Bridge{Slug: "stytch", Name: "Stytch", Alg: "RS256", IssuerVar: "", JWKSVar: "STYTCH_JWKS_URL", AudienceVar: "",
	Config: func() any { return new(StytchConfig) }, Load: func(o Options) (*Provider, error) { return loadWith(NewStytch, o) }}

func init() { register(&StytchBridge) }

// Validate checks the configuration (config.Load calls it).
func (c StytchConfig) Validate() error { return checkSessions(c) }

func (c StytchConfig) resolve() (JWTSpec, string, error) {
	pid := strings.TrimSpace(c.ProjectID)
	if err := checkID("STYTCH_PROJECT_ID", pid); err != nil {
		return JWTSpec{}, "", err
	}
	api := strings.TrimSpace(c.APIURL)
	if api == "" {
		switch {
		case strings.HasPrefix(pid, "project-test-"):
			api = "https://test.stytch.com"
		case strings.HasPrefix(pid, "project-live-"):
			api = "https://api.stytch.com"
		default:
			return JWTSpec{}, "", config.Invalid("STYTCH_API_URL", "must be set when STYTCH_PROJECT_ID does not start with project-test- or project-live-")
		}
	}
	api, err := checkBaseURL("STYTCH_API_URL", api)
	if err != nil {
		return JWTSpec{}, "", err
	}
	return JWTSpec{
		Provider:   "Stytch",
		JWKSURL:    orDefault(c.JWKSURL, api+"/v1/sessions/jwks/"+pid),
		JWKSVar:    "STYTCH_JWKS_URL",
		Algorithms: []string{"RS256"},
		// stytch.com/<project> normally; the base URL itself with a custom domain.
		Issuers:   []string{"stytch.com/" + pid, api},
		Audiences: []string{pid},
		// A session_jwt always carries the session claim; M2M access tokens,
		// signed by the same project keys, do not:
		// https://stytch.com/docs/api-reference/consumer/api/sessions/get-jwks
		Markers: []Marker{{Claim: stytchSessionClaim, Required: true,
			Reason: "it has no " + stytchSessionClaim + " claim (an M2M access token is not a session_jwt)"}},
	}, api, nil
}

// stytchSessionClaim is the claim every Stytch session_jwt carries.
const stytchSessionClaim = "https://stytch.com/session"

// NewStytch builds the Stytch provider.
func NewStytch(c StytchConfig, o Options) (*Provider, error) {
	s, err := newSessionProvider(c, o)
	if err != nil {
		return nil, err
	}
	var opaque Verifier = &stytchSessions{
		url: s.api + "/v1/sessions/authenticate", projectID: strings.TrimSpace(c.ProjectID), secret: c.Secret,
		api: newAPIClient(s.opts),
	}
	if c.Secret != "" {
		opaque = newGuard("Stytch", "the credential is not a Stytch session token (44 URL-safe characters) or session_jwt",
			stytchTokenShape, opaque, s.opts)
	}
	s.Verifier = shapeRouter{jwt: s.jwt, opaque: opaque}
	return s.Provider, nil
}

// stytchSessions checks opaque session tokens with the Stytch API.
type stytchSessions struct {
	url, projectID, secret string
	api                    apiClient
}

type stytchAuthResponse struct {
	Session struct {
		UserID    string `json:"user_id"`
		ExpiresAt string `json:"expires_at"`
	} `json:"session"`
	User struct {
		UserID string `json:"user_id"`
		Emails []struct {
			Email    string          `json:"email"`
			Verified json.RawMessage `json:"verified"`
		} `json:"emails"`
	} `json:"user"`
	ErrorType string `json:"error_type"`
}

func (s *stytchSessions) Verify(ctx context.Context, c Credential) (Identity, error) {
	if s.secret == "" {
		return Identity{}, Invalid("this bridge accepts Stytch session JWTs only; send session_jwt", nil)
	}
	// session_duration_minutes is left out on purpose: it would extend the session.
	body, _ := json.Marshal(struct {
		SessionToken string `json:"session_token"`
	}{c.Token})
	req, err := http.NewRequest(http.MethodPost, s.url, bytes.NewReader(body))
	if err != nil {
		return Identity{}, Unavailable("Stytch", err)
	}
	req.SetBasicAuth(s.projectID, s.secret)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	status, raw, err := s.api.do(ctx, req)
	if err != nil {
		return Identity{}, Unavailable("Stytch", fmt.Errorf("POST sessions/authenticate: %w", err))
	}
	var res stytchAuthResponse
	jerr := json.Unmarshal(raw, &res)
	switch {
	case status == http.StatusOK && jerr == nil:
	case status == http.StatusUnauthorized && res.ErrorType == "unauthorized_credentials",
		status == http.StatusForbidden:
		// Our project credentials are wrong: an operator problem, not the user's.
		return Identity{}, Unavailable("Stytch", fmt.Errorf("sessions/authenticate: %d %s (check STYTCH_PROJECT_ID and STYTCH_SECRET)", status, res.ErrorType))
	case status == http.StatusBadRequest, status == http.StatusUnauthorized, status == http.StatusNotFound:
		return Identity{}, Invalid("the Stytch session is not valid (expired, revoked or unknown)", fmt.Errorf("sessions/authenticate: %d %s", status, res.ErrorType))
	default:
		return Identity{}, Unavailable("Stytch", fmt.Errorf("sessions/authenticate: status %d %s (decode: %v)", status, res.ErrorType, jerr))
	}
	sub := res.Session.UserID
	if res.User.UserID != "" && res.User.UserID != sub {
		return Identity{}, Unavailable("Stytch", fmt.Errorf("sessions/authenticate: session user %q differs from user %q", sub, res.User.UserID))
	}
	if err := checkSubject("Stytch", sub); err != nil {
		return Identity{}, err
	}
	exp, err := time.Parse(time.RFC3339, res.Session.ExpiresAt)
	if err != nil {
		return Identity{}, Unavailable("Stytch", fmt.Errorf("sessions/authenticate: session.expires_at: %w", err))
	}
	id := Identity{Subject: sub, ExpiresAt: exp}
	for _, e := range res.User.Emails {
		if exactlyTrue(e.Verified) && strings.TrimSpace(e.Email) != "" {
			id.Email = strings.TrimSpace(e.Email)
			break
		}
	}
	return id, nil
}
