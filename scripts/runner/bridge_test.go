package runner

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/insforge/edge-functions-go/scripts/runner/apigateway"
	"github.com/insforge/edge-functions-go/scripts/runner/runtimeapi"
	"github.com/insforge/edge-functions-go/shared/bridge"
	"github.com/insforge/edge-functions-go/shared/config"
	"github.com/insforge/edge-functions-go/shared/httpapi"
	"github.com/insforge/edge-functions-go/shared/identity"
	"github.com/insforge/edge-functions-go/shared/signer"
)

const repoTemplate = "../../template.yaml"

func startOne(t *testing.T, fn, envVarsJSON string) *Runner {
	t.Helper()
	if _, err := os.Stat("../../functions/token-clerk"); err != nil {
		t.Fatalf("functions/token-clerk is missing: %v", err)
	}
	o := Options{Template: repoTemplate, Dev: true, IssuerAddr: "127.0.0.1:0", Only: []string{fn}, MaxProcs: 2,
		Logs: io.Discard, Log: slog.New(slog.DiscardHandler), CacheDir: t.TempDir()}
	if envVarsJSON != "" {
		o.EnvVarsFile = filepath.Join(t.TempDir(), "env.json")
		if err := os.WriteFile(o.EnvVarsFile, []byte(envVarsJSON), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	env, err := Start(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(env.Close)
	return env
}

func sampleEvent(t *testing.T, env *Runner, name string) events.APIGatewayV2HTTPRequest {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("../../events", name))
	if err != nil {
		t.Fatal(err)
	}
	filled, err := Fill(raw, env.Issuer)
	if err != nil {
		t.Fatal(err)
	}
	var ev events.APIGatewayV2HTTPRequest
	if err := json.Unmarshal(filled, &ev); err != nil {
		t.Fatal(err)
	}
	return ev
}

// The real Clerk bridge, run as a bootstrap process through the Runtime API,
// answers every sample event exactly as the same handler wired in-process and
// called through httpapi.Serve (the path unit tests use).
func TestRealBridgeRuntimeAPIPathMatchesInProcessHandler(t *testing.T) {
	const fn = "TokenClerkFunction"
	env := startOne(t, fn, "")
	vars := env.Vars[fn]
	for k, v := range vars {
		t.Setenv(k, v)
	}
	// Same wiring as functions/token-clerk/main.go.
	log := slog.New(slog.DiscardHandler)
	var cfg identity.ClerkConfig
	if err := config.Load(&cfg); err != nil {
		t.Fatal(err)
	}
	inproc, err := bridge.FromEnv(log, func(o identity.Options) (*identity.Provider, error) { return identity.NewClerk(cfg, o) })
	if err != nil {
		t.Fatal(err)
	}
	sign, err := signer.New(signer.Config{Secret: vars["INSFORGE_JWT_SECRET"], TTL: signer.DefaultTTL}, signer.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"token-clerk-valid.json", "token-clerk-invalid.json", "token-clerk-missing.json", "token-clerk-preflight.json"} {
		t.Run(name, func(t *testing.T) {
			ev := sampleEvent(t, env, name)
			payload, _ := json.Marshal(ev)
			res, err := env.Pools[fn].Invoke(context.Background(), payload)
			if err != nil || res.Err != nil {
				t.Fatalf("invoke: %v %v", err, res.Err)
			}
			var got events.APIGatewayV2HTTPResponse
			if err := json.Unmarshal(res.Payload, &got); err != nil {
				t.Fatal(err)
			}
			want := httpapi.Serve(context.Background(), inproc, ev)
			if got.StatusCode != want.StatusCode {
				t.Fatalf("status %d via Runtime API, %d in-process", got.StatusCode, want.StatusCode)
			}
			delete(got.Headers, "X-Request-Id")
			delete(want.Headers, "X-Request-Id")
			g, _ := json.Marshal(got.Headers)
			w, _ := json.Marshal(want.Headers)
			if string(g) != string(w) {
				t.Errorf("headers differ:\n got  %s\n want %s", g, w)
			}
			if got.StatusCode != 200 {
				if got.Body != want.Body {
					t.Errorf("body %s via Runtime API, %s in-process", got.Body, want.Body)
				}
				return
			}
			// Minted tokens differ only in iat/exp/jti: compare what they assert.
			gc, gb := minted(t, sign, got.Body)
			wc, wb := minted(t, sign, want.Body)
			if gc.Subject != wc.Subject || gc.Role != wc.Role || gc.Subject != "user_dev_1" || gc.Role != "authenticated" ||
				gb["token_type"] != wb["token_type"] || gb["expires_in"] != wb["expires_in"] {
				t.Errorf("minted tokens differ: %+v %v vs %+v %v", gc, gb, wc, wb)
			}
		})
	}
}

func minted(t *testing.T, s *signer.Signer, body string) (*signer.Claims, map[string]any) {
	t.Helper()
	var b map[string]any
	if err := json.Unmarshal([]byte(body), &b); err != nil {
		t.Fatal(err)
	}
	tok, _ := b["token"].(string)
	c, err := s.Verify(tok)
	if err != nil {
		t.Fatalf("minted token does not verify with the dev secret: %v", err)
	}
	return c, b
}

// A bridge without its secret fails its cold start the way Lambda reports it:
// an init error of type Runtime.ConfigError naming the variable, no process left.
func TestRealBridgeInitFailureNamesTheVariable(t *testing.T) {
	const fn = "TokenClerkFunction"
	env := startOne(t, fn, `{"Parameters": {"INSFORGE_JWT_SECRET": ""}}`)
	if _, set := env.Vars[fn]["INSFORGE_JWT_SECRET"]; set {
		t.Fatal("an empty env-vars value must leave the variable unset")
	}
	ev := sampleEvent(t, env, "token-clerk-valid.json")
	payload, _ := json.Marshal(ev)
	res, err := env.Pools[fn].Invoke(context.Background(), payload)
	if err != nil {
		t.Fatal(err)
	}
	want := runtimeapi.FunctionError{Phase: "init", Type: "Runtime.ConfigError"}
	if res.Err == nil || res.Err.Phase != want.Phase || res.Err.Type != want.Type || !strings.Contains(res.Err.Message, "INSFORGE_JWT_SECRET") {
		t.Fatalf("result %+v, want an init Runtime.ConfigError naming INSFORGE_JWT_SECRET", res.Err)
	}
	if env.Pools[fn].Processes() != 0 {
		t.Error("a failed init left a process running")
	}
}

// The real OIDC bridge whose issuer publishes a discovery document naming another
// issuer (here: with a trailing slash) fails its cold start naming OIDC_ISSUER,
// the way Lambda reports it, and leaves no process behind.
func TestRealOIDCBridgeInitFailsWhenDiscoveryNamesAnotherIssuer(t *testing.T) {
	const fn = "TokenOidcFunction"
	var srv *httptest.Server
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/.well-known/openid-configuration" {
			http.NotFound(w, r)
			return
		}
		httpapi.WriteJSON(w, http.StatusOK, map[string]any{"issuer": srv.URL + "/", "jwks_uri": srv.URL + "/jwks",
			"id_token_signing_alg_values_supported": []string{"RS256"}})
	}))
	defer srv.Close()
	env := startOne(t, fn, fmt.Sprintf(`{"Parameters": {"OIDC_ISSUER": %q, "OIDC_AUDIENCE": "client-1"}}`, srv.URL))
	payload, _ := json.Marshal(sampleEvent(t, env, "token-oidc-valid.json"))
	res, err := env.Pools[fn].Invoke(context.Background(), payload)
	if err != nil {
		t.Fatal(err)
	}
	if res.Err == nil || res.Err.Phase != "init" || res.Err.Type != "Runtime.ConfigError" || !strings.Contains(res.Err.Message, "OIDC_ISSUER") {
		t.Fatalf("result %+v, want an init Runtime.ConfigError naming OIDC_ISSUER", res.Err)
	}
	if env.Pools[fn].Processes() != 0 {
		t.Error("a failed init left a process running")
	}
}

// gatewayFor serves env's routes over HTTP the way API Gateway would, with only
// fn behind them.
func gatewayFor(env *Runner, fn string) *httptest.Server {
	var routes []apigateway.Route
	for _, f := range env.Functions {
		for _, r := range f.Routes {
			routes = append(routes, apigateway.Route{Method: r.Method, Path: r.Path, Function: f.LogicalID})
		}
	}
	return httptest.NewServer(&apigateway.Handler{Router: apigateway.NewRouter(routes),
		Functions: map[string]apigateway.Invoker{fn: env.Pools[fn]}, Log: slog.New(slog.DiscardHandler)})
}

// A browser-style request to the real Better Auth bridge over HTTP: the session
// cookie travels in the event's cookies array and comes out as a minted token,
// with CORS answered by the handler for the dev origin.
func TestRealBridgeOverHTTPWithSessionCookie(t *testing.T) {
	const fn = "TokenBetterAuthFunction"
	env := startOne(t, fn, "")
	srv := gatewayFor(env, fn)
	defer srv.Close()
	// A session shorter than TOKEN_TTL (1h): the minted token must not outlive it.
	const sessionTTL = 5 * time.Minute
	cookie, err := env.Issuer.Credential("better-auth", "ba_http_user", "cookie", sessionTTL)
	if err != nil {
		t.Fatal(err)
	}
	sessionEnds := time.Now().Add(sessionTTL) // the session expires no later than this
	req, _ := http.NewRequest(http.MethodGet, srv.URL+"/token/better-auth", nil)
	req.Header.Set("Cookie", "theme=dark; "+cookie)
	req.Header.Set("Origin", "http://localhost:5173")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	if res.StatusCode != 200 {
		t.Fatalf("HTTP %d %s, want a minted token", res.StatusCode, raw)
	}
	sign, err := signer.New(signer.Config{Secret: env.Vars[fn]["INSFORGE_JWT_SECRET"], TTL: signer.DefaultTTL}, signer.Options{})
	if err != nil {
		t.Fatal(err)
	}
	c, _ := minted(t, sign, string(raw))
	if c.Subject != "ba_http_user" || c.Role != "authenticated" {
		t.Errorf("minted sub %q role %q, want ba_http_user / authenticated", c.Subject, c.Role)
	}
	if c.ExpiresAt == nil || c.ExpiresAt.After(sessionEnds) {
		t.Errorf("minted exp %v outlives the session (ends by %v)", c.ExpiresAt, sessionEnds)
	}
	if res.Header.Get("Access-Control-Allow-Origin") != "http://localhost:5173" || res.Header.Get("Access-Control-Allow-Credentials") != "true" {
		t.Errorf("CORS headers %v", res.Header)
	}
}
