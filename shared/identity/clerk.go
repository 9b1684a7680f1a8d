package identity

import (
	"strings"

	"github.com/insforge/edge-functions-go/shared/config"
)

// ClerkConfig configures the Clerk bridge for Clerk session tokens (RS256). Apps
// that can use a JWT template signed with the InsForge secret need no bridge.
type ClerkConfig struct {
	Issuer  string `envconfig:"CLERK_ISSUER" required:"true"`
	JWKSURL string `envconfig:"CLERK_JWKS_URL"`
	// AuthorizedParties are the origins a session token's azp must name; unset,
	// the bridge's ALLOWED_ORIGINS (without "*") are used.
	AuthorizedParties config.CSV `envconfig:"CLERK_AUTHORIZED_PARTIES"`
	AllowedOrigins    config.CSV `envconfig:"ALLOWED_ORIGINS"`
	// RequireAZP refuses session tokens without azp. Clerk omits azp when the
	// Frontend API request had no Origin (native and non-browser clients), so
	// only browser-only apps can turn it on.
	RequireAZP bool `envconfig:"CLERK_REQUIRE_AZP"`
	// AllowImpersonation accepts impersonated sessions (act claim); the actor is
	// logged with every mint.
	AllowImpersonation bool `envconfig:"CLERK_ALLOW_IMPERSONATION"`
}

// ClerkBridge declares the Clerk bridge (/token/clerk) to the emulator, the dev tokens and the test harnesses.
var ClerkBridge = Bridge{Slug: "clerk", Name: "Clerk", Alg: "RS256", IssuerVar: "CLERK_ISSUER", JWKSVar: "CLERK_JWKS_URL", AudienceVar: "",
	Config: func() any { return new(ClerkConfig) }, Load: func(o Options) (*Provider, error) { return loadWith(NewClerk, o) },
	Deploy: Deploy{Condition: "Clerk", Params: []DeployParam{
		{Name: "ClerkIssuer", Prompt: "Clerk Frontend API URL", Where: "Clerk dashboard > Configure > API keys (https://clerk.<your-domain>)", Sample: "https://clerk.rehearsal.invalid"},
	}}}

func init() { register(&ClerkBridge) }

// Validate checks the configuration (config.Load calls it).
func (c ClerkConfig) Validate() error { return checkSpec(c.jwt) }

// parties returns CLERK_AUTHORIZED_PARTIES, or ALLOWED_ORIGINS when it is unset.
func (c ClerkConfig) parties() ([]string, error) {
	if len(c.AuthorizedParties) > 0 {
		if err := config.CheckOrigins("CLERK_AUTHORIZED_PARTIES", c.AuthorizedParties); err != nil {
			return nil, err
		}
		if len(c.AuthorizedParties) == 1 && c.AuthorizedParties[0] == "*" {
			return nil, config.Invalid("CLERK_AUTHORIZED_PARTIES", "must list origins; \"*\" would accept a token minted for any site")
		}
		return c.AuthorizedParties, nil
	}
	var out []string
	for _, o := range c.AllowedOrigins {
		if o != "*" {
			out = append(out, o)
		}
	}
	if len(out) == 0 {
		return nil, config.Invalid("CLERK_AUTHORIZED_PARTIES", "(or ALLOWED_ORIGINS) must list the origins of your app: "+
			"Clerk session tokens name the origin that requested them (azp), and a token for another site is refused")
	}
	return out, nil
}

func (c ClerkConfig) jwt() (JWTSpec, error) {
	iss, err := checkBaseURL("CLERK_ISSUER", c.Issuer)
	if err != nil {
		return JWTSpec{}, err
	}
	parties, err := c.parties()
	if err != nil {
		return JWTSpec{}, err
	}
	azpReason := "it was issued for an origin (azp) that is not in CLERK_AUTHORIZED_PARTIES (default: ALLOWED_ORIGINS); add your app's origin there"
	if c.RequireAZP {
		azpReason += " (CLERK_REQUIRE_AZP also refuses tokens without azp)"
	}
	return JWTSpec{
		Provider:   "Clerk",
		JWKSURL:    orDefault(c.JWKSURL, iss+"/.well-known/jwks.json"),
		JWKSVar:    "CLERK_JWKS_URL",
		Algorithms: []string{"RS256"},
		Issuers:    []string{iss},
		// Session tokens carry sid; OAuth access tokens, machine tokens and
		// JWT-template tokens lack it. azp is the origin that requested the token:
		// one minted for another origin (a leaked subdomain cookie) is refused, but
		// Clerk omits azp when the request had no Origin, and @clerk/backend checks
		// authorized parties only when azp is present, so an absent azp passes
		// unless CLERK_REQUIRE_AZP is set:
		// https://clerk.com/docs/guides/sessions/session-tokens
		// https://clerk.com/docs/guides/sessions/manual-jwt-verification
		Markers: []Marker{
			{Claim: "sid", Required: true,
				Reason: "it has no session id (sid); send the session token from getToken(), not an OAuth, machine or JWT-template token"},
			{Claim: "azp", OneOf: parties, AllowAbsent: !c.RequireAZP, Reason: azpReason},
		},
		AllowActor: c.AllowImpersonation,
		ActorOptIn: "CLERK_ALLOW_IMPERSONATION",
		Check: func(cl *Claims) error {
			// sts "pending": the user has not finished sign-up tasks; Clerk's SDKs
			// treat such sessions as signed out by default.
			if sts, _ := cl.String("sts"); strings.EqualFold(sts, "pending") {
				return Invalid("the Clerk session is pending (sign-up tasks are not finished)", nil)
			}
			return nil
		},
	}, nil
}

// NewClerk builds the Clerk provider. Same-origin apps may send the __session cookie.
func NewClerk(c ClerkConfig, o Options) (*Provider, error) {
	p, _, err := newSpecProvider(c.jwt, []string{"__session"}, o)
	return p, err
}
