package bridge_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/golang-jwt/jwt/v5"

	"github.com/insforge/edge-functions-go/shared/bridge"
	"github.com/insforge/edge-functions-go/shared/httpapi"
	"github.com/insforge/edge-functions-go/shared/identity"
	"github.com/insforge/edge-functions-go/shared/identity/identitytest"
	"github.com/insforge/edge-functions-go/shared/identity/providertest"
	"github.com/insforge/edge-functions-go/shared/launch"
)

func specNamed(name string) spec { return providertest.Named(name) }

// sessionEnv is the bridge of a session provider (built after mod) and its fake API.
func sessionEnv[API providertest.SessionAPI](t *testing.T, name string, mod func(*env)) (*env, API) {
	e := newEnv(t, specNamed(name))
	if mod != nil {
		mod(e)
	}
	e.build()
	return e, e.Sessions.(API)
}

func stytchEnv(t *testing.T, mod func(*env)) (*env, *identitytest.StytchAPI) {
	return sessionEnv[*identitytest.StytchAPI](t, "stytch", mod)
}

// TestBetterAuthSessionCookies: the session cookie Better Auth sets (either name)
// is the credential, and only it is sent on; the session rules themselves are
// asserted in shared/identity (betterauth_test.go).
func TestBetterAuthSessionCookies(t *testing.T) {
	// The browser's cookie value: token "." base64(HMAC) URL-encoded, as better-call signs it.
	const signed = "Xq3vT0kq0pXkCq1u0yP2m5N6b7V8c9D0.7H6Hn7b0x0Rk1l0sE9Y7yq3cE9pq0oK3r0fZs0n1Xw8%3D"
	user := identitytest.User{ID: "f5kGYiUXDPEJqRDQ4jgtNTopIzpj5MgK", Email: "ada@example.com", EmailVerified: true}
	cookieReq := func(cookies ...*http.Cookie) func(*env) *http.Request {
		return func(*env) *http.Request {
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			for _, c := range cookies {
				r.AddCookie(c)
			}
			return r
		}
	}
	cases := []struct {
		name   string
		req    func(e *env) *http.Request
		status int
		code   string
		email  string
	}{
		{name: "__Secure- session cookie", status: 200, email: user.Email,
			req: cookieReq(&http.Cookie{Name: identity.BetterAuthSecureCookie, Value: signed})},
		{name: "plain session cookie (http dev)", status: 200, email: user.Email,
			req: cookieReq(&http.Cookie{Name: identity.BetterAuthCookie, Value: signed})},
		{name: "only the session cookie is forwarded", status: 200, email: user.Email,
			req: cookieReq(&http.Cookie{Name: "analytics", Value: "x"}, &http.Cookie{Name: identity.BetterAuthSecureCookie, Value: signed},
				&http.Cookie{Name: "better-auth.session_data", Value: "cached"})},
		{name: "no cookie and no bearer is 401", status: 401, code: codeMissing,
			req: cookieReq(&http.Cookie{Name: "analytics", Value: "x"})},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e, api := sessionEnv[*identitytest.BetterAuthAPI](t, "better-auth", nil)
			api.AddSession(signed, user)
			expectOutcome(t, e, e.serve(c.req(e)), c.status, c.code, user.ID, c.email)
		})
	}
}

func TestCORS(t *testing.T) {
	e := newEnv(t, specNamed("clerk"))
	e.build()
	pre := func(origin string) *http.Request {
		r := httptest.NewRequest(http.MethodOptions, "/", nil)
		r.Header.Set("Origin", origin)
		r.Header.Set("Access-Control-Request-Method", "POST")
		r.Header.Set("Access-Control-Request-Headers", "authorization")
		return r
	}
	t.Run("preflight from an allowed origin", func(t *testing.T) {
		w := e.serve(pre(appOrigin))
		h := w.Header()
		if w.Code != 204 || h.Get("Access-Control-Allow-Origin") != appOrigin || h.Get("Access-Control-Allow-Credentials") != "true" ||
			!strings.Contains(h.Get("Access-Control-Allow-Methods"), "POST") || !strings.Contains(h.Get("Access-Control-Allow-Headers"), "Authorization") ||
			!strings.Contains(strings.Join(h.Values("Vary"), ","), "Origin") {
			t.Fatalf("preflight: %d %v", w.Code, h)
		}
	})
	t.Run("preflight from another origin", func(t *testing.T) {
		w := e.serve(pre("https://evil.example.com"))
		expectError(t, w, 403, "origin_not_allowed")
		if w.Header().Get("Access-Control-Allow-Origin") != "" {
			t.Fatal("allow-origin set for a refused origin")
		}
	})
	t.Run("credentialed request from an allowed origin", func(t *testing.T) {
		r := okRequest(e)
		r.Header.Set("Origin", appOrigin)
		w := e.serve(r)
		expectMinted(t, e, w, e.Base["sub"].(string), "")
		if w.Header().Get("Access-Control-Allow-Origin") != appOrigin || w.Header().Get("Access-Control-Allow-Credentials") != "true" {
			t.Fatalf("headers: %v", w.Header())
		}
		// Retry-After is not a CORS-safelisted response header: unless exposed, browser
		// code never sees it on a 503 and cannot honour it.
		if !strings.Contains(w.Header().Get("Access-Control-Expose-Headers"), "Retry-After") {
			t.Fatalf("Retry-After is not exposed to browsers: %v", w.Header())
		}
	})
	t.Run("wildcard never allows credentials", func(t *testing.T) {
		h := bridge.New(bridge.Config{AllowedOrigins: []string{"*"}}, bridge.Deps{Provider: e.Provider, Signer: e.signer, Logger: slog.New(slog.DiscardHandler)})
		r := okRequest(e)
		r.Header.Set("Origin", "https://any.example.com")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != 200 || w.Header().Get("Access-Control-Allow-Origin") != "*" || w.Header().Get("Access-Control-Allow-Credentials") != "" {
			t.Fatalf("wildcard: %d %v", w.Code, w.Header())
		}
	})
}

// TestLambdaEventMatchesLocal runs the same exchange through the API Gateway
// payload 2.0 adapter: deployed and local behaviour are the same handler.
func TestLambdaEventMatchesLocal(t *testing.T) {
	e := newEnv(t, specNamed("clerk"))
	e.build()
	ev := events.APIGatewayV2HTTPRequest{RawPath: "/token/clerk", Headers: map[string]string{"origin": appOrigin},
		Cookies: []string{"__session=" + e.Token(nil)}}
	ev.RequestContext.HTTP.Method = http.MethodGet
	res := httpapi.Serve(context.Background(), e.h, ev)
	w := httptest.NewRecorder()
	for k, v := range res.Headers {
		w.Header().Set(k, v)
	}
	w.WriteHeader(res.StatusCode)
	_, _ = w.WriteString(res.Body)
	expectMinted(t, e, w, e.Base["sub"].(string), "")
	if res.Headers["Access-Control-Allow-Origin"] != appOrigin {
		t.Fatalf("headers %v", res.Headers)
	}
}

// TestColdStartDoesNotWaitForJWKS: building a bridge returns while the JWKS is
// still unanswered; a request that cannot wait gets 503; once the JWKS answers,
// requests succeed.
func TestColdStartDoesNotWaitForJWKS(t *testing.T) {
	iss := identitytest.NewIssuer(t, "RS256")
	release := make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-release
		iss.ServeHTTP(w, r)
	}))
	t.Cleanup(slow.Close)
	t.Cleanup(func() {
		select {
		case <-release:
		default:
			close(release)
		}
	})
	p, err := identity.NewClerk(identity.ClerkConfig{Issuer: iss.URL(), JWKSURL: slow.URL, AuthorizedParties: []string{appOrigin}}, testOptions(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	e := &env{Env: &providertest.Env{T: t, Issuer: iss, Base: map[string]any{"iss": iss.URL(), "sub": "user_1", "sid": "sess_1", "azp": appOrigin}, Logs: &syncBuffer{}}}
	s := newEnv(t, specNamed("clerk")).signer
	e.signer = s
	e.h = bridge.New(bridge.Config{}, bridge.Deps{Provider: p, Signer: s, Timeout: 100 * time.Millisecond, Logger: slog.New(slog.DiscardHandler)})
	expectError(t, e.serve(okRequest(e)), 503, codeUnavailable)
	close(release)
	expectMinted(t, e, waitFor200(e, func() *http.Request { return okRequest(e) }), "user_1", "")
}

// TestJWKSFailuresLoggedOncePerInterval: many requests during an outage produce
// one failure log line (plus the per-request 503 outcome), and the recovery is logged.
func TestJWKSFailuresLoggedOncePerInterval(t *testing.T) {
	e := newEnv(t, specNamed("kinde"))
	// keyfunc's unknown-kid limiter runs on real time; a 1 ns cooldown allows
	// every refetch, so the requests below really fetch.
	e.Opts.UnknownKIDCooldown = time.Nanosecond
	e.Issuer.SetDown(true)
	e.build()
	for range 20 {
		expectError(t, e.serve(okRequest(e)), 503, codeUnavailable)
	}
	if n := strings.Count(e.Logs.String(), `"msg":"jwks fetch failed"`); n != 1 {
		t.Fatalf("jwks failure logged %d times, want 1:\n%s", n, e.Logs)
	}
	if f := e.Issuer.Fetches.Load(); f < 3 {
		t.Fatalf("only %d JWKS fetches: the cooldown should allow refetches", f)
	}
	if n := strings.Count(e.Logs.String(), `"code":"provider_unavailable"`); n != 20 {
		t.Fatalf("503 outcomes logged %d times, want 20", n)
	}
	e.Issuer.SetDown(false)
	waitFor200(e, func() *http.Request { return okRequest(e) })
	if !strings.Contains(e.Logs.String(), `"msg":"jwks fetch recovered"`) {
		t.Fatalf("recovery not logged:\n%s", e.Logs)
	}
}

// TestUnknownKIDRefetchIsRateLimited: a flood of random kids costs at most one
// JWKS fetch per cooldown. The kid that triggered the fetch is refused for good
// (401); the others could not be looked up, so they are told to retry (503) rather
// than that their key is invalid.
func TestUnknownKIDRefetchIsRateLimited(t *testing.T) {
	e := newEnv(t, specNamed("workos"))
	e.Opts.UnknownKIDCooldown = time.Hour
	e.build()
	expectMinted(t, e, e.serve(okRequest(e)), e.Base["sub"].(string), "")
	before := e.Issuer.Fetches.Load()
	k := e.Issuer.Unpublished()
	for i := range 50 {
		k.KID = fmt.Sprintf("random-kid-%d", i)
		w := e.serve(e.bearer(identitytest.SignWith(k, e.Claims(nil), nil)))
		if i == 0 {
			expectError(t, w, 401, codeInvalid)
			continue
		}
		expectError(t, w, 503, codeUnavailable)
		if got := w.Header().Get("Retry-After"); got != "3600" {
			t.Fatalf("Retry-After = %q, want the cooldown (3600)", got)
		}
	}
	if got := e.Issuer.Fetches.Load() - before; got > 1 {
		t.Fatalf("%d JWKS fetches for 50 unknown kids, want at most 1", got)
	}
}

// TestRotationAfterAnUnknownKIDProbeIsNotReportedInvalid: found end to end. An
// unknown-kid probe starts the refetch cooldown; a token signed with a key the
// provider rotated to right after must not be answered 401 (clients sign out on
// 401) but 503 with Retry-After, and it is accepted once the cooldown allows a refetch.
//
// keyfunc's limiter runs on real time and a request waits the cooldown out
// when the rest of it fits in the request's deadline. So that neither verdict
// depends on how fast this machine runs, each request's deadline is set
// against the earliest and latest moments the cooldown can end.
func TestRotationAfterAnUnknownKIDProbeIsNotReportedInvalid(t *testing.T) {
	const (
		cooldown       = 3500 * time.Millisecond
		bridgeDeadline = 3 * time.Second // bridge.Options.Timeout in env.build
	)
	e := newEnv(t, specNamed("auth0"))
	e.Opts.UnknownKIDCooldown = cooldown
	e.build()
	expectMinted(t, e, e.serve(okRequest(e)), e.Base["sub"].(string), "")
	probe := e.Issuer.Unpublished()
	probe.KID = "probe"
	// The probe's refetch takes the limiter's one token at some instant in
	// [probeStart, probeEnd]; the next refetch is allowed a cooldown later.
	probeStart := time.Now()
	expectError(t, e.serve(e.bearer(identitytest.SignWith(probe, e.Claims(nil), nil))), 401, codeInvalid)
	probeEnd := time.Now()

	e.Issuer.Rotate(false)
	// A deadline before the earliest end of the cooldown: waiting it out is
	// impossible, whatever the scheduler did since the probe.
	rotated := okRequest(e)
	deadline := probeStart.Add(cooldown - 100*time.Millisecond)
	if time.Until(deadline) < 500*time.Millisecond {
		t.Fatalf("%s passed between the probe and the next request: too close to the %s cooldown to test it", time.Since(probeStart), cooldown)
	}
	ctx, cancel := context.WithDeadline(rotated.Context(), deadline)
	defer cancel()
	w := e.serve(rotated.WithContext(ctx))
	expectError(t, w, 503, codeUnavailable)
	if got := w.Header().Get("Retry-After"); got != "4" {
		t.Fatalf("Retry-After = %q, want the cooldown rounded up (4)", got)
	}

	// From probeEnd+cooldown-2s on, the rest of the cooldown (at most 2 s) fits
	// in the bridge's deadline: the request waits it out, refetches and mints.
	time.Sleep(time.Until(probeEnd.Add(cooldown - bridgeDeadline + time.Second)))
	w = e.serve(okRequest(e))
	if w.Code != http.StatusOK {
		t.Fatalf("the rotated key was not accepted once the cooldown allowed a refetch: %d %s", w.Code, w.Body)
	}
	expectMinted(t, e, w, e.Base["sub"].(string), "")
}

func TestFromEnvFailsNamingTheVariable(t *testing.T) {
	build := func(identity.Options) (*identity.Provider, error) {
		t.Fatal("the provider must not be built when the bridge configuration is bad")
		return nil, nil
	}
	// The bad origin values are never repeated in the error (an error names the
	// variable, never its value).
	for name, c := range map[string]struct{ secret, ttl, origins, want string }{
		"secret missing":                 {"", "", "", "INSFORGE_JWT_SECRET"},
		"secret too short":               {"short", "", "", "INSFORGE_JWT_SECRET"},
		"ttl over 24h":                   {testSecret, "48h", "", "TOKEN_TTL"},
		"origin null":                    {testSecret, "", appOrigin + ",null", "ALLOWED_ORIGINS"},
		"origin with a path":             {testSecret, "", appOrigin + "/callback", "ALLOWED_ORIGINS"},
		"star with an origin":            {testSecret, "", "*," + appOrigin, "ALLOWED_ORIGINS"},
		"origin with star among origins": {testSecret, "", appOrigin + ",*", "ALLOWED_ORIGINS"},
		"origin without a scheme (junk)": {testSecret, "", "localhost:5173", "ALLOWED_ORIGINS"},
	} {
		t.Run(name, func(t *testing.T) {
			t.Setenv("ALLOWED_ORIGINS", c.origins)
			if c.origins == "" {
				os.Unsetenv("ALLOWED_ORIGINS")
			}
			t.Setenv("INSFORGE_JWT_SECRET", c.secret)
			if c.secret == "" {
				os.Unsetenv("INSFORGE_JWT_SECRET")
			}
			t.Setenv("TOKEN_TTL", c.ttl)
			if c.ttl == "" {
				os.Unsetenv("TOKEN_TTL")
			}
			_, err := bridge.FromEnv(slog.New(slog.DiscardHandler), build)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v, want it to name %s", err, c.want)
			}
			if strings.Contains(err.Error(), "/callback") || strings.Contains(err.Error(), "localhost:5173") {
				t.Fatalf("the error repeats the value: %v", err)
			}
		})
	}
}

// TestBuildLoadsTheProviderConfigurationFirst: bridge.Build (what every
// functions/token-*/main.go calls) fails the cold start naming the provider's
// missing variable, and builds a working handler when everything is set.
func TestBuildLoadsTheProviderConfigurationFirst(t *testing.T) {
	t.Setenv("INSFORGE_JWT_SECRET", testSecret)
	t.Setenv("CLERK_ISSUER", "")
	os.Unsetenv("CLERK_ISSUER")
	build := bridge.Build(identity.NewClerk)
	if _, err := build(launch.Runtime{Logger: slog.New(slog.DiscardHandler)}); err == nil || !strings.Contains(err.Error(), "CLERK_ISSUER") {
		t.Fatalf("err = %v, want it to name CLERK_ISSUER", err)
	}
	t.Setenv("CLERK_ISSUER", "https://clerk.example.com")
	t.Setenv("ALLOWED_ORIGINS", appOrigin)
	t.Setenv("CLERK_JWKS_URL", "http://127.0.0.1:1/jwks") // never answers: the handler must still be built
	h, err := build(launch.Runtime{Logger: slog.New(slog.DiscardHandler)})
	if err != nil || h == nil {
		t.Fatalf("build: %v", err)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest(http.MethodPost, "/token/clerk", nil))
	expectError(t, w, http.StatusUnauthorized, "missing_credential")
}

// TestBetterAuthCustomBasePathAndCookiePrefix: a Better Auth server with basePath
// /auth and advanced.cookiePrefix "myapp" is reached at /auth/get-session and
// /auth/jwks, and its __Secure-myapp.session_token cookie is the credential.
func TestBetterAuthCustomBasePathAndCookiePrefix(t *testing.T) {
	sp := specNamed("better-auth")
	var api *identitytest.BetterAuthAPI
	sp.Setup = func(e *providertest.Env) (map[string]string, jwt.MapClaims) {
		api = identitytest.NewBetterAuthAPI(e.T, e.Issuer)
		api.BasePath, api.CookiePrefix = "/auth", "myapp"
		e.Sessions = api
		return map[string]string{"BETTER_AUTH_URL": api.Server.URL, "BETTER_AUTH_BASE_PATH": "/auth/", "BETTER_AUTH_COOKIE_PREFIX": "myapp"},
			jwt.MapClaims{"iss": api.Server.URL, "aud": api.Server.URL, "sub": "u_custom"}
	}
	cookie := func(name, value string) *http.Request {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.AddCookie(&http.Cookie{Name: name, Value: value})
		return r
	}
	t.Run("__Secure- cookie with the custom prefix", func(t *testing.T) {
		e := newEnv(t, sp)
		e.build()
		expectMinted(t, e, e.serve(cookie("__Secure-myapp.session_token", e.Session(1, nil))), "u_custom", "")
	})
	t.Run("plain cookie with the custom prefix", func(t *testing.T) {
		e := newEnv(t, sp)
		e.build()
		expectMinted(t, e, e.serve(cookie("myapp.session_token", e.Session(1, nil))), "u_custom", "")
	})
	t.Run("the default cookie name is not a credential", func(t *testing.T) {
		e := newEnv(t, sp)
		e.build()
		expectError(t, e.serve(cookie(identity.BetterAuthSecureCookie, e.Session(1, nil))), 401, codeMissing)
		if api.Calls() != 0 {
			t.Fatalf("upstream calls = %d", api.Calls())
		}
	})
	t.Run("jwt() token checked against <basePath>/jwks", func(t *testing.T) {
		e := newEnv(t, sp)
		e.build()
		expectMinted(t, e, e.serve(e.bearer(e.Token(nil))), "u_custom", "")
	})
}

// TestStytchCustomCookieNames: cookieOptions.opaqueTokenCookieName and
// jwtCookieName set in the Stytch SDK are configured on the bridge.
func TestStytchCustomCookieNames(t *testing.T) {
	e, api := stytchEnv(t, func(e *env) {
		e.T.Setenv("STYTCH_SESSION_COOKIE", "app_session")
		e.T.Setenv("STYTCH_SESSION_JWT_COOKIE", "app_session_jwt")
	})
	cookie := func(name, value string) *http.Request {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.AddCookie(&http.Cookie{Name: name, Value: value})
		return r
	}
	tok := providertest.StytchToken(5)
	api.AddSession(tok, identitytest.User{ID: e.Base["sub"].(string)})
	expectMinted(t, e, e.serve(cookie("app_session", tok)), e.Base["sub"].(string), "")
	expectMinted(t, e, e.serve(cookie("app_session_jwt", e.Token(nil))), e.Base["sub"].(string), "")
	expectError(t, e.serve(cookie("stytch_session", tok)), 401, codeMissing)
	expectError(t, e.serve(cookie("stytch_session_jwt", e.Token(nil))), 401, codeMissing)
}
