package devserver_test

import (
	"context"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/insforge/edge-functions-go/shared/identity"
	"github.com/insforge/edge-functions-go/shared/localidentity/devserver"
)

// startDev starts a dev identity server for the test and returns it with the
// options every provider under test is built with.
func startDev(t *testing.T) (*devserver.Server, identity.Options) {
	t.Helper()
	is, err := devserver.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = is.Close() })
	return is, identity.Options{Logger: slog.New(slog.DiscardHandler), Timeout: 5 * time.Second}
}

// The dev server's strict session emulations accept exactly what the real
// providers send: a Stytch session token and Better Auth sessions (bearer, signed
// cookie) verify through shared/identity, with no protocol violation recorded.
func TestDevSessionsVerifyThroughTheRealProviders(t *testing.T) {
	is, opts := startDev(t)

	se := is.Env("stytch")
	stytch, err := identity.NewStytch(identity.StytchConfig{ProjectID: se["STYTCH_PROJECT_ID"], Secret: se["STYTCH_SECRET"],
		APIURL: se["STYTCH_API_URL"], JWKSURL: se["STYTCH_JWKS_URL"]}, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stytch.Close)
	be := is.Env("better-auth")
	ba, err := identity.NewBetterAuth(identity.BetterAuthConfig{URL: be["BETTER_AUTH_URL"], JWKSURL: be["BETTER_AUTH_JWKS_URL"],
		Issuer: be["BETTER_AUTH_ISSUER"], Audience: be["BETTER_AUTH_AUDIENCE"], Algorithms: []string{"EdDSA"},
		BasePath: "/api/auth", CookiePrefix: "better-auth"}, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ba.Close)

	cases := []struct {
		provider, kind string
		p              *identity.Provider
	}{
		{"stytch", "session", stytch},
		{"stytch", "jwt", stytch},
		{"better-auth", "session", ba},
		{"better-auth", "cookie", ba},
		{"better-auth", "jwt", ba},
	}
	for _, tc := range cases {
		t.Run(tc.provider+"/"+tc.kind, func(t *testing.T) {
			cred, err := is.Credential(tc.provider, "user-dev-1", tc.kind, time.Minute)
			if err != nil {
				t.Fatal(err)
			}
			c := identity.Credential{Token: cred}
			if tc.kind == "cookie" {
				name, value, _ := strings.Cut(cred, "=")
				c = identity.Credential{Token: value, Cookie: name}
			}
			id, err := tc.p.Verify(context.Background(), c)
			if err != nil || id.Subject != "user-dev-1" {
				t.Fatalf("Verify = %+v, %v", id, err)
			}
		})
	}
	if v := is.Violations(); len(v) != 0 {
		t.Errorf("violations: %q", v)
	}
}

// Every declared bridge, configured with nothing but the dev server's variables
// and built as its function builds it, accepts the dev server's JWT: a provider
// declared in identity.Bridges needs no code here to get dev tokens.
func TestEveryBridgeAcceptsItsDevJWT(t *testing.T) {
	is, opts := startDev(t)
	for _, b := range identity.Bridges {
		t.Run(b.Slug, func(t *testing.T) {
			for _, v := range b.Vars() {
				t.Setenv(v, "")
				os.Unsetenv(v)
			}
			t.Setenv("ALLOWED_ORIGINS", devserver.ClerkAuthorizedApp)
			for k, v := range is.Env(b.Slug) {
				t.Setenv(k, v)
			}
			p, err := b.Load(opts)
			if err != nil {
				t.Fatalf("%s from the dev variables: %v", b.Name, err)
			}
			t.Cleanup(p.Close)
			cred, err := is.Credential(b.Slug, "user-dev-2", "jwt", time.Minute)
			if err != nil {
				t.Fatal(err)
			}
			id, err := p.Verify(context.Background(), identity.Credential{Token: cred})
			if err != nil || id.Subject != "user-dev-2" {
				t.Fatalf("Verify = %+v, %v", id, err)
			}
		})
	}
}
