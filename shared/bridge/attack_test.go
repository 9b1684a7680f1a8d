package bridge_test

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/insforge/edge-functions-go/shared/identity"
	"github.com/insforge/edge-functions-go/shared/identity/providertest"
)

// attack is one request against a freshly built bridge. Unless status is 200 it
// must fail with code and mint nothing.
//
// The rules of the credentials themselves (algorithms, keys, claims, markers,
// sessions, each provider's own) are asserted once, where they live, in
// shared/identity (a table per provider file, through Provider.Verify, over every
// declared provider); each identity error kind's status, code, headers and body
// are asserted once in errors_test.go. What stays here is the HTTP layer (where
// the credential is read from, methods, sizes, origins), what only the handler
// does (mint: role, lifetime, email, actor logged) and an end-to-end sample of
// refusals, so that the wiring from provider to answer is proven.
type attack struct {
	name    string
	applies func(spec) bool                                          // nil: every provider
	cold    func(e *env)                                             // runs before the bridge is built (cold start)
	req     func(e *env) *http.Request                               // may serve warm-up requests itself
	status  int                                                      // expected status
	code    string                                                   // expected error code ("" for 200)
	minted  func(t *testing.T, e *env, w *httptest.ResponseRecorder) // extra checks for 200
	noEmail bool                                                     // the minted token must carry no email
	email   string                                                   // the minted token must carry this email
	after   func(t *testing.T, e *env)                               // extra checks after any outcome
}

// actorLogged asserts that the mint was logged with the impersonating actor.
func actorLogged(actor string) func(t *testing.T, e *env, w *httptest.ResponseRecorder) {
	return func(t *testing.T, e *env, w *httptest.ResponseRecorder) {
		t.Helper()
		for _, line := range strings.Split(e.Logs.String(), "\n") {
			if strings.Contains(line, `"msg":"token minted"`) && strings.Contains(line, `"actor":"`+actor+`"`) {
				return
			}
		}
		t.Fatalf("no mint logged with actor %q:\n%s", actor, e.Logs.String())
	}
}

func hasSessions(s spec) bool { return s.HasSessions() }

// noLookups asserts that the provider's session API was never called.
func noLookups(t *testing.T, e *env) {
	t.Helper()
	if n := e.Sessions.Calls(); n != 0 {
		t.Fatalf("%d upstream session lookups, want none", n)
	}
}

const (
	codeInvalid       = identity.CodeInvalidToken
	codeExpired       = identity.CodeTokenExpired
	codeUnavailable   = identity.CodeProviderUnavailable
	codeMissing       = "missing_credential"
	codeImpersonation = identity.CodeImpersonationRefused
)

func hasCookie(s spec) bool { return s.JWTCookie != "" }

// withEmail adds an email and sets the provider's verified claim to v.
func withEmail(e *env, v any) func(providertest.Claims) { return e.WithEmail(v) }

var (
	only = providertest.Only
	set  = providertest.Set
)

func b64(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

func okRequest(e *env) *http.Request { return e.bearer(e.Token(nil)) }

// waitFor200 polls until a request gets 200 or a few seconds went by: for
// outages that heal in the background, outside any request.
func waitFor200(e *env, mk func() *http.Request) *httptest.ResponseRecorder {
	var w *httptest.ResponseRecorder
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(15 * time.Millisecond) {
		if w = e.serve(mk()); w.Code == http.StatusOK {
			break
		}
	}
	return w
}

var attacks = []attack{
	// End to end: a valid credential of every provider is exchanged, and a
	// refusal of each status the identity kinds map to (401 invalid, expired and
	// impersonation; 503; 500 once discovery contradicts the configuration)
	// reaches the client as its kind's answer, documented, with nothing minted.
	{name: "valid token is exchanged", req: okRequest, status: 200},
	{name: "HS256 signed with the InsForge secret (a Clerk template token)", status: 401, code: codeInvalid,
		req: func(e *env) *http.Request {
			return e.bearer(e.HS256([]byte(testSecret), e.Claims(set("role", "authenticated"))))
		}},
	{name: "expired", status: 401, code: codeExpired,
		req: func(e *env) *http.Request {
			return e.bearer(e.Token(set("exp", time.Now().Add(-5*time.Minute).Unix())))
		}},
	{name: "impersonation token (act claim) is refused", status: 401, code: codeImpersonation,
		req: func(e *env) *http.Request {
			return e.bearer(e.Token(set("act", map[string]any{"sub": "admin@example.com"})))
		}},
	{name: "JWKS down at cold start", status: 503, code: codeUnavailable,
		cold: func(e *env) { e.Issuer.SetDown(true) }, req: okRequest},
	{name: "oidc: discovery names another issuer once it answers: 500, never a mint", status: 500, code: identity.CodeMisconfigured,
		applies: only("oidc"),
		cold: func(e *env) {
			e.Issuer.SetDown(true) // unreachable at cold start, so init cannot refuse it
			e.Issuer.SetDiscoveryIssuer(e.Issuer.URL() + "/")
		},
		req: func(e *env) *http.Request {
			expectError(e.T, e.serve(okRequest(e)), 503, codeUnavailable)
			e.Issuer.SetDown(false)
			// Discovery is retried in the background, not by the request: poll until
			// it has answered (the verdict then stays 500, never a mint).
			for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(15 * time.Millisecond) {
				if w := e.serve(okRequest(e)); w.Code != 503 {
					break
				}
			}
			return okRequest(e)
		}},

	// Minting: the role is fixed, the lifetime is min(TOKEN_TTL, the credential's),
	// the email is the verified one the provider returned, the actor is logged.
	{name: "upstream role project_admin still mints role authenticated", status: 200,
		req: func(e *env) *http.Request {
			return e.bearer(e.Token(func(c providertest.Claims) { c["role"] = "project_admin"; c["is_project_admin"] = true }))
		}},
	{name: "better-auth: plugin payload with role admin mints authenticated", status: 200, applies: only("better-auth"),
		req: func(e *env) *http.Request { return e.bearer(e.Token(set("role", "admin"))) }},
	{name: "exp in 25s caps the minted token at the credential's exp", status: 200,
		req: func(e *env) *http.Request {
			return e.bearer(e.Token(set("exp", time.Now().Add(25*time.Second).Unix())))
		},
		minted: func(t *testing.T, e *env, w *httptest.ResponseRecorder) {
			if !strings.Contains(w.Body.String(), fmt.Sprintf(`"expires_at":%d`, e.CredExp)) {
				t.Fatalf("expires_at is not the credential's exp %d: %s", e.CredExp, w.Body)
			}
		}},
	{name: "exp in 2 days is capped at TOKEN_TTL", status: 200,
		req: func(e *env) *http.Request {
			return e.bearer(e.Token(set("exp", time.Now().Add(48*time.Hour).Unix())))
		},
		minted: func(t *testing.T, e *env, w *httptest.ResponseRecorder) {
			if !strings.Contains(w.Body.String(), `"expires_in":3600`) {
				t.Fatalf("expires_in is not TOKEN_TTL: %s", w.Body)
			}
		}},
	{name: "email with verified exactly true is copied", status: 200, email: "ada@example.com",
		req: func(e *env) *http.Request { return e.bearer(e.Token(withEmail(e, true))) }},
	{name: "clerk: impersonation accepted with CLERK_ALLOW_IMPERSONATION, actor logged", status: 200, applies: only("clerk"),
		cold: func(e *env) { e.T.Setenv("CLERK_ALLOW_IMPERSONATION", "true") },
		req: func(e *env) *http.Request {
			return e.bearer(e.Token(set("act", map[string]any{"sub": "user_admin_1", "iss": "https://dashboard.clerk.com"})))
		},
		minted: actorLogged("user_admin_1")},
	{name: "workos: impersonation accepted with WORKOS_ALLOW_IMPERSONATION, actor logged", status: 200, applies: only("workos"),
		cold: func(e *env) { e.T.Setenv("WORKOS_ALLOW_IMPERSONATION", "true") },
		req: func(e *env) *http.Request {
			return e.bearer(e.Token(set("act", map[string]any{"sub": "admin@example.com", "reason": "support"})))
		},
		minted: actorLogged("admin@example.com")},
	{name: "better-auth: impersonated session accepted with BETTER_AUTH_ALLOW_IMPERSONATION, actor logged", status: 200,
		noEmail: true, applies: only("better-auth"),
		cold: func(e *env) { e.T.Setenv("BETTER_AUTH_ALLOW_IMPERSONATION", "true") },
		req: func(e *env) *http.Request {
			return e.bearer(e.Session(1, func(u *providertest.User) { u.ImpersonatedBy = "admin_user_1" }))
		},
		minted: actorLogged("admin_user_1")},

	// Cookies: a cookie sent twice is ambiguous (cookie tossing), and is refused
	// before any provider call.
	{name: "the same provider cookie twice (victim's, then attacker's) is refused", status: 401, code: codeInvalid,
		applies: hasCookie,
		req: func(e *env) *http.Request {
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			r.Header.Set("Cookie", e.cookieName()+"="+e.Token(nil)+"; "+e.cookieName()+"="+e.Token(set("sub", "attacker")))
			return r
		}},
	{name: "the same provider cookie twice (attacker's first) is refused", status: 401, code: codeInvalid,
		applies: hasCookie,
		req: func(e *env) *http.Request {
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			r.Header.Set("Cookie", e.cookieName()+"="+e.Token(set("sub", "attacker"))+"; "+e.cookieName()+"="+e.Token(nil))
			return r
		}},
	{name: "the same provider cookie in two Cookie headers is refused", status: 401, code: codeInvalid,
		applies: hasCookie,
		req: func(e *env) *http.Request {
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			r.Header.Add("Cookie", e.cookieName()+"="+e.Token(nil))
			r.Header.Add("Cookie", "other=1; "+e.cookieName()+"="+e.Token(nil))
			return r
		}},
	{name: "the provider cookie once among other cookies is accepted", status: 200, applies: hasCookie,
		req: func(e *env) *http.Request {
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			r.Header.Set("Cookie", "theme=dark; "+e.cookieName()+"="+e.Token(nil)+"; __session_other=x")
			return r
		}},
	{name: "session: the session cookie twice is refused without asking the provider", status: 401, code: codeInvalid,
		applies: hasSessions,
		req: func(e *env) *http.Request {
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			r.Header.Set("Cookie", e.Spec.SessionCookie+"="+e.Session(1, nil)+"; "+e.Spec.SessionCookie+"="+e.Session(2, nil))
			return r
		},
		after: noLookups},
	{name: "session: the session cookie once is accepted", status: 200, noEmail: true, applies: hasSessions,
		req: func(e *env) *http.Request {
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			r.Header.Set("Cookie", "theme=dark; "+e.Spec.SessionCookie+"="+e.Session(1, nil))
			return r
		}},
	{name: "clerk: __session cookie on a same-site GET", status: 200, applies: only("clerk"),
		req: func(e *env) *http.Request {
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			r.AddCookie(&http.Cookie{Name: "__session", Value: e.Token(nil)})
			return r
		}},
	{name: "stytch: session_jwt cookie", status: 200, applies: only("stytch"),
		req: func(e *env) *http.Request {
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			r.AddCookie(&http.Cookie{Name: "stytch_session_jwt", Value: e.Token(nil)})
			return r
		}},

	// Transport-level attacks.
	{name: "no credential", status: 401, code: codeMissing,
		req: func(e *env) *http.Request { return httptest.NewRequest(http.MethodPost, "/", nil) }},
	{name: "empty bearer", status: 401, code: codeMissing,
		req: func(e *env) *http.Request {
			r := httptest.NewRequest(http.MethodPost, "/", nil)
			r.Header.Set("Authorization", "Bearer ")
			return r
		}},
	{name: "Basic instead of Bearer", status: 401, code: codeMissing,
		req: func(e *env) *http.Request {
			r := httptest.NewRequest(http.MethodPost, "/", nil)
			r.Header.Set("Authorization", "Basic "+b64("user:pass"))
			return r
		}},
	{name: "two Authorization headers (one valid)", status: 401, code: codeInvalid,
		req: func(e *env) *http.Request {
			r := okRequest(e)
			r.Header.Add("Authorization", "Bearer other")
			return r
		}},
	{name: "1 MB header", status: 413, code: "request_too_large",
		req: func(e *env) *http.Request {
			r := okRequest(e)
			r.Header.Set("X-Padding", strings.Repeat("a", 1<<20))
			return r
		}},
	{name: "1 MB bearer token", status: 413, code: "request_too_large",
		req: func(e *env) *http.Request { return e.bearer(strings.Repeat("a", 1<<20)) }},
	{name: "1 MB body", status: 413, code: "request_too_large",
		req: func(e *env) *http.Request {
			r := okRequest(e)
			r.Body = http.NoBody
			r2 := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(strings.Repeat("{", 1<<20)))
			r2.Header = r.Header
			return r2
		}},
	{name: "PUT is not allowed", status: 405, code: "method_not_allowed",
		req: func(e *env) *http.Request {
			r := okRequest(e)
			r.Method = http.MethodPut
			return r
		}},
	{name: "DELETE is not allowed", status: 405, code: "method_not_allowed",
		req: func(e *env) *http.Request {
			r := okRequest(e)
			r.Method = http.MethodDelete
			return r
		}},
	{name: "browser request from an origin not in ALLOWED_ORIGINS", status: 403, code: "origin_not_allowed",
		req: func(e *env) *http.Request {
			r := okRequest(e)
			r.Header.Set("Origin", "https://evil.example.com")
			return r
		}},
}

// TestAttackSuite runs every attack against every provider. Each case gets a
// fresh issuer, fakes and bridge, so cold-start and rotation cases are isolated.
func TestAttackSuite(t *testing.T) {
	for _, sp := range specs {
		t.Run(sp.Name, func(t *testing.T) {
			n := 0
			for _, a := range attacks {
				if a.applies != nil && !a.applies(sp) {
					continue
				}
				if a.status != 200 {
					n++
				}
				t.Run(a.name, func(t *testing.T) {
					e := newEnv(t, sp)
					if a.cold != nil {
						a.cold(e)
					}
					e.build()
					req := a.req(e) // may serve warm-up requests
					mintsBefore := strings.Count(e.Logs.String(), `"msg":"token minted"`)
					w := e.serve(req)
					if a.after != nil {
						defer a.after(t, e)
					}
					if a.status != 200 {
						expectError(t, w, a.status, a.code)
						if strings.Count(e.Logs.String(), `"msg":"token minted"`) != mintsBefore {
							t.Fatalf("a token was minted on an error path:\n%s", e.Logs)
						}
						return
					}
					body := w.Body.String()
					email := e.ExpectedEmail()
					if a.noEmail {
						email = ""
					}
					if a.email != "" {
						email = a.email
					}
					expectMinted(t, e, w, e.Base["sub"].(string), email)
					w.Body = bytes.NewBufferString(body)
					if a.minted != nil {
						a.minted(t, e, w)
					}
				})
			}
			if n < 14 {
				t.Errorf("%s: only %d attack cases, want at least 14", sp.Name, n)
			}
			t.Logf("%s: %d attack cases", sp.Name, n)
		})
	}
}
