package identity

import (
	"fmt"
	"strings"

	"github.com/insforge/edge-functions-go/shared/config"
)

// WorkOSConfig configures the WorkOS AuthKit bridge. AuthKit access tokens are
// RS256 JWTs signed with a key set per client id; aud is absent by default, so the
// client-specific JWKS is what ties a token to this application.
type WorkOSConfig struct {
	ClientID string `envconfig:"WORKOS_CLIENT_ID" required:"true"`
	JWKSURL  string `envconfig:"WORKOS_JWKS_URL"`
	// Issuers, when set, REPLACES the default issuers (https://api.workos.com,
	// with or without its trailing slash, and
	// https://api.workos.com/user_management/<client id>); set it for a custom
	// auth domain (apiHostname), listing every issuer to accept.
	Issuers config.CSV `envconfig:"WORKOS_ISSUERS"`
	// AllowImpersonation accepts impersonation tokens (act claim); the actor is
	// logged with every mint. Off: such tokens are refused.
	AllowImpersonation bool `envconfig:"WORKOS_ALLOW_IMPERSONATION"`
}

// WorkOSBridge declares the WorkOS bridge (/token/workos) to the emulator, the dev tokens and the test harnesses.
var WorkOSBridge = Bridge{Slug: "workos", Name: "WorkOS", Alg: "RS256", IssuerVar: "WORKOS_ISSUERS", JWKSVar: "WORKOS_JWKS_URL", AudienceVar: "",
	Config: func() any { return new(WorkOSConfig) }, Load: func(o Options) (*Provider, error) { return loadWith(NewWorkOS, o) },
	Deploy: Deploy{Condition: "WorkOS", Params: []DeployParam{
		{Name: "WorkOSClientId", Prompt: "WorkOS client ID", Where: "WorkOS dashboard > API keys (client_…)", Sample: "client_01EXAMPLE"},
	}}}

func init() { register(&WorkOSBridge) }

// Validate checks the configuration (config.Load calls it).
func (c WorkOSConfig) Validate() error { return checkSpec(c.jwt) }

func (c WorkOSConfig) jwt() (JWTSpec, error) {
	id := strings.TrimSpace(c.ClientID)
	if err := checkID("WORKOS_CLIENT_ID", id); err != nil {
		return JWTSpec{}, err
	}
	issuers := []string(c.Issuers)
	if len(issuers) == 0 {
		// Legacy environments use the bare API host (the session-token reference
		// shows it without a trailing slash, some integrations carry it with one:
		// both forms, and only those), newer ones a per-client issuer.
		issuers = []string{"https://api.workos.com", "https://api.workos.com/", "https://api.workos.com/user_management/" + id}
	}
	for _, iss := range issuers {
		if _, err := config.CheckURL("WORKOS_ISSUERS", iss); err != nil {
			return JWTSpec{}, err
		}
	}
	return JWTSpec{
		Provider:   "WorkOS",
		JWKSURL:    orDefault(c.JWKSURL, "https://api.workos.com/sso/jwks/"+id),
		JWKSVar:    "WORKOS_JWKS_URL",
		Algorithms: []string{"RS256"},
		Issuers:    issuers,
		// Every AuthKit access token belongs to a session (sid); act is set when
		// an admin impersonates the user:
		// https://workos.com/docs/reference/authkit/session-tokens
		// WorkOS Connect user tokens (OAuth applications, MCP clients) carry sid
		// too (a consent id) and the AuthKit domain as iss, so once WORKOS_ISSUERS
		// lists that domain sid alone does not tell them apart: they name the
		// requesting application in client_id and are addressed (aud) to a resource
		// or a client id: https://workos.com/docs/authkit/connect/token-claims
		Markers: []Marker{
			{Claim: "sid", Required: true,
				Reason: "it has no session id (sid); send the AuthKit access token from getAccessToken()"},
			// Connect's published sample carries a consent id (app_consent_…) as sid
			// and no client_id: https://workos.com/docs/reference/workos-connect/token
			{Claim: "sid", RefusedPrefixes: []string{"app_consent_"},
				Reason: "its sid is an application consent (app_consent_…): a WorkOS Connect token, not this app's session"},
			{Claim: "client_id", OneOf: []string{id}, AllowAbsent: true,
				Reason: "it was issued to another application (client_id): a WorkOS Connect token, not this app's session"},
		},
		Check: func(cl *Claims) error {
			// A token addressed to another WorkOS client id is another app's. An aud
			// a JWT template adds (a URL, "insforge-api") is not a client id and passes.
			for _, a := range cl.Audience {
				if strings.HasPrefix(a, "client_") && a != id {
					return NotUserSession("the WorkOS token is not a user session: it is addressed (aud) to another WorkOS application", fmt.Errorf("aud %q", a))
				}
			}
			return nil
		},
		AllowActor: c.AllowImpersonation,
		ActorOptIn: "WORKOS_ALLOW_IMPERSONATION",
	}, nil
}

// NewWorkOS builds the WorkOS provider.
func NewWorkOS(c WorkOSConfig, o Options) (*Provider, error) {
	p, _, err := newSpecProvider(c.jwt, nil, o)
	return p, err
}
