package identity

import (
	"errors"
	"log/slog"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/insforge/edge-functions-go/shared/config"
	"github.com/insforge/edge-functions-go/shared/logtest"
)

// clearEnv unsets every provider variable so a case sees only what it sets.
func clearEnv(t *testing.T) {
	vars := []string{"ALLOWED_ORIGINS"}
	for _, b := range Bridges {
		vars = append(vars, b.Vars()...)
	}
	for _, v := range vars {
		t.Setenv(v, "")
		os.Unsetenv(v)
	}
}

func TestBadConfigurationNamesTheVariable(t *testing.T) {
	cases := []struct {
		name string
		spec any
		env  map[string]string
		want string
	}{
		{"workos client id missing", &WorkOSConfig{}, nil, "WORKOS_CLIENT_ID"},
		{"workos client id with a slash", &WorkOSConfig{}, map[string]string{"WORKOS_CLIENT_ID": "client/../x"}, "WORKOS_CLIENT_ID"},
		{"workos jwks over plain http", &WorkOSConfig{}, map[string]string{"WORKOS_CLIENT_ID": "client_1", "WORKOS_JWKS_URL": "http://example.com/jwks"}, "WORKOS_JWKS_URL"},
		{"kinde issuer missing", &KindeConfig{}, nil, "KINDE_ISSUER_URL"},
		{"kinde issuer not a URL", &KindeConfig{}, map[string]string{"KINDE_ISSUER_URL": "acme.kinde.com"}, "KINDE_ISSUER_URL"},
		{"kinde jwks over plain http", &KindeConfig{}, map[string]string{"KINDE_ISSUER_URL": "https://acme.kinde.com", "KINDE_JWKS_URL": "http://acme.kinde.com/jwks"}, "KINDE_JWKS_URL"},
		{"auth0 audience missing", &Auth0Config{}, map[string]string{"AUTH0_DOMAIN": "t.auth0.com"}, "AUTH0_AUDIENCE"},
		{"auth0 domain missing", &Auth0Config{}, map[string]string{"AUTH0_AUDIENCE": "https://api"}, "AUTH0_DOMAIN"},
		{"auth0 domain with a path", &Auth0Config{}, map[string]string{"AUTH0_DOMAIN": "t.auth0.com/x", "AUTH0_AUDIENCE": "a"}, "AUTH0_DOMAIN"},
		{"stytch project missing", &StytchConfig{}, nil, "STYTCH_PROJECT_ID"},
		{"stytch project of unknown kind needs an API URL", &StytchConfig{}, map[string]string{"STYTCH_PROJECT_ID": "project-custom-1"}, "STYTCH_API_URL"},
		{"stytch API over plain http", &StytchConfig{}, map[string]string{"STYTCH_PROJECT_ID": "project-test-1", "STYTCH_API_URL": "http://stytch.example.com"}, "STYTCH_API_URL"},
		{"better auth URL missing", &BetterAuthConfig{}, nil, "BETTER_AUTH_URL"},
		{"better auth HS256 refused", &BetterAuthConfig{}, map[string]string{"BETTER_AUTH_URL": "https://auth.example.com", "BETTER_AUTH_JWT_ALGORITHMS": "HS256"}, "BETTER_AUTH_JWT_ALGORITHMS"},
		{"better auth none refused", &BetterAuthConfig{}, map[string]string{"BETTER_AUTH_URL": "https://auth.example.com", "BETTER_AUTH_JWT_ALGORITHMS": "EdDSA,none"}, "BETTER_AUTH_JWT_ALGORITHMS"},
		{"clerk issuer missing", &ClerkConfig{}, nil, "CLERK_ISSUER"},
		{"clerk issuer over plain http", &ClerkConfig{}, map[string]string{"CLERK_ISSUER": "http://clerk.example.com"}, "CLERK_ISSUER"},
		{"better auth base path without a leading slash", &BetterAuthConfig{}, map[string]string{"BETTER_AUTH_URL": "https://auth.example.com", "BETTER_AUTH_BASE_PATH": "api/v1/auth"}, "BETTER_AUTH_BASE_PATH"},
		{"better auth base path with a query", &BetterAuthConfig{}, map[string]string{"BETTER_AUTH_URL": "https://auth.example.com", "BETTER_AUTH_BASE_PATH": "/api/auth?x=1"}, "BETTER_AUTH_BASE_PATH"},
		{"better auth base path climbing", &BetterAuthConfig{}, map[string]string{"BETTER_AUTH_URL": "https://auth.example.com", "BETTER_AUTH_BASE_PATH": "/api/../admin"}, "BETTER_AUTH_BASE_PATH"},
		{"better auth cookie prefix with a semicolon", &BetterAuthConfig{}, map[string]string{"BETTER_AUTH_URL": "https://auth.example.com", "BETTER_AUTH_COOKIE_PREFIX": "a;b"}, "BETTER_AUTH_COOKIE_PREFIX"},
		{"stytch cookie name with a space", &StytchConfig{}, map[string]string{"STYTCH_PROJECT_ID": "project-test-1", "STYTCH_SESSION_COOKIE": "my session"}, "STYTCH_SESSION_COOKIE"},
		{"stytch cookie names equal", &StytchConfig{}, map[string]string{"STYTCH_PROJECT_ID": "project-test-1", "STYTCH_SESSION_COOKIE": "s", "STYTCH_SESSION_JWT_COOKIE": "s"}, "STYTCH_SESSION_COOKIE"},
		{"workos client id with a key-like value", &WorkOSConfig{}, map[string]string{"WORKOS_CLIENT_ID": "sk_live k3y"}, "WORKOS_CLIENT_ID"},
		{"stytch API URL with a query", &StytchConfig{}, map[string]string{"STYTCH_PROJECT_ID": "project-test-1", "STYTCH_API_URL": "https://stytch.example.com/?secret=k3y"}, "STYTCH_API_URL"},
		{"auth0 domain with a query", &Auth0Config{}, map[string]string{"AUTH0_DOMAIN": "t.auth0.com?k3y", "AUTH0_AUDIENCE": "a"}, "AUTH0_DOMAIN"},
		{"oidc HS256 refused", &OIDCConfig{}, map[string]string{"OIDC_ISSUER": "https://idp.example.com", "OIDC_AUDIENCE": "app", "OIDC_ALGORITHMS": "RS256,HS256"}, "OIDC_ALGORITHMS"},
		{"clerk without parties or origins", &ClerkConfig{}, map[string]string{"CLERK_ISSUER": "https://clerk.example.com"}, "CLERK_AUTHORIZED_PARTIES"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			clearEnv(t)
			for k, v := range c.env {
				t.Setenv(k, v)
			}
			err := config.Load(c.spec)
			if !namesVar(err, c.want) {
				t.Fatalf("err = %v, want a *config.VarError naming %s", err, c.want)
			}
			// Never the value: URLs carry keys, and a pasted secret in the
			// wrong variable must not reach the cold-start error.
			for k, v := range c.env {
				if len(v) > 2 && strings.Contains(err.Error(), v) {
					t.Fatalf("the message repeats the value of %s (%q): %v", k, v, err)
				}
			}
		})
	}
}

func TestDefaultsFollowTheProviders(t *testing.T) {
	w, _ := WorkOSConfig{ClientID: "client_01H"}.jwt()
	if w.JWKSURL != "https://api.workos.com/sso/jwks/client_01H" ||
		!slices.Equal(w.Issuers, []string{"https://api.workos.com", "https://api.workos.com/", "https://api.workos.com/user_management/client_01H"}) || len(w.Audiences) != 0 {
		t.Errorf("workos: %+v", w)
	}
	k, _ := KindeConfig{IssuerURL: "https://acme.kinde.com/", Audience: "https://api"}.jwt()
	if k.JWKSURL != "https://acme.kinde.com/.well-known/jwks" || k.Issuers[0] != "https://acme.kinde.com" || k.Audiences[0] != "https://api" {
		t.Errorf("kinde: %+v", k)
	}
	a, _ := Auth0Config{Domain: "https://tenant.eu.auth0.com/", Audience: "https://api"}.jwt()
	if a.JWKSURL != "https://tenant.eu.auth0.com/.well-known/jwks.json" || a.Issuers[0] != "https://tenant.eu.auth0.com/" {
		t.Errorf("auth0: %+v", a)
	}
	for pid, api := range map[string]string{"project-test-1": "https://test.stytch.com", "project-live-1": "https://api.stytch.com"} {
		s, base, _ := StytchConfig{ProjectID: pid}.resolve()
		if base != api || s.JWKSURL != api+"/v1/sessions/jwks/"+pid || s.Issuers[0] != "stytch.com/"+pid || s.Audiences[0] != pid {
			t.Errorf("stytch %s: %+v %s", pid, s, base)
		}
	}
	b, base, _ := BetterAuthConfig{URL: "https://auth.example.com/app/"}.resolve()
	if base != "https://auth.example.com/app/api/auth" || b.JWKSURL != "https://auth.example.com/app/api/auth/jwks" ||
		b.Issuers[0] != "https://auth.example.com" || b.Audiences[0] != "https://auth.example.com" || !slices.Equal(b.Algorithms, []string{"EdDSA"}) {
		t.Errorf("better auth: %+v", b)
	}
	c, _ := ClerkConfig{Issuer: "https://clerk.example.com", AllowedOrigins: []string{"https://app.example.com"}}.jwt()
	if c.JWKSURL != "https://clerk.example.com/.well-known/jwks.json" || c.Issuers[0] != "https://clerk.example.com" || len(c.Audiences) != 0 {
		t.Errorf("clerk: %+v", c)
	}
}

// namesVar reports whether err is a *config.VarError for v whose message names
// v: callers tell configuration errors apart by type and Var, never by text.
func namesVar(err error, v string) bool {
	var ve *config.VarError
	return errors.As(err, &ve) && ve.Var == v && strings.Contains(ve.Error(), v)
}

func TestWorkOSIssuersReplaceTheDefaults(t *testing.T) {
	w, err := WorkOSConfig{ClientID: "client_01H", Issuers: []string{"https://auth.example.com"}}.jwt()
	if err != nil || !slices.Equal(w.Issuers, []string{"https://auth.example.com"}) {
		t.Fatalf("issuers = %v, %v; want only the configured one", w.Issuers, err)
	}
	if _, err := (WorkOSConfig{ClientID: "client_01H", Issuers: []string{"api.workos.com"}}).jwt(); !namesVar(err, "WORKOS_ISSUERS") {
		t.Fatalf("a bare host in WORKOS_ISSUERS: err = %v", err)
	}
}

func TestClerkAuthorizedPartiesDefaultToAllowedOrigins(t *testing.T) {
	azp := func(c ClerkConfig) ([]string, error) {
		jc, err := c.jwt()
		if err != nil {
			return nil, err
		}
		for _, m := range jc.Markers {
			if m.Claim == "azp" {
				return m.OneOf, nil
			}
		}
		return nil, nil
	}
	const iss = "https://clerk.example.com"
	got, err := azp(ClerkConfig{Issuer: iss, AllowedOrigins: []string{"https://app.example.com", "http://localhost:5173"}})
	if err != nil || !slices.Equal(got, []string{"https://app.example.com", "http://localhost:5173"}) {
		t.Fatalf("default parties = %v, %v", got, err)
	}
	got, err = azp(ClerkConfig{Issuer: iss, AllowedOrigins: []string{"https://app.example.com"}, AuthorizedParties: []string{"https://admin.example.com"}})
	if err != nil || !slices.Equal(got, []string{"https://admin.example.com"}) {
		t.Fatalf("explicit parties = %v, %v", got, err)
	}
	for name, c := range map[string]ClerkConfig{
		"neither set":        {Issuer: iss},
		"only the wildcard":  {Issuer: iss, AllowedOrigins: []string{"*"}},
		"wildcard party":     {Issuer: iss, AuthorizedParties: []string{"*"}},
		"party with a path":  {Issuer: iss, AuthorizedParties: []string{"https://app.example.com/x"}},
		"party that is null": {Issuer: iss, AuthorizedParties: []string{"null"}},
	} {
		if _, err := azp(c); !namesVar(err, "CLERK_AUTHORIZED_PARTIES") {
			t.Errorf("%s: err = %v, want it to name CLERK_AUTHORIZED_PARTIES", name, err)
		}
	}
}

func TestJWKSPathNeverAcceptsSymmetricAlgorithms(t *testing.T) {
	for _, alg := range []string{"HS256", "HS512", "none", ""} {
		_, err := NewJWT(JWTSpec{Provider: "x", JWKSURL: "https://x.example.com/jwks", JWKSVar: "X", Algorithms: []string{alg}, Issuers: []string{"i"}}, Options{})
		if err == nil {
			t.Errorf("%q accepted", alg)
		}
	}
}

func TestLeewayIsCappedAt60s(t *testing.T) {
	if o := (Options{Leeway: 10 * 60e9}).withDefaults(); o.Leeway != MaxLeeway {
		t.Fatalf("leeway %v", o.Leeway)
	}
	if o := (Options{}).withDefaults(); o.Leeway != DefaultLeeway {
		t.Fatalf("leeway %v", o.Leeway)
	}
}

func TestLooksLikeJWT(t *testing.T) {
	for s, want := range map[string]bool{"a.b.c": true, "eyJ.eyJ.sig": true, "token.c2ln%3D": false, "opaque": false, "a.b.c.d.e": false} {
		if LooksLikeJWT(s) != want {
			t.Errorf("%q: want %v", s, want)
		}
	}
}

func TestKindeWithoutAudienceWarnsAtColdStart(t *testing.T) {
	for _, aud := range []string{"", "https://api.example.com"} {
		buf := &lockedBuffer{}
		log := slog.New(slog.NewJSONHandler(buf, nil))
		p, err := NewKinde(KindeConfig{IssuerURL: "https://acme.kinde.com", JWKSURL: "http://127.0.0.1:1/jwks", Audience: aud},
			Options{Logger: log, Timeout: 50 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		p.Close()
		if warned := strings.Contains(buf.String(), "KINDE_AUDIENCE is unset"); warned != (aud == "") {
			t.Errorf("audience %q: warned = %v\n%s", aud, warned, buf.String())
		}
	}
}

// lockedBuffer is safe for the background JWKS goroutine to log into.
type lockedBuffer = logtest.Buffer

// Every declared bridge, given none of its variables, fails at cold start naming
// its first required variable, and its declaration names variables it reads.
func TestEveryBridgeNamesItsMissingVariable(t *testing.T) {
	for _, b := range Bridges {
		t.Run(b.Slug, func(t *testing.T) {
			clearEnv(t)
			primary := b.Primary()
			if primary == "" {
				t.Fatalf("%s declares no required variable", b.Name)
			}
			if _, err := b.Load(Options{}); err == nil || !strings.Contains(err.Error(), primary) {
				t.Fatalf("err = %v, want it to name %s", err, primary)
			}
			vars := b.Vars()
			for _, v := range []string{b.IssuerVar, b.JWKSVar, b.AudienceVar} {
				if v != "" && !slices.Contains(vars, v) {
					t.Errorf("%s declares %s, which its configuration does not read", b.Name, v)
				}
			}
		})
	}
}

// Providers register themselves (init), and Bridges keeps one stable order, by
// slug, whatever the order the files were initialised in; a slug registered
// twice is refused.
func TestBridgesAreRegisteredOnceInSlugOrder(t *testing.T) {
	if len(Bridges) == 0 {
		t.Fatal("no bridge registered")
	}
	if !slices.IsSortedFunc(Bridges, func(a, b *Bridge) int { return strings.Compare(a.Slug, b.Slug) }) {
		t.Errorf("Bridges is not sorted by slug: %v", Slugs())
	}
	if len(slices.Compact(Slugs())) != len(Bridges) {
		t.Errorf("a slug is registered twice: %v", Slugs())
	}
	saved := slices.Clone(Bridges)
	t.Cleanup(func() { Bridges = saved })
	Bridges = nil
	for _, b := range []*Bridge{&WorkOSBridge, &ClerkBridge, &Auth0Bridge} {
		register(b)
	}
	if got := strings.Join(Slugs(), ","); got != "auth0,clerk,workos" {
		t.Errorf("registered workos, clerk, auth0: Bridges = %s, want auth0,clerk,workos", got)
	}
	defer func() {
		if recover() == nil {
			t.Error("registering clerk twice did not panic")
		}
	}()
	register(&ClerkBridge)
}
