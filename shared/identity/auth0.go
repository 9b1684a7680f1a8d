package identity

import (
	"context"
	"fmt"
	"strings"

	"github.com/insforge/edge-functions-go/shared/config"
)

// Auth0Config configures the Auth0 bridge: RS256 access tokens for your API.
type Auth0Config struct {
	Domain   string `envconfig:"AUTH0_DOMAIN" required:"true"`
	Audience string `envconfig:"AUTH0_AUDIENCE" required:"true"`
	Issuer   string `envconfig:"AUTH0_ISSUER"`
	JWKSURL  string `envconfig:"AUTH0_JWKS_URL"`
}

// Auth0Bridge declares the Auth0 bridge (/token/auth0) to the emulator, the dev tokens and the test harnesses.
var Auth0Bridge = Bridge{Slug: "auth0", Name: "Auth0", Alg: "RS256", IssuerVar: "AUTH0_ISSUER", JWKSVar: "AUTH0_JWKS_URL", AudienceVar: "AUTH0_AUDIENCE",
	Config: func() any { return new(Auth0Config) }, Load: func(o Options) (*Provider, error) { return loadWith(NewAuth0, o) },
	Deploy: Deploy{Condition: "Auth0", Params: []DeployParam{
		{Name: "Auth0Domain", Prompt: "Auth0 domain", Where: "Auth0 > Applications > your app > Domain", Sample: "auth0.rehearsal.invalid"},
		{Name: "Auth0Audience", Prompt: "Auth0 API identifier", Where: "Auth0 > Applications > APIs > Identifier", Sample: "https://api.rehearsal.invalid"},
	}}}

func init() { register(&Auth0Bridge) }

// Validate checks the configuration (config.Load calls it).
func (c Auth0Config) Validate() error { return checkSpec(c.jwt) }

func (c Auth0Config) jwt() (JWTSpec, error) {
	// Accept "tenant.eu.auth0.com" as well as a pasted "https://tenant.eu.auth0.com/".
	domain := strings.TrimRight(strings.TrimPrefix(strings.TrimSpace(c.Domain), "https://"), "/")
	if domain == "" || strings.ContainsAny(domain, "/?#@ ") {
		return JWTSpec{}, config.Invalid("AUTH0_DOMAIN", "must be a host name such as tenant.us.auth0.com")
	}
	if _, err := config.CheckURL("AUTH0_DOMAIN", "https://"+domain+"/"); err != nil {
		return JWTSpec{}, err
	}
	aud := strings.TrimSpace(c.Audience)
	if aud == "" {
		return JWTSpec{}, config.Invalid("AUTH0_AUDIENCE", "must be your API identifier")
	}
	return JWTSpec{
		Provider: "Auth0",
		JWKSURL:  orDefault(c.JWKSURL, "https://"+domain+"/.well-known/jwks.json"),
		JWKSVar:  "AUTH0_JWKS_URL",
		// Auth0 APIs can be switched to HS256, but then the token is signed with a
		// secret this bridge must not hold; only RS256 is accepted.
		Algorithms: []string{"RS256"},
		// Auth0's iss keeps its trailing slash.
		Issuers:   []string{orDefault(c.Issuer, "https://"+domain+"/")},
		Audiences: []string{aud},
		// Client-credentials (machine-to-machine) tokens carry gty
		// "client-credentials" and sub "<client_id>@clients":
		// https://auth0.com/docs/secure/tokens/access-tokens/access-token-profiles
		Markers: []Marker{
			{Claim: "gty", Refused: []string{"client-credentials"},
				Reason: "it is a client-credentials (machine-to-machine) token (gty)"},
			{Claim: "sub", RefusedSuffixes: []string{"@clients"},
				Reason: "it is a client-credentials (machine-to-machine) token (sub ends with @clients)"},
		},
	}, nil
}

// NewAuth0 builds the Auth0 provider. A credential that is not a JWT is an opaque
// access token, which Auth0 issues when no audience was requested.
func NewAuth0(c Auth0Config, o Options) (*Provider, error) {
	p, v, err := newSpecProvider(c.jwt, nil, o)
	if err != nil {
		return nil, err
	}
	aud := v.cfg.Audiences[0]
	opaque := VerifierFunc(func(context.Context, Credential) (Identity, error) {
		return Identity{}, Invalid(fmt.Sprintf("Auth0 returned an opaque access token: request the token with audience %q "+
			"(getAccessTokenSilently({ authorizationParams: { audience } }))", aud), nil)
	})
	p.Verifier = shapeRouter{jwt: v, opaque: opaque}
	return p, nil
}
