package identity

import (
	"fmt"
	"slices"

	"github.com/insforge/edge-functions-go/shared/config"
)

// ClerkConfig configures the Clerk bridge for Clerk session tokens (RS256). Apps
// that can use a JWT template signed with the InsForge secret need no bridge.
type ClerkConfig struct {
	Issuer            string     `envconfig:"CLERK_ISSUER" required:"true"`
	JWKSURL           string     `envconfig:"CLERK_JWKS_URL"`
	AuthorizedParties config.CSV `envconfig:"CLERK_AUTHORIZED_PARTIES"`
}

// Validate checks the configuration (config.Load calls it).
func (c ClerkConfig) Validate() error {
	jc, err := c.jwt()
	if err != nil {
		return err
	}
	return jc.check()
}

func (c ClerkConfig) jwt() (JWTConfig, error) {
	iss, err := checkBaseURL("CLERK_ISSUER", c.Issuer)
	if err != nil {
		return JWTConfig{}, err
	}
	parties := []string(c.AuthorizedParties)
	return JWTConfig{
		Provider:   "Clerk",
		JWKSURL:    orDefault(c.JWKSURL, iss+"/.well-known/jwks.json"),
		JWKSVar:    "CLERK_JWKS_URL",
		Algorithms: []string{"RS256"},
		Issuers:    []string{iss},
		Check: func(cl *Claims) error {
			// When parties are configured a token must name one: a session token
			// minted for another origin (or a leaked subdomain cookie) is refused.
			if len(parties) > 0 && !slices.Contains(parties, cl.AuthorizedParty) {
				return Invalid("the Clerk token was issued for an origin (azp) that is not in CLERK_AUTHORIZED_PARTIES",
					fmt.Errorf("azp %q", cl.AuthorizedParty))
			}
			// sts "pending": the user has not finished sign-up tasks; Clerk's SDKs
			// treat such sessions as signed out by default.
			if cl.SessionStatus == "pending" {
				return Invalid("the Clerk session is pending (sign-up tasks are not finished)", nil)
			}
			return nil
		},
	}, nil
}

// NewClerk builds the Clerk provider. Same-origin apps may send the __session cookie.
func NewClerk(c ClerkConfig, o Options) (*Provider, error) {
	jc, err := c.jwt()
	if err != nil {
		return nil, err
	}
	p, _, err := newJWTProvider(jc, []string{"__session"}, o)
	return p, err
}
