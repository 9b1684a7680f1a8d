package identity

import "strings"

// KindeConfig configures the Kinde bridge (RS256 access tokens). Kinde's aud is an
// array that holds the API audience only when the API is registered, authorised
// and requested, so KINDE_AUDIENCE is matched by membership.
type KindeConfig struct {
	IssuerURL string `envconfig:"KINDE_ISSUER_URL" required:"true"`
	JWKSURL   string `envconfig:"KINDE_JWKS_URL"`
	Audience  string `envconfig:"KINDE_AUDIENCE"`
}

// KindeBridge declares the Kinde bridge (/token/kinde) to the emulator, the dev tokens and the test harnesses.
var KindeBridge = Bridge{Slug: "kinde", Name: "Kinde", Alg: "RS256", IssuerVar: "KINDE_ISSUER_URL", JWKSVar: "KINDE_JWKS_URL", AudienceVar: "KINDE_AUDIENCE",
	Config: func() any { return new(KindeConfig) }, Load: func(o Options) (*Provider, error) { return loadWith(NewKinde, o) },
	Deploy: Deploy{Condition: "Kinde", Params: []DeployParam{
		{Name: "KindeIssuerUrl", Prompt: "Kinde domain", Where: "Kinde > Settings > Details (https://<subdomain>.kinde.com)", Sample: "https://kinde.rehearsal.invalid"},
	}}}

func init() { register(&KindeBridge) }

// Validate checks the configuration (config.Load calls it).
func (c KindeConfig) Validate() error { return checkSpec(c.jwt) }

func (c KindeConfig) jwt() (JWTSpec, error) {
	iss, err := checkBaseURL("KINDE_ISSUER_URL", c.IssuerURL)
	if err != nil {
		return JWTSpec{}, err
	}
	jc := JWTSpec{
		Provider:   "Kinde",
		JWKSURL:    orDefault(c.JWKSURL, iss+"/.well-known/jwks"),
		JWKSVar:    "KINDE_JWKS_URL",
		Algorithms: []string{"RS256"},
		Issuers:    []string{iss},
		// M2M applications get tokens through the client-credentials grant, marked
		// gty ["client_credentials"] and without a user sub:
		// https://docs.kinde.com/machine-to-machine-applications/about-m2m/token-structure-and-claims-for-m2m-applications
		Markers: []Marker{{Claim: "gty", Refused: []string{"client_credentials"},
			Reason: "it is a machine-to-machine (client-credentials grant) token (gty)"}},
	}
	if a := strings.TrimSpace(c.Audience); a != "" {
		jc.Audiences = []string{a}
	}
	return jc, nil
}

// NewKinde builds the Kinde provider.
func NewKinde(c KindeConfig, o Options) (*Provider, error) {
	p, v, err := newSpecProvider(c.jwt, nil, o)
	if err != nil {
		return nil, err
	}
	if len(v.cfg.Audiences) == 0 {
		// Not an error (it would break deployments that work), but every user token
		// of the Kinde business is then accepted, including one issued for another API.
		o.withDefaults().Logger.Warn("KINDE_AUDIENCE is unset: access tokens requested for any API of this Kinde business are accepted; set it to your API audience")
	}
	return p, nil
}
