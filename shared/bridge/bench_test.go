package bridge_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/insforge/edge-functions-go/shared/bridge"
	"github.com/insforge/edge-functions-go/shared/identity"
	"github.com/insforge/edge-functions-go/shared/identity/identitytest"
	"github.com/insforge/edge-functions-go/shared/signer"
)

// Run: go test ./shared/bridge -run '^$' -bench . -benchmem
//
// BenchmarkFloor* is the bare minimum any bridge must pay: one asymmetric verify
// and one HS256 sign with golang-jwt. The Bridge* benchmarks are the whole handler
// (limits, CORS, credential, JWKS lookup, claim checks, mint, JSON, a log line);
// the budget for the JWT path is 1.5x its floor.

func benchClaims() jwt.MapClaims {
	now := time.Now()
	return jwt.MapClaims{"iss": "https://clerk.example.com", "sub": "user_2NNEqL2nrIRdJ194ndJqAHwEfxC", "azp": appOrigin,
		"sid": "sess_2N", "sts": "active", "iat": now.Unix(), "nbf": now.Unix() - 5, "exp": now.Add(time.Hour).Unix()}
}

func floor(b *testing.B, alg string) {
	iss := identitytest.NewIssuer(b, alg)
	tok := iss.Sign(benchClaims())
	pub := iss.Current().Public()
	p := jwt.NewParser(jwt.WithValidMethods([]string{alg}))
	secret := []byte(testSecret)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		var c jwt.RegisteredClaims
		if _, err := p.ParseWithClaims(tok, &c, func(*jwt.Token) (any, error) { return pub, nil }); err != nil {
			b.Fatal(err)
		}
		now := time.Now()
		out := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.RegisteredClaims{Subject: c.Subject, Audience: jwt.ClaimStrings{"insforge-api"},
			IssuedAt: jwt.NewNumericDate(now), ExpiresAt: jwt.NewNumericDate(now.Add(time.Hour))})
		if _, err := out.SignedString(secret); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkFloorRS256(b *testing.B) { floor(b, "RS256") }
func BenchmarkFloorEdDSA(b *testing.B) { floor(b, "EdDSA") }

func benchSigner(b *testing.B) *signer.Signer {
	s, err := signer.New(signer.Config{Secret: testSecret, TTL: time.Hour})
	if err != nil {
		b.Fatal(err)
	}
	return s
}

func benchLogger() *slog.Logger { return slog.New(slog.NewJSONHandler(io.Discard, nil)) }

// jwtBridge builds a Clerk-shaped bridge (RS256) or a Better Auth bridge (EdDSA)
// against a local issuer, warmed up so the JWKS is cached.
func jwtBridge(b *testing.B, alg string) (http.Handler, *identity.Provider, string) {
	iss := identitytest.NewIssuer(b, alg)
	claims := benchClaims()
	o := identity.Options{Logger: benchLogger()}
	var p *identity.Provider
	var err error
	if alg == "RS256" {
		claims["iss"] = iss.URL()
		p, err = identity.NewClerk(identity.ClerkConfig{Issuer: iss.URL(), AuthorizedParties: []string{appOrigin}}, o)
	} else {
		claims["iss"], claims["aud"] = iss.URL(), iss.URL()
		p, err = identity.NewBetterAuth(identity.BetterAuthConfig{URL: iss.URL(), JWKSURL: iss.JWKSURL(), Algorithms: []string{"EdDSA"}}, o)
	}
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(p.Close)
	h := bridge.New(p, benchSigner(b), bridge.Options{AllowedOrigins: []string{appOrigin}, Logger: benchLogger()})
	tok := iss.Sign(claims)
	if w := serveBench(h, tok); w.Code != 200 {
		b.Fatalf("warm-up: %d %s", w.Code, w.Body)
	}
	return h, p, tok
}

func serveBench(h http.Handler, tok string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(http.MethodPost, "/token", nil)
	r.Header.Set("Authorization", "Bearer "+tok)
	r.Header.Set("Origin", appOrigin)
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

func benchHandler(b *testing.B, h http.Handler, tok string) {
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if w := serveBench(h, tok); w.Code != 200 {
			b.Fatalf("%d %s", w.Code, w.Body)
		}
	}
}

func BenchmarkBridgeRS256(b *testing.B) { h, _, tok := jwtBridge(b, "RS256"); benchHandler(b, h, tok) }
func BenchmarkBridgeEdDSA(b *testing.B) { h, _, tok := jwtBridge(b, "EdDSA"); benchHandler(b, h, tok) }

// BenchmarkVerifyMintRS256 is the verifier and the signer without HTTP.
func BenchmarkVerifyMintRS256(b *testing.B) {
	_, p, tok := jwtBridge(b, "RS256")
	s := benchSigner(b)
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		id, err := p.Verify(ctx, identity.Credential{Token: tok})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := s.Mint(id.Subject, id.Email); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkBridgeOpaqueStytch is a Stytch session token checked through a
// loopback fake of the Stytch API (a real deployment adds the network round trip).
func BenchmarkBridgeOpaqueStytch(b *testing.B) {
	const tok = "mZAYn5aLEqKUlZ_Ad9U_fWr38GaAQ1oFAhT8ds245v7Q"
	api := identitytest.NewStytchAPI(b, stytchProject, stytchSecret, identitytest.NewIssuer(b, "RS256"))
	api.AddSession(tok, identitytest.User{ID: "user-test-1", Email: "a@example.com", EmailVerified: true})
	p, err := identity.NewStytch(identity.StytchConfig{ProjectID: stytchProject, Secret: stytchSecret, APIURL: api.Server.URL},
		identity.Options{Logger: benchLogger()})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(p.Close)
	h := bridge.New(p, benchSigner(b), bridge.Options{AllowedOrigins: []string{appOrigin}, Logger: benchLogger()})
	benchHandler(b, h, tok)
}
