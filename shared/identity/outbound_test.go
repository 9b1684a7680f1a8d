package identity_test

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/insforge/edge-functions-go/shared/config"
	"github.com/insforge/edge-functions-go/shared/identity"
	"github.com/insforge/edge-functions-go/shared/identity/identitytest"
)

// countingServer answers every request with 500 and counts them: the place a
// followed redirect would land.
func countingServer(t *testing.T) (*httptest.Server, *atomic.Int64) {
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		http.Error(w, "a redirect was followed", http.StatusInternalServerError)
	}))
	t.Cleanup(srv.Close)
	return srv, &n
}

// redirector answers every request with status and a Location on target (same
// path and query), counting the requests it gets.
func redirector(t *testing.T, status int, target string) (*httptest.Server, *atomic.Int64) {
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		w.Header().Set("Location", target+r.URL.RequestURI())
		w.WriteHeader(status)
	}))
	t.Cleanup(srv.Close)
	return srv, &n
}

// No outbound client follows a redirect: the provider APIs get Basic credentials
// or the user's session, and keys must come from the URL that was configured. A
// redirect is refused (provider unavailable, retry later), and the server it
// points to never sees a request, whether the redirect keeps the method and body
// (307) or not (302).
func TestOutboundClientsRefuseRedirects(t *testing.T) {
	iss := identitytest.NewIssuer(t, "RS256")
	opts := identity.Options{Logger: slog.New(slog.DiscardHandler), Timeout: 2 * time.Second}
	type verifier interface {
		Verify(context.Context, identity.Credential) (identity.Identity, error)
		Close()
	}
	cases := []struct {
		name string
		// build returns a verifier whose outbound calls go to redirect, and the
		// credential that makes it call out.
		build func(t *testing.T, redirect string) (verifier, identity.Credential)
	}{
		{"Stytch sessions API", func(t *testing.T, redirect string) (verifier, identity.Credential) {
			p, err := identity.NewStytch(identity.StytchConfig{ProjectID: "project-test-redirect", Secret: "stytch-secret",
				APIURL: redirect, JWKSURL: iss.JWKSURL()}, opts)
			if err != nil {
				t.Fatal(err)
			}
			return p, identity.Credential{Token: strings.Repeat("s", 44)}
		}},
		{"Better Auth get-session", func(t *testing.T, redirect string) (verifier, identity.Credential) {
			p, err := identity.NewBetterAuth(identity.BetterAuthConfig{URL: redirect, JWKSURL: iss.JWKSURL(),
				Algorithms: config.CSV{"RS256"}}, opts)
			if err != nil {
				t.Fatal(err)
			}
			return p, identity.Credential{Token: strings.Repeat("b", 32)}
		}},
		{"JWKS", func(t *testing.T, redirect string) (verifier, identity.Credential) {
			v, err := identity.NewJWT(identity.JWTSpec{Provider: "Example", JWKSURL: redirect + "/jwks",
				JWKSVar: "EXAMPLE_JWKS_URL", Algorithms: []string{"RS256"}, Issuers: []string{iss.URL()}}, opts)
			if err != nil {
				t.Fatal(err)
			}
			now := time.Now()
			tok := iss.Sign(jwt.MapClaims{"iss": iss.URL(), "sub": "user_1", "iat": now.Unix(), "exp": now.Add(time.Hour).Unix()})
			return v, identity.Credential{Token: tok}
		}},
		{"OIDC discovery", func(t *testing.T, redirect string) (verifier, identity.Credential) {
			p, err := identity.NewOIDC(identity.OIDCConfig{Issuer: redirect, Audience: config.CSV{"client"}}, opts)
			if err != nil {
				t.Fatal(err)
			}
			return p, identity.Credential{Token: "a.b.c"}
		}},
	}
	for _, tc := range cases {
		for _, status := range []int{http.StatusFound, http.StatusTemporaryRedirect} {
			t.Run(tc.name+"/"+http.StatusText(status), func(t *testing.T) {
				target, reached := countingServer(t)
				redirect, asked := redirector(t, status, target.URL)
				v, cred := tc.build(t, redirect.URL)
				t.Cleanup(v.Close)
				ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
				defer cancel()
				_, err := v.Verify(ctx, cred)
				if asked.Load() == 0 {
					t.Fatal("the provider URL was never called: the case proves nothing")
				}
				if n := reached.Load(); n != 0 {
					t.Fatalf("the redirect target got %d requests, want 0", n)
				}
				var ie *identity.Error
				if !errors.As(err, &ie) || ie.Kind != identity.KindUnavailable || ie.RetryAfter != 5*time.Second {
					t.Fatalf("err = %v, want provider_unavailable with a 5s retry hint", err)
				}
				if !strings.Contains(err.Error(), "refusing redirect") {
					t.Fatalf("the cause is not the refused redirect: %v", err)
				}
			})
		}
	}
}
