package identity

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"unicode"

	"github.com/insforge/edge-functions-go/shared/config"
)

// AnyAudience is the OIDC_AUDIENCE value that turns the audience check off. It must
// be spelled out: without an audience any token the issuer mints for any of its
// clients (another app, a test client) would be accepted.
const AnyAudience = "*"

// Token uses (OIDC_TOKEN_USE).
const (
	TokenUseAccess = "access"
	TokenUseID     = "id"
	TokenUseBoth   = "both"
)

// OIDCConfig configures the generic OpenID Connect bridge. Only the issuer is
// always needed: the JWKS URL and the algorithms come from the issuer's discovery
// document unless they are set.
type OIDCConfig struct {
	Issuer string `envconfig:"OIDC_ISSUER" required:"true"`
	// Audience: comma list; aud must contain one of them (a Cognito access token,
	// which has no aud, is matched by client_id). "*" accepts any audience.
	Audience   config.CSV `envconfig:"OIDC_AUDIENCE"`
	JWKSURL    string     `envconfig:"OIDC_JWKS_URL"`
	Algorithms config.CSV `envconfig:"OIDC_ALGORITHMS"`
	// SubjectClaim becomes the InsForge sub (Cognito: username on access tokens,
	// cognito:username on ID tokens).
	SubjectClaim string `envconfig:"OIDC_SUBJECT_CLAIM" default:"sub"`
	// TokenUse: access, id or both; enforced on tokens that say what they are
	// (Cognito token_use, RFC 9068 typ at+jwt).
	TokenUse string `envconfig:"OIDC_TOKEN_USE" default:"both"`
}

// oidcSettings is OIDCConfig checked and normalised.
type oidcSettings struct {
	issuer       string
	audiences    []string // nil: any audience
	jwksURL      string   // "" → discovery
	algorithms   []string // nil → discovery
	subjectClaim string
	access, id   bool
	preset       oidcPreset
}

// OIDCBridge declares the OIDC bridge (/token/oidc) to the emulator, the dev tokens and the test harnesses.
var OIDCBridge = Bridge{Slug: "oidc", Name: "OIDC", Alg: "RS256", IssuerVar: "OIDC_ISSUER", JWKSVar: "OIDC_JWKS_URL", AudienceVar: "OIDC_AUDIENCE",
	Config: func() any { return new(OIDCConfig) }, Load: func(o Options) (*Provider, error) { return loadWith(NewOIDC, o) },
	Deploy: Deploy{Condition: "Oidc", Params: []DeployParam{
		{Name: "OidcIssuer", Prompt: "OpenID Connect issuer", Where: "iss of your provider's tokens (presets: docs/providers.md)", Sample: "https://issuer.rehearsal.invalid"},
		{Name: "OidcAudience", Prompt: "accepted audiences (comma list)", Where: "your app's client id or API audience", Sample: "example-client"},
	}}}

func init() { register(&OIDCBridge) }

// Validate checks the configuration (config.Load calls it).
func (c OIDCConfig) Validate() error {
	_, err := c.settings()
	return err
}

func (c OIDCConfig) settings() (oidcSettings, error) {
	var s oidcSettings
	s.issuer = strings.TrimSpace(c.Issuer)
	u, err := config.CheckURL("OIDC_ISSUER", s.issuer)
	if err != nil {
		return s, err
	}
	if u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		// OpenID Connect Discovery 1.0 section 3: no query or fragment.
		return s, config.Invalid("OIDC_ISSUER", "must be the issuer URL exactly as tokens carry it in iss, without query, fragment or user info")
	}
	aud := []string(c.Audience)
	switch {
	case len(aud) == 0:
		return s, config.Invalid("OIDC_AUDIENCE", "is required: your client id or API audience (comma list), or %q to accept any audience of this issuer", AnyAudience)
	case slices.Contains(aud, AnyAudience) && len(aud) > 1:
		return s, &config.VarError{Var: "OIDC_AUDIENCE", Err: fmt.Errorf("OIDC_AUDIENCE: %q must be alone (it accepts any audience)", AnyAudience)}
	case aud[0] != AnyAudience:
		s.audiences = aud
	}
	if v := strings.TrimSpace(c.JWKSURL); v != "" {
		if _, err := config.CheckURL("OIDC_JWKS_URL", v); err != nil {
			return s, err
		}
		s.jwksURL = v
	}
	for i, a := range c.Algorithms {
		if !slices.Contains(asymmetric, a) {
			return s, config.Invalid("OIDC_ALGORITHMS", "entry %d is not an asymmetric JWT algorithm (use %s)", i+1, strings.Join(asymmetric, ", "))
		}
	}
	s.algorithms = []string(c.Algorithms)
	s.subjectClaim = strings.TrimSpace(c.SubjectClaim)
	if s.subjectClaim == "" {
		s.subjectClaim = "sub"
	}
	if len(s.subjectClaim) > 128 || strings.IndexFunc(s.subjectClaim, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) >= 0 {
		return s, config.Invalid("OIDC_SUBJECT_CLAIM", "must be a claim name such as sub or username")
	}
	s.preset = presetFor(s.issuer)
	if !slices.Contains(s.preset.subjectClaims, s.subjectClaim) {
		return s, config.Invalid("OIDC_SUBJECT_CLAIM", "must name an identifier %s assigns once and users cannot change (%s): "+
			"a claim users control (email, preferred_username, upn, name) would let one user take another's InsForge sub",
			s.preset.name, strings.Join(s.preset.subjectClaims, ", "))
	}
	switch strings.ToLower(strings.TrimSpace(c.TokenUse)) {
	case TokenUseBoth, "":
		s.access, s.id = true, true
	case TokenUseAccess:
		s.access = true
	case TokenUseID:
		s.id = true
	default:
		return s, config.Invalid("OIDC_TOKEN_USE", "must be access, id or both")
	}
	return s, nil
}

// jwt is the JWKS verifier's configuration once the JWKS URL and algorithms are
// known. The audience is checked here (aud, or Cognito's client_id), not by the
// parser; email (email_verified exactly true), exp and act are the verifier's.
func (s oidcSettings) jwt(jwksURL, jwksVar string, algs []string) JWTSpec {
	return JWTSpec{Provider: "OIDC", JWKSURL: jwksURL, JWKSVar: jwksVar, Algorithms: algs,
		Issuers: append([]string{s.issuer}, s.preset.altIssuers...), Markers: append(slices.Clip(oidcMarkers), s.preset.markers...),
		Check: s.checkClaims, SubjectClaim: s.subjectClaim, SubjectVar: "OIDC_SUBJECT_CLAIM"}
}

// oidcMarkers refuse the machine tokens providers mark with a claim of their own.
var oidcMarkers = []Marker{
	{Claim: "gty", Refused: []string{"client-credentials", "client_credentials"},
		Reason: "it was issued with the client-credentials grant (gty), to a machine rather than a user"},
	{Claim: "idtyp", Refused: []string{"app"},
		Reason: "it is an app-only token (idtyp app), issued to an application rather than a user"},
}

// fromDiscovery checks the discovery document against the configuration and
// returns the JWKS verifier configuration. Every error is a *config.VarError: the
// document was read, and it contradicts what the operator set.
func (s oidcSettings) fromDiscovery(doc discoveryDoc) (JWTSpec, error) {
	if doc.Issuer != s.issuer {
		reason := fmt.Sprintf("the issuer's discovery document names the issuer %q; set OIDC_ISSUER to exactly that (tokens carry it in iss)", doc.Issuer)
		return JWTSpec{}, contradicted("OIDC_ISSUER", reason)
	}
	jwksURL, jwksVar := s.jwksURL, "OIDC_JWKS_URL"
	if jwksURL == "" {
		if doc.JWKSURI == "" {
			return JWTSpec{}, contradicted("OIDC_JWKS_URL", "the discovery document has no jwks_uri; set OIDC_JWKS_URL")
		}
		if _, err := config.CheckURL("jwks_uri", doc.JWKSURI); err != nil {
			return JWTSpec{}, contradicted("OIDC_JWKS_URL", "the discovery document's "+err.Error()+"; set OIDC_JWKS_URL")
		}
		jwksURL = doc.JWKSURI
	}
	algs := s.algorithms
	if len(algs) == 0 {
		if algs = supportedAlgorithms(doc.IDAlgs); len(algs) == 0 {
			return JWTSpec{}, contradicted("OIDC_ALGORITHMS", fmt.Sprintf(
				"the discovery document lists no asymmetric signing algorithm (id_token_signing_alg_values_supported: %q); set OIDC_ALGORITHMS", doc.IDAlgs))
		}
	}
	return s.jwt(jwksURL, jwksVar, algs), nil
}

// NewOIDC builds the generic OpenID Connect provider. With OIDC_JWKS_URL and
// OIDC_ALGORITHMS both set nothing is discovered. Otherwise the discovery document
// is fetched in the background from cold start; cold start waits for its first
// answer at most DiscoveryInitWait, so an issuer that contradicts OIDC_ISSUER fails
// init naming the variable, while a provider that is down or slow does not (its
// requests get KindUnavailable until discovery succeeds, and KindMisconfigured if it
// then shows the configuration to be wrong).
func NewOIDC(c OIDCConfig, o Options) (*Provider, error) {
	s, err := c.settings()
	if err != nil {
		return nil, err
	}
	o = o.withDefaults()
	v := &oidcVerifier{s: s}
	p := &Provider{Name: "OIDC", Verifier: v, now: o.Now}
	if s.jwksURL != "" && len(s.algorithms) > 0 {
		jv, err := NewJWT(s.jwt(s.jwksURL, "OIDC_JWKS_URL", s.algorithms), o)
		if err != nil {
			return nil, err
		}
		v.static = jv
		p.closers = append(p.closers, jv.Close)
		return p, nil
	}
	d := startDiscovery("OIDC", DiscoveryURL(s.issuer), o, func(doc discoveryDoc) (*JWTVerifier, error) {
		jc, err := s.fromDiscovery(doc)
		if err != nil {
			return nil, err
		}
		jv, err := NewJWT(jc, o)
		if err != nil { // the document was read: retrying cannot change this
			return nil, contradicted("OIDC_ISSUER", "the discovery document is not usable: "+err.Error())
		}
		return jv, nil
	})
	if err := d.waitFirst(min(DiscoveryInitWait, o.Timeout)); err != nil {
		d.close()
		return nil, err
	}
	v.disc = d
	p.closers = append(p.closers, d.close)
	return p, nil
}

// oidcVerifier is the JWKS verifier, built at cold start or once discovery answered.
type oidcVerifier struct {
	s      oidcSettings
	static *JWTVerifier
	disc   *discovery
}

func (v *oidcVerifier) Verify(ctx context.Context, c Credential) (Identity, error) {
	if len(c.Token) > MaxCredentialBytes {
		return Identity{}, Invalid("the OIDC token is too long", nil)
	}
	jv := v.static
	if jv == nil {
		var err error
		if jv, err = v.disc.verifier(ctx); err != nil {
			return Identity{}, err
		}
	}
	return jv.Verify(ctx, c)
}

// checkClaims runs on verified claims (the JWKS verifier's Check hook).
func (s oidcSettings) checkClaims(c *Claims) error {
	if typ := c.Typ; !s.access && (strings.EqualFold(typ, "at+jwt") || strings.EqualFold(typ, "application/at+jwt")) {
		return NotUserSession("the OIDC token is an access token (typ at+jwt); this bridge accepts ID tokens only (OIDC_TOKEN_USE)", nil)
	}
	if raw, present := c.Raw("token_use"); present {
		var use string
		if json.Unmarshal(raw, &use) != nil || (use != TokenUseAccess && use != TokenUseID) {
			return NotUserSession("the OIDC token has a token_use other than access or id", fmt.Errorf("token_use %s", raw))
		}
		if use == TokenUseAccess && !s.access {
			return NotUserSession("the OIDC token is an access token; this bridge accepts ID tokens only (OIDC_TOKEN_USE)", nil)
		}
		if use == TokenUseID && !s.id {
			return NotUserSession("the OIDC token is an ID token; this bridge accepts access tokens only (OIDC_TOKEN_USE)", nil)
		}
	}
	if err := s.checkAudience(c); err != nil {
		return err
	}
	if s.preset.check != nil {
		if err := s.preset.check(c); err != nil {
			return err
		}
	}
	// A token whose subject is a client was issued to that client, not to a user:
	// RFC 9068 section 2.2 (client credentials grant); Cognito M2M and Okta service
	// apps do this with client_id and cid.
	for _, k := range []string{"client_id", "cid", "azp"} {
		if v, ok := c.String(k); ok && v != "" && v == c.Subject {
			return NotUserSession("the OIDC token is not a user session: it was issued to a client (sub equals "+k+"), not to a user", nil)
		}
	}
	return nil
}

// checkAudience: aud (string or array) must contain a configured audience. A token
// without aud is matched by client_id: Cognito access tokens carry the app client
// id there and have no aud.
func (s oidcSettings) checkAudience(c *Claims) error {
	if s.audiences == nil {
		return nil
	}
	if _, present := c.Raw("aud"); !present {
		if cid, ok := c.String("client_id"); ok && slices.Contains(s.audiences, cid) {
			return nil
		}
		return Invalid("the OIDC token has no audience (aud), and no client_id in OIDC_AUDIENCE", nil)
	}
	for _, a := range c.Audience {
		if slices.Contains(s.audiences, a) {
			return nil
		}
	}
	return Invalid("the OIDC token audience (aud) is not accepted", fmt.Errorf("aud %q", []string(c.Audience)))
}
