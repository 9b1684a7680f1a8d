package bridge_test

import (
	"encoding/base64"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/insforge/edge-functions-go/shared/bridge"
	"github.com/insforge/edge-functions-go/shared/httpapi/openapitest"
	"github.com/insforge/edge-functions-go/shared/identity"
	"github.com/insforge/edge-functions-go/shared/identity/providertest"
	"github.com/insforge/edge-functions-go/shared/logtest"
	"github.com/insforge/edge-functions-go/shared/signer"
	"github.com/insforge/edge-functions-go/shared/tokenedge"
)

// testSecret signs the minted tokens. Providers are data: every bridge declared
// in identity.Bridges, as shared/identity/providertest builds it.
const testSecret = "test-secret-0123456789abcdef0123456789"

var specs = providertest.Specs

type spec = providertest.Spec

const appOrigin = providertest.AppOrigin

// syncBuffer collects logs from the handler and the JWKS goroutines.
type syncBuffer = logtest.Buffer

// env is one provider bridge under test, fresh for every case: the provider's
// upstreams (providertest) and the HTTP handler in front of it.
type env struct {
	*providertest.Env
	h      http.Handler
	signer *signer.Signer
	sent   []string // credentials sent, checked against the logs
}

func testOptions(logger *slog.Logger) identity.Options { return providertest.Options(logger) }

// newEnv starts the issuer and the provider's fakes; call build to construct the
// bridge (after any cold-start preparation).
func newEnv(t *testing.T, sp spec) *env {
	t.Helper()
	e := &env{Env: providertest.New(t, sp)}
	s, err := signer.New(signer.Config{Secret: testSecret, TTL: time.Hour}, signer.Options{})
	if err != nil {
		t.Fatal(err)
	}
	e.signer = s
	t.Cleanup(func() {
		logs := e.Logs.String()
		providertest.CheckLogs(t, logs, e.sent)
		if strings.Contains(logs, testSecret) {
			t.Errorf("the signing secret appears in the logs")
		}
	})
	return e
}

func (e *env) build() {
	e.T.Helper()
	p := e.Load()
	e.h = bridge.New(bridge.Config{AllowedOrigins: []string{appOrigin}}, bridge.Deps{Provider: p, Signer: e.signer, Timeout: 3 * time.Second,
		Logger: slog.New(slog.NewJSONHandler(e.Logs, nil))})
}

// cookieName is the cookie that carries this provider's JWT.
func (e *env) cookieName() string { return e.Spec.JWTCookie }

func (e *env) bearer(tok string) *http.Request {
	r := httptest.NewRequest(http.MethodPost, "/token/"+e.Spec.Name, nil)
	r.Header.Set("Authorization", "Bearer "+tok)
	return r
}

func (e *env) serve(r *http.Request) *httptest.ResponseRecorder {
	if a := r.Header.Get("Authorization"); a != "" {
		e.sent = append(e.sent, a)
	}
	for _, c := range r.Cookies() {
		e.sent = append(e.sent, c.Value)
	}
	w := httptest.NewRecorder()
	e.h.ServeHTTP(w, r)
	if e.Spec.Name != "" { // envs built by hand (no provider spec) have no route to check against
		openapitest.CheckRoute(e.T, "/token/"+e.Spec.Name, r, w) // every response here also proves docs/openapi.yaml
	}
	return w
}

// expectError asserts status, code, the {error,message} shape and that nothing
// that looks like a token was returned.
func expectError(t *testing.T, w *httptest.ResponseRecorder, status int, code string) {
	t.Helper()
	body := w.Body.String()
	if w.Code != status {
		t.Fatalf("status = %d, want %d; body %s", w.Code, status, body)
	}
	var m map[string]any
	if err := json.Unmarshal(w.Body.Bytes(), &m); err != nil {
		t.Fatalf("error body is not JSON: %q", body)
	}
	if m["error"] != code {
		t.Fatalf("error = %v, want %s; body %s", m["error"], code, body)
	}
	if msg, _ := m["message"].(string); msg == "" || len(m) != 2 {
		t.Fatalf("error body must be exactly {error, message}: %s", body)
	}
	if _, ok := m["token"]; ok || strings.Contains(body, "eyJ") {
		t.Fatalf("a token was returned on an error path: %s", body)
	}
	if cc := w.Header().Get("Cache-Control"); cc != "no-store" {
		t.Fatalf("Cache-Control = %q on an error", cc)
	}
}

// expectOutcome asserts a case's outcome: minted for sub (and email) when
// status is 200, else refused with status and code.
func expectOutcome(t *testing.T, e *env, w *httptest.ResponseRecorder, status int, code, sub, email string) {
	t.Helper()
	if status == http.StatusOK {
		expectMinted(t, e, w, sub, email)
	} else {
		expectError(t, w, status, code)
	}
}

// expectMinted asserts a 200 with a valid InsForge token for sub, role
// "authenticated", and no claim beyond the ones the signer sets.
func expectMinted(t *testing.T, e *env, w *httptest.ResponseRecorder, sub, email string) *signer.Claims {
	t.Helper()
	if w.Code != http.StatusOK {
		t.Fatalf("status = %d, want 200; body %s", w.Code, w.Body.String())
	}
	if cc := w.Header().Get("Cache-Control"); cc != "no-store" {
		t.Fatalf("Cache-Control = %q, want no-store", cc)
	}
	var res tokenedge.Response
	dec := json.NewDecoder(w.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&res); err != nil {
		t.Fatalf("decode: %v", err)
	}
	c, err := e.signer.Verify(res.Token)
	if err != nil {
		t.Fatalf("minted token does not verify: %v", err)
	}
	// expires_in and expires_at tell the truth: exp - iat and exp, and exp is
	// min(iat + TOKEN_TTL, the credential's exp).
	iat := c.IssuedAt.Unix()
	wantExp := iat + 3600
	if e.CredExp != 0 && e.CredExp < wantExp {
		wantExp = e.CredExp
	}
	if res.TokenType != "Bearer" || res.ExpiresAt != wantExp || res.ExpiresIn != wantExp-iat || iat < time.Now().Unix()-5 {
		t.Fatalf("response = %+v, want exp %d (iat %d, credential exp %d)", res, wantExp, iat, e.CredExp)
	}
	if c.Role != signer.Role || c.Subject != sub || c.Email != email || c.ExpiresAt.Unix() != res.ExpiresAt {
		t.Fatalf("minted claims = role %q sub %q email %q exp %v; want authenticated %q %q", c.Role, c.Subject, c.Email, c.ExpiresAt, sub, email)
	}
	raw, _ := base64.RawURLEncoding.DecodeString(strings.Split(res.Token, ".")[1])
	var all map[string]any
	_ = json.Unmarshal(raw, &all)
	for k := range all {
		switch k {
		case "sub", "role", "aud", "iat", "exp", "email":
		default:
			t.Fatalf("minted token carries upstream claim %q: %s", k, raw)
		}
	}
	return c
}
