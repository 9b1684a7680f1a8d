package identity

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/insforge/edge-functions-go/shared/config"
	"github.com/insforge/edge-functions-go/shared/identity/identitytest"
	"github.com/insforge/edge-functions-go/shared/logtest"
)

var oidcVars = []string{"OIDC_ISSUER", "OIDC_AUDIENCE", "OIDC_JWKS_URL", "OIDC_ALGORITHMS", "OIDC_SUBJECT_CLAIM", "OIDC_TOKEN_USE"}

func TestOIDCBadConfigurationNamesTheVariable(t *testing.T) {
	cases := []struct {
		name string
		env  map[string]string
		want string
	}{
		{"issuer missing", map[string]string{"OIDC_AUDIENCE": "c"}, "OIDC_ISSUER"},
		{"issuer over plain http", map[string]string{"OIDC_ISSUER": "http://idp.example.com", "OIDC_AUDIENCE": "c"}, "OIDC_ISSUER"},
		{"issuer with a query", map[string]string{"OIDC_ISSUER": "https://idp.example.com/?tenant=1", "OIDC_AUDIENCE": "c"}, "OIDC_ISSUER"},
		{"issuer not a URL", map[string]string{"OIDC_ISSUER": "idp.example.com", "OIDC_AUDIENCE": "c"}, "OIDC_ISSUER"},
		{"audience missing", map[string]string{"OIDC_ISSUER": "https://idp.example.com"}, "OIDC_AUDIENCE"},
		{"any audience mixed with others", map[string]string{"OIDC_ISSUER": "https://idp.example.com", "OIDC_AUDIENCE": "c,*"}, "OIDC_AUDIENCE"},
		{"jwks over plain http", map[string]string{"OIDC_ISSUER": "https://idp.example.com", "OIDC_AUDIENCE": "c", "OIDC_JWKS_URL": "http://idp.example.com/jwks"}, "OIDC_JWKS_URL"},
		{"HS256 refused", map[string]string{"OIDC_ISSUER": "https://idp.example.com", "OIDC_AUDIENCE": "c", "OIDC_ALGORITHMS": "RS256,HS256"}, "OIDC_ALGORITHMS"},
		{"none refused", map[string]string{"OIDC_ISSUER": "https://idp.example.com", "OIDC_AUDIENCE": "c", "OIDC_ALGORITHMS": "none"}, "OIDC_ALGORITHMS"},
		{"unknown token use", map[string]string{"OIDC_ISSUER": "https://idp.example.com", "OIDC_AUDIENCE": "c", "OIDC_TOKEN_USE": "refresh"}, "OIDC_TOKEN_USE"},
		{"subject claim with a space", map[string]string{"OIDC_ISSUER": "https://idp.example.com", "OIDC_AUDIENCE": "c", "OIDC_SUBJECT_CLAIM": "user name"}, "OIDC_SUBJECT_CLAIM"},
		// Claims users control would let one user become another's InsForge sub.
		{"subject claim email", map[string]string{"OIDC_ISSUER": "https://idp.example.com", "OIDC_AUDIENCE": "c", "OIDC_SUBJECT_CLAIM": "email"}, "OIDC_SUBJECT_CLAIM"},
		{"subject claim email on Google", map[string]string{"OIDC_ISSUER": "https://accounts.google.com", "OIDC_AUDIENCE": "c", "OIDC_SUBJECT_CLAIM": "email"}, "OIDC_SUBJECT_CLAIM"},
		{"subject claim preferred_username on Keycloak", map[string]string{"OIDC_ISSUER": "https://sso.example.com/realms/app", "OIDC_AUDIENCE": "c", "OIDC_SUBJECT_CLAIM": "preferred_username"}, "OIDC_SUBJECT_CLAIM"},
		{"subject claim upn on Entra", map[string]string{"OIDC_ISSUER": "https://login.microsoftonline.com/t/v2.0", "OIDC_AUDIENCE": "c", "OIDC_SUBJECT_CLAIM": "upn"}, "OIDC_SUBJECT_CLAIM"},
		{"subject claim name on Cognito", map[string]string{"OIDC_ISSUER": "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbC", "OIDC_AUDIENCE": "c", "OIDC_SUBJECT_CLAIM": "name"}, "OIDC_SUBJECT_CLAIM"},
		{"subject claim username on a generic issuer", map[string]string{"OIDC_ISSUER": "https://idp.example.com", "OIDC_AUDIENCE": "c", "OIDC_SUBJECT_CLAIM": "username"}, "OIDC_SUBJECT_CLAIM"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			for _, v := range oidcVars {
				t.Setenv(v, "")
				os.Unsetenv(v)
			}
			for k, v := range c.env {
				t.Setenv(k, v)
			}
			err := config.Load(&OIDCConfig{})
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v, want it to name %s", err, c.want)
			}
		})
	}
}

// Each preset names the immutable identifiers its provider assigns; only those
// may become the InsForge sub.
func TestOIDCSubjectClaimAllowListPerPreset(t *testing.T) {
	for issuer, allowed := range map[string][]string{
		"https://idp.example.com":                                   {"sub"},
		"https://accounts.google.com":                               {"sub"},
		"https://securetoken.google.com/p":                          {"sub", "user_id"},
		"https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbC": {"sub", "username", "cognito:username"},
		"https://login.microsoftonline.com/t/v2.0":                  {"sub", "oid"},
		"https://sts.windows.net/t/":                                {"sub", "oid"},
		"https://example.okta.com/oauth2/default":                   {"sub", "uid"},
		"https://sso.example.com/realms/app":                        {"sub"},
		"https://sso.example.com/auth/realms/app":                   {"sub"},
	} {
		for _, claim := range []string{"sub", "oid", "username", "cognito:username", "uid", "user_id", "email", "preferred_username", "upn", "name"} {
			_, err := OIDCConfig{Issuer: issuer, Audience: config.CSV{"c"}, SubjectClaim: claim, TokenUse: "both"}.settings()
			if want := slices.Contains(allowed, claim); (err == nil) != want {
				t.Errorf("%s %s: err = %v, want allowed %v", issuer, claim, err, want)
			}
		}
	}
}

func TestOIDCPresetsAreRecognisedByIssuer(t *testing.T) {
	for issuer, want := range map[string]string{
		"https://accounts.google.com":                    "Google",
		"https://login.microsoftonline.com/t/v2.0":       "Microsoft Entra ID",
		"https://tenant.ciamlogin.com/t/v2.0":            "Microsoft Entra ID",
		"https://sso.example.com/realms/app":             "Keycloak",
		"https://sso.example.com/auth/realms/app/":       "Keycloak",
		"https://sso.example.com/realms/app/protocol":    "this issuer",
		"https://accounts.google.com.evil.example":       "this issuer",
		"https://evil.example/login.microsoftonline.com": "this issuer",
	} {
		if got := presetFor(issuer).name; got != want {
			t.Errorf("%s: preset %q, want %q", issuer, got, want)
		}
	}
}

func TestOIDCDefaults(t *testing.T) {
	s, err := OIDCConfig{Issuer: "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbC", Audience: config.CSV{"client"}}.settings()
	if err != nil {
		t.Fatal(err)
	}
	if s.subjectClaim != "sub" || !s.access || !s.id || s.jwksURL != "" || s.algorithms != nil {
		t.Fatalf("settings %+v", s)
	}
	if got := DiscoveryURL("https://idp.example.com/realms/app/"); got != "https://idp.example.com/realms/app/.well-known/openid-configuration" {
		t.Fatalf("discovery URL %s", got)
	}
	any, _ := OIDCConfig{Issuer: "https://idp.example.com", Audience: config.CSV{"*"}}.settings()
	if any.audiences != nil {
		t.Fatalf("* must turn the audience check off: %+v", any.audiences)
	}
}

// syncBuf collects logs written by background goroutines.
type syncBuf = logtest.Buffer

func oidcOptions(logs *syncBuf) Options {
	return Options{Logger: slog.New(slog.NewJSONHandler(logs, nil)), Timeout: time.Second, UnknownKIDCooldown: 10 * time.Millisecond}
}

func TestOIDCDiscoveryContradictingTheConfigurationFailsInit(t *testing.T) {
	cases := []struct {
		name   string
		mutate func(iss *identitytest.Issuer, c *OIDCConfig, srv **httptest.Server)
		want   string
	}{
		{"issuer differs by a trailing slash", func(iss *identitytest.Issuer, c *OIDCConfig, _ **httptest.Server) {
			iss.SetDiscoveryIssuer(iss.URL() + "/")
		}, "OIDC_ISSUER"},
		{"issuer of another tenant", func(iss *identitytest.Issuer, c *OIDCConfig, _ **httptest.Server) {
			iss.SetDiscoveryIssuer("https://login.example.com/other-tenant/v2.0")
		}, "OIDC_ISSUER"},
		{"no asymmetric algorithm listed", func(iss *identitytest.Issuer, c *OIDCConfig, srv **httptest.Server) {
			*srv = discoveryServer(t, func(base string) map[string]any {
				return map[string]any{"issuer": base, "jwks_uri": base + "/jwks", "id_token_signing_alg_values_supported": []string{"HS256", "none"}}
			})
			c.Issuer = (*srv).URL
		}, "OIDC_ALGORITHMS"},
		{"jwks_uri over plain http to a public host", func(iss *identitytest.Issuer, c *OIDCConfig, srv **httptest.Server) {
			*srv = discoveryServer(t, func(base string) map[string]any {
				return map[string]any{"issuer": base, "jwks_uri": "http://keys.example.com/jwks", "id_token_signing_alg_values_supported": []string{"RS256"}}
			})
			c.Issuer = (*srv).URL
		}, "OIDC_JWKS_URL"},
		{"jwks_uri missing", func(iss *identitytest.Issuer, c *OIDCConfig, srv **httptest.Server) {
			*srv = discoveryServer(t, func(base string) map[string]any {
				return map[string]any{"issuer": base, "id_token_signing_alg_values_supported": []string{"RS256"}}
			})
			c.Issuer = (*srv).URL
		}, "OIDC_JWKS_URL"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			iss := identitytest.NewIssuer(t, "RS256")
			c := OIDCConfig{Issuer: iss.URL(), Audience: config.CSV{"client"}, SubjectClaim: "sub", TokenUse: "both"}
			var srv *httptest.Server
			tc.mutate(iss, &c, &srv)
			p, err := NewOIDC(c, oidcOptions(&syncBuf{}))
			if err == nil {
				p.Close()
				t.Fatal("init succeeded")
			}
			var ce *config.VarError
			if !errors.As(err, &ce) || ce.Var != tc.want || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want a *config.VarError naming %s", err, tc.want)
			}
		})
	}
}

func discoveryServer(t *testing.T, doc func(base string) map[string]any) *httptest.Server {
	var srv *httptest.Server
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != DiscoveryPath {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(doc(srv.URL))
	}))
	t.Cleanup(srv.Close)
	return srv
}

// A provider that is down, redirects, or answers garbage at cold start does not
// fail init: requests get 503 until discovery succeeds.
func TestOIDCUnreachableDiscoveryDoesNotFailInit(t *testing.T) {
	cases := map[string]http.HandlerFunc{
		"down": func(w http.ResponseWriter, r *http.Request) { http.Error(w, "down", 503) },
		"redirect": func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, "https://evil.example.com/x", http.StatusFound)
		},
		"garbage": func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte("<html>")) },
		"huge": func(w http.ResponseWriter, r *http.Request) {
			_, _ = w.Write([]byte(`{"issuer":"` + strings.Repeat("a", MaxDiscoveryBytes) + `"}`))
		},
	}
	for name, h := range cases {
		t.Run(name, func(t *testing.T) {
			srv := httptest.NewServer(h)
			t.Cleanup(srv.Close)
			logs := &syncBuf{}
			p, err := NewOIDC(OIDCConfig{Issuer: srv.URL, Audience: config.CSV{"client"}}, oidcOptions(logs))
			if err != nil {
				t.Fatalf("init failed: %v", err)
			}
			t.Cleanup(p.Close)
			_, err = p.Verify(context.Background(), Credential{Token: "a.b.c"})
			var ie *Error
			if !errors.As(err, &ie) || ie.Kind != KindUnavailable || ie.RetryAfter != 5*time.Second {
				t.Fatalf("err = %v, want provider_unavailable with a 5s retry hint", err)
			}
			if !strings.Contains(logs.String(), "oidc discovery failed") {
				t.Fatalf("the failure is not logged: %s", logs.String())
			}
		})
	}
}

// A slow provider delays cold start by at most the bounded wait, and then answers
// 503 until discovery completes.
func TestOIDCSlowDiscoveryDoesNotHoldInit(t *testing.T) {
	iss := identitytest.NewIssuer(t, "RS256")
	iss.SetMode(identitytest.Slow)
	o := oidcOptions(&syncBuf{})
	o.Timeout = 100 * time.Millisecond
	p, err := NewOIDC(OIDCConfig{Issuer: iss.URL(), Audience: config.CSV{"client"}}, o)
	if err != nil {
		t.Fatalf("init failed: %v", err)
	}
	t.Cleanup(p.Close)
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	_, err = p.Verify(ctx, Credential{Token: "a.b.c"})
	var ie *Error
	if !errors.As(err, &ie) || ie.Kind != KindUnavailable {
		t.Fatalf("err = %v, want provider_unavailable", err)
	}
}

func TestOIDCClaims(t *testing.T) {
	iss := identitytest.NewIssuer(t, "RS256")
	// A Cognito issuer (its preset allows username as the subject), keys served locally.
	const cognito = "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbC"
	base := func(mod func(jwt.MapClaims)) string {
		now := time.Now()
		c := jwt.MapClaims{"iss": cognito, "sub": "3f1c-uuid", "aud": "client", "iat": now.Unix(), "exp": now.Add(time.Hour).Unix()}
		if mod != nil {
			mod(c)
		}
		return iss.Sign(c)
	}
	cases := []struct {
		name    string
		cfg     func(*OIDCConfig)
		tok     string
		sub     string // "" = refused
		email   string
		refusal string
	}{
		{name: "sub by default", tok: base(nil), sub: "3f1c-uuid"},
		{name: "verified email copied", tok: base(func(c jwt.MapClaims) { c["email"], c["email_verified"] = "ada@example.com", true }),
			sub: "3f1c-uuid", email: "ada@example.com"},
		{name: "email_verified false drops the email", tok: base(func(c jwt.MapClaims) { c["email"], c["email_verified"] = "ada@example.com", false }),
			sub: "3f1c-uuid"},
		{name: "email_verified 1 drops the email", tok: base(func(c jwt.MapClaims) { c["email"], c["email_verified"] = "ada@example.com", 1 }),
			sub: "3f1c-uuid"},
		{name: "Cognito username as the subject (access token)", cfg: func(c *OIDCConfig) { c.SubjectClaim = "username" },
			tok: base(func(c jwt.MapClaims) {
				delete(c, "aud")
				c["client_id"], c["token_use"], c["username"] = "client", "access", "ada"
			}), sub: "ada"},
		{name: "cognito:username as the subject (ID token)", cfg: func(c *OIDCConfig) { c.SubjectClaim = "cognito:username" },
			tok: base(func(c jwt.MapClaims) { c["token_use"], c["cognito:username"] = "id", "ada" }), sub: "ada"},
		{name: "subject claim missing", cfg: func(c *OIDCConfig) { c.SubjectClaim = "username" }, tok: base(nil), refusal: "username"},
		{name: "subject claim not a string", cfg: func(c *OIDCConfig) { c.SubjectClaim = "username" },
			tok: base(func(c jwt.MapClaims) { c["username"] = 42 }), refusal: "username"},
		{name: "subject claim with control characters", cfg: func(c *OIDCConfig) { c.SubjectClaim = "username" },
			tok: base(func(c jwt.MapClaims) { c["username"] = "ada\u0000root" }), refusal: "invalid characters"},
		{name: "second configured audience", cfg: func(c *OIDCConfig) { c.Audience = config.CSV{"other", "api://default"} },
			tok: base(func(c jwt.MapClaims) { c["aud"] = "api://default" }), sub: "3f1c-uuid"},
		// Only Google's issuer has a documented scheme-less form.
		{name: "scheme-less iss of another issuer", tok: base(func(c jwt.MapClaims) { c["iss"] = strings.TrimPrefix(cognito, "https://") }),
			refusal: "issuer"},
		{name: "aud is an object", tok: base(func(c jwt.MapClaims) { c["aud"] = map[string]any{"client": true} }), refusal: "well-formed"},
		{name: "access only: unmarked token accepted (audience tells)", cfg: func(c *OIDCConfig) { c.TokenUse = "access" },
			tok: base(nil), sub: "3f1c-uuid"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := OIDCConfig{Issuer: cognito, JWKSURL: iss.JWKSURL(), Algorithms: config.CSV{"RS256"}, Audience: config.CSV{"client"},
				SubjectClaim: "sub", TokenUse: "both"}
			if tc.cfg != nil {
				tc.cfg(&c)
			}
			p, err := NewOIDC(c, oidcOptions(&syncBuf{}))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(p.Close)
			id, err := p.Verify(context.Background(), Credential{Token: tc.tok})
			if tc.sub == "" {
				var ie *Error
				if !errors.As(err, &ie) || ie.Kind != KindInvalid || !strings.Contains(ie.Message, tc.refusal) {
					t.Fatalf("err = %v, want invalid_token mentioning %q", err, tc.refusal)
				}
				return
			}
			if err != nil || id.Subject != tc.sub || id.Email != tc.email {
				t.Fatalf("identity %+v, err %v; want sub %q email %q", id, err, tc.sub, tc.email)
			}
		})
	}
}

func TestOIDCAlgorithmsFromDiscoveryAreAsymmetricOnly(t *testing.T) {
	got := supportedAlgorithms([]string{"HS256", "none", "RS256", "ES256", "HS512", "PS256", "RSA-OAEP"})
	if !slices.Equal(got, []string{"RS256", "PS256", "ES256"}) {
		t.Fatalf("got %v", got)
	}
}

// Discovery runs once per cold start, not per request, and the JWKS it names is
// what verifies tokens.
func TestOIDCDiscoveryIsFetchedOncePerColdStart(t *testing.T) {
	iss := identitytest.NewIssuer(t, "RS256")
	p, err := NewOIDC(OIDCConfig{Issuer: iss.URL(), Audience: config.CSV{"client"}}, oidcOptions(&syncBuf{}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	for i := 0; i < 5; i++ {
		now := time.Now()
		tok := iss.Sign(jwt.MapClaims{"iss": iss.URL(), "sub": "u1", "aud": "client", "iat": now.Unix(), "exp": now.Add(time.Hour).Unix()})
		if _, err := p.Verify(context.Background(), Credential{Token: tok}); err != nil {
			t.Fatal(err)
		}
	}
	if d, j := iss.DiscoveryFetches.Load(), iss.Fetches.Load(); d != 1 || j != 1 {
		t.Fatalf("%d discovery and %d JWKS fetches for 5 requests, want 1 and 1", d, j)
	}
}
