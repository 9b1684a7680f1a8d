package bridge_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/insforge/edge-functions-go/shared/bridge"
	"github.com/insforge/edge-functions-go/shared/identity"
	"github.com/insforge/edge-functions-go/shared/identity/identitytest"
	"github.com/insforge/edge-functions-go/shared/identity/providertest"
	"github.com/insforge/edge-functions-go/shared/metrics"
	"github.com/insforge/edge-functions-go/shared/signer"
)

// Run: go test ./shared/bridge -run '^$' -bench . -benchmem
//
// BenchmarkFloor* is the bare minimum any bridge must pay: one asymmetric verify
// and one HS256 sign with golang-jwt. The Bridge* benchmarks are the whole handler
// (limits, CORS, credential, JWKS lookup, claim checks, mint, JSON, a log line);
// the budget is 1.5x its floor for verify+mint and 1.15x for the whole handler.

func benchClaims() jwt.MapClaims {
	now := time.Now()
	return jwt.MapClaims{"iss": "https://clerk.example.com", "sub": "user_2NNEqL2nrIRdJ194ndJqAHwEfxC", "azp": appOrigin,
		"sid": "sess_2N", "sts": "active", "iat": now.Unix(), "nbf": now.Unix() - 5, "exp": now.Add(time.Hour).Unix()}
}

// floorOnce returns one floor iteration: golang-jwt verify of a provider token,
// then golang-jwt HS256 mint.
func floorOnce(b *testing.B, alg string) func() {
	iss := identitytest.NewIssuer(b, alg)
	tok := iss.Sign(benchClaims())
	pub := iss.Current().Public()
	p := jwt.NewParser(jwt.WithValidMethods([]string{alg}))
	secret := []byte(testSecret)
	return func() {
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

func floor(b *testing.B, alg string) {
	once := floorOnce(b, alg)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		once()
	}
}

func BenchmarkFloorRS256(b *testing.B) { floor(b, "RS256") }
func BenchmarkFloorEdDSA(b *testing.B) { floor(b, "EdDSA") }

func benchSigner(b *testing.B) *signer.Signer {
	s, err := signer.New(signer.Config{Secret: testSecret, TTL: time.Hour}, signer.Options{})
	if err != nil {
		b.Fatal(err)
	}
	return s
}

// benchLogger formats every line as production does and drops it: the mint's log
// line is part of what a request costs (slog.DiscardHandler would skip it).
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
	h := bridge.New(bridge.Config{AllowedOrigins: []string{appOrigin}}, bridge.Deps{Provider: p, Signer: benchSigner(b), Logger: benchLogger(),
		Metrics: benchMetrics(bridge.Slug(p.Name))})
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

// benchWriter is a reusable ResponseWriter: httptest.NewRecorder and
// httptest.NewRequest (a 4 KiB bufio.Reader per request) were half of the bytes
// the handler benchmarks allocated, which measured the harness, not the bridge.
type benchWriter struct {
	h      http.Header
	status int
	n      int
}

func (w *benchWriter) Header() http.Header { return w.h }
func (w *benchWriter) WriteHeader(s int)   { w.status = s }
func (w *benchWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = 200
	}
	w.n += len(p)
	return len(p), nil
}

// discardLines is an io.Writer that drops metric lines after they are built
// (metrics.New short-circuits io.Discard itself, which would hide their cost).
type discardLines struct{}

func (discardLines) Write(p []byte) (int, error) { return len(p), nil }

func benchMetrics(provider string) *metrics.Recorder {
	return metrics.New(discardLines{}, "token-"+provider)
}

// tokenRequest is a browser's POST /token with tok as its bearer.
func tokenRequest(b *testing.B, tok string) *http.Request {
	r, err := http.NewRequest(http.MethodPost, "http://localhost/token", nil)
	if err != nil {
		b.Fatal(err)
	}
	r.Header.Set("Authorization", "Bearer "+tok)
	r.Header.Set("Origin", appOrigin)
	return r
}

func benchHandler(b *testing.B, h http.Handler, tok string) {
	r := tokenRequest(b, tok)
	w := &benchWriter{h: http.Header{}}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		clear(w.h)
		w.status, w.n = 0, 0
		h.ServeHTTP(w, r)
		if w.status != 200 || w.n == 0 {
			b.Fatalf("status %d", w.status)
		}
	}
}

func BenchmarkBridgeRS256(b *testing.B) { h, _, tok := jwtBridge(b, "RS256"); benchHandler(b, h, tok) }
func BenchmarkBridgeEdDSA(b *testing.B) { h, _, tok := jwtBridge(b, "EdDSA"); benchHandler(b, h, tok) }

// verifyMint is the verifier and the signer without HTTP: what the floor measures,
// through the project's own code (JWKS lookup, claim checks, pinned algorithms).
func verifyMint(b *testing.B, alg string) {
	_, p, tok := jwtBridge(b, alg)
	verifyMintLoop(b, p, tok)
}

// verifyMintLoop verifies tok with p and mints from the identity, b.N times.
func verifyMintLoop(b *testing.B, p identity.Verifier, tok string) {
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

func BenchmarkVerifyMintRS256(b *testing.B) { verifyMint(b, "RS256") }
func BenchmarkVerifyMintEdDSA(b *testing.B) { verifyMint(b, "EdDSA") }

// BenchmarkBridgeOpaqueStytch is a Stytch session token checked through a
// loopback fake of the Stytch API (a real deployment adds the network round trip).
func BenchmarkBridgeOpaqueStytch(b *testing.B) {
	const tok = "mZAYn5aLEqKUlZ_Ad9U_fWr38GaAQ1oFAhT8ds245v7Q"
	api := identitytest.NewStytchAPI(b, providertest.StytchProject, providertest.StytchSecret, identitytest.NewIssuer(b, "RS256"))
	api.AddSession(tok, identitytest.User{ID: "user-test-1", Email: "a@example.com", EmailVerified: true})
	// The benchmark measures the session lookup itself, so the per-instance
	// lookup limiter (10/s in production) is opened wide.
	p, err := identity.NewStytch(identity.StytchConfig{ProjectID: providertest.StytchProject, Secret: providertest.StytchSecret, APIURL: api.Server.URL},
		identity.Options{Logger: benchLogger(), SessionLookupsPerSecond: 1e9, SessionLookupBurst: 1 << 30})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(p.Close)
	h := bridge.New(bridge.Config{AllowedOrigins: []string{appOrigin}}, bridge.Deps{Provider: p, Signer: benchSigner(b), Logger: benchLogger(),
		Metrics: benchMetrics("stytch")})
	benchHandler(b, h, tok)
}

// BenchmarkBridgeVsFloor reports the whole handler's time over its floor's as
// the median of ratios of back-to-back chunks (20 requests each, order swapped
// every other pair): on a shared machine, load drift between two separate
// benchmarks swamps a 10 % difference, while within a pair it cancels.
//
//	go test -run '^$' -bench BridgeVsFloor -benchtime 150x ./shared/bridge/
func BenchmarkBridgeVsFloor(b *testing.B) {
	for _, alg := range []string{"RS256", "EdDSA"} {
		b.Run(alg, func(b *testing.B) {
			h, _, tok := jwtBridge(b, alg)
			floorIter := floorOnce(b, alg)
			r := tokenRequest(b, tok)
			w := &benchWriter{h: http.Header{}}
			handlerIter := func() {
				clear(w.h)
				w.status, w.n = 0, 0
				h.ServeHTTP(w, r)
				if w.status != 200 {
					b.Fatalf("status %d", w.status)
				}
			}
			chunk := func(f func()) time.Duration {
				t := time.Now()
				for range 20 {
					f()
				}
				return time.Since(t)
			}
			ratios := make([]float64, 0, b.N)
			b.ResetTimer()
			for i := range b.N {
				var fl, hd time.Duration
				if i%2 == 0 {
					fl, hd = chunk(floorIter), chunk(handlerIter)
				} else {
					hd, fl = chunk(handlerIter), chunk(floorIter)
				}
				ratios = append(ratios, float64(hd)/float64(fl))
			}
			slices.Sort(ratios)
			b.ReportMetric(ratios[len(ratios)/2], "handler/floor")
		})
	}
}

// BenchmarkBridgeOverhead is the handler around verify+mint: a provider that
// accepts instantly, the real signer, limits, CORS, request id, log line, metric
// and JSON. BridgeRS256 ≈ VerifyMintRS256 + this.
func BenchmarkBridgeOverhead(b *testing.B) {
	p := &identity.Provider{Name: "Clerk", Verifier: identity.VerifierFunc(func(context.Context, identity.Credential) (identity.Identity, error) {
		// Credentials always carry an expiry (one without is refused as expired).
		return identity.Identity{Subject: "user_2NNEqL2nrIRdJ194ndJqAHwEfxC", ExpiresAt: time.Now().Add(time.Hour)}, nil
	})}
	h := bridge.New(bridge.Config{AllowedOrigins: []string{appOrigin}}, bridge.Deps{Provider: p, Signer: benchSigner(b), Logger: benchLogger(),
		Metrics: benchMetrics("clerk")})
	benchHandler(b, h, "opaque-credential")
}

// BenchmarkMint is the signer alone (HS256).
func BenchmarkMint(b *testing.B) {
	s := benchSigner(b)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Mint("user_2NNEqL2nrIRdJ194ndJqAHwEfxC", ""); err != nil {
			b.Fatal(err)
		}
	}
}
