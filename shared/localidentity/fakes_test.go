package localidentity

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// A strict emulation refuses every request a correct client would never send:
// each protocol rule answers 400 and records exactly one violation naming it.
func TestSessionAPIsRefuseAndRecordEachProtocolViolation(t *testing.T) {
	const project, secret, token = "project-test-1", "secret-test-1", "session-token-1"
	stytchReq := func(method, path, ct, body string) *http.Request {
		r := httptest.NewRequest(method, path, strings.NewReader(body))
		if ct != "" {
			r.Header.Set("Content-Type", ct)
		}
		r.SetBasicAuth(project, secret)
		return r
	}
	const q = "?disableCookieCache=true&disableRefresh=true"
	baReq := func(method, target string, cookies []*http.Cookie, auth string) *http.Request {
		r := httptest.NewRequest(method, target, nil)
		for _, c := range cookies {
			r.AddCookie(c)
		}
		if auth != "" {
			r.Header.Set("Authorization", auth)
		}
		return r
	}
	session := &http.Cookie{Name: "better-auth.session_token", Value: token}
	cases := []struct {
		name      string
		api       string // stytch or better-auth
		req       *http.Request
		violation string // substring of the recorded violation
	}{
		{"stytch: unexpected path", "stytch", stytchReq("POST", "/v1/sessions/revoke", "application/json", `{"session_token":"`+token+`"}`), "unexpected path /v1/sessions/revoke"},
		{"stytch: method", "stytch", stytchReq("GET", "/v1/sessions/authenticate", "application/json", ""), "method GET, want POST"},
		{"stytch: content type", "stytch", stytchReq("POST", "/v1/sessions/authenticate", "text/plain", `{"session_token":"`+token+`"}`), `content-type "text/plain"`},
		{"stytch: body not a JSON object", "stytch", stytchReq("POST", "/v1/sessions/authenticate", "application/json", `["`+token+`"]`), "body is not a JSON object"},
		{"stytch: session extension", "stytch", stytchReq("POST", "/v1/sessions/authenticate", "application/json", `{"session_token":"`+token+`","session_duration_minutes":60}`), "session_duration_minutes sent"},
		{"stytch: extra key", "stytch", stytchReq("POST", "/v1/sessions/authenticate", "application/json", `{"session_token":"`+token+`","session_jwt":"x"}`), "got keys [session_jwt session_token]"},
		{"stytch: token not a string", "stytch", stytchReq("POST", "/v1/sessions/authenticate", "application/json", `{"session_token":1}`), `body must be exactly {"session_token": string}`},
		{"better-auth: unexpected path", "better-auth", baReq("GET", "/api/auth/session"+q, []*http.Cookie{session}, ""), "unexpected path /api/auth/session"},
		{"better-auth: method", "better-auth", baReq("POST", "/api/auth/get-session"+q, []*http.Cookie{session}, ""), "method POST, want GET"},
		{"better-auth: cookie cache allowed", "better-auth", baReq("GET", "/api/auth/get-session?disableRefresh=true", []*http.Cookie{session}, ""), "disableCookieCache=true missing"},
		{"better-auth: refresh allowed", "better-auth", baReq("GET", "/api/auth/get-session?disableCookieCache=true", []*http.Cookie{session}, ""), "disableRefresh=true missing"},
		{"better-auth: cookie and bearer", "better-auth", baReq("GET", "/api/auth/get-session"+q, []*http.Cookie{session}, "Bearer "+token), "both a cookie and an Authorization header"},
		{"better-auth: extra cookie", "better-auth", baReq("GET", "/api/auth/get-session"+q, []*http.Cookie{session, {Name: "theme", Value: "dark"}}, ""), "more than the session cookie was forwarded: 2 cookies"},
		{"better-auth: other cookie", "better-auth", baReq("GET", "/api/auth/get-session"+q, []*http.Cookie{{Name: "other-app.session_token", Value: token}}, ""), `unexpected cookie "other-app.session_token"`},
		{"better-auth: no credential", "better-auth", baReq("GET", "/api/auth/get-session"+q, nil, "Basic dTpw"), "no credential forwarded"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var h http.Handler
			var violations func() []string
			switch tc.api {
			case "stytch":
				api := NewStytchAPI(project, secret, nil)
				api.AddSession(token, User{ID: "user-1"})
				h, violations = api, api.Violations
			default:
				api := NewBetterAuthAPI(nil)
				api.AddSession(token, User{ID: "user-1"})
				h, violations = api, api.Violations
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, tc.req)
			if w.Code != http.StatusBadRequest {
				t.Fatalf("status %d, want 400; body %s", w.Code, w.Body)
			}
			var body struct {
				ErrorType string `json:"error_type"`
			}
			if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil || body.ErrorType != "fake_protocol_violation" {
				t.Errorf("body %s (%v), want error_type fake_protocol_violation", w.Body, err)
			}
			got := violations()
			if len(got) != 1 || !strings.Contains(got[0], tc.violation) {
				t.Errorf("violations %q, want exactly one containing %q", got, tc.violation)
			}
		})
	}
}

// The contrast to the table above: the requests a bridge sends are answered and
// record nothing.
func TestSessionAPIsAnswerCorrectRequestsWithoutViolations(t *testing.T) {
	const project, secret, token = "project-test-1", "secret-test-1", "session-token-1"
	st := NewStytchAPI(project, secret, nil)
	st.AddSession(token, User{ID: "user-1", Email: "u@example.test", EmailVerified: true})
	r := httptest.NewRequest("POST", "/v1/sessions/authenticate", strings.NewReader(`{"session_token":"`+token+`"}`))
	r.Header.Set("Content-Type", "application/json")
	r.SetBasicAuth(project, secret)
	w := httptest.NewRecorder()
	st.ServeHTTP(w, r)
	if w.Code != http.StatusOK || !strings.Contains(w.Body.String(), `"user_id":"user-1"`) {
		t.Errorf("stytch: %d %s", w.Code, w.Body)
	}

	ba := NewBetterAuthAPI(nil)
	ba.AddSession(token, User{ID: "user-2"})
	for name, set := range map[string]func(*http.Request){
		"cookie": func(r *http.Request) {
			r.AddCookie(&http.Cookie{Name: "__Secure-better-auth.session_token", Value: token})
		},
		"bearer":        func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+token) },
		"unknown token": func(r *http.Request) { r.Header.Set("Authorization", "Bearer unknown") },
	} {
		r := httptest.NewRequest("GET", "/api/auth/get-session?disableCookieCache=true&disableRefresh=true", nil)
		set(r)
		w := httptest.NewRecorder()
		ba.ServeHTTP(w, r)
		b, _ := io.ReadAll(w.Body)
		want := `"userId":"user-2"`
		if name == "unknown token" {
			want = "null"
		}
		if w.Code != http.StatusOK || !strings.Contains(string(b), want) {
			t.Errorf("better-auth %s: %d %s, want 200 with %s", name, w.Code, b, want)
		}
	}
	if v := append(st.Violations(), ba.Violations()...); len(v) != 0 {
		t.Errorf("violations recorded for correct requests: %q", v)
	}
	if st.Calls() != 1 || ba.Calls() != 3 {
		t.Errorf("calls stytch=%d better-auth=%d, want 1 and 3", st.Calls(), ba.Calls())
	}
}

// Wrong Stytch project credentials are Stytch's own 401, not a protocol violation.
func TestStytchAPIAnswersWrongCredentialsLikeStytch(t *testing.T) {
	st := NewStytchAPI("project-test-1", "secret-test-1", nil)
	r := httptest.NewRequest("POST", "/v1/sessions/authenticate", strings.NewReader(`{"session_token":"t"}`))
	r.Header.Set("Content-Type", "application/json")
	r.SetBasicAuth("project-test-1", "wrong")
	w := httptest.NewRecorder()
	st.ServeHTTP(w, r)
	if w.Code != http.StatusUnauthorized || !strings.Contains(w.Body.String(), "unauthorized_credentials") {
		t.Errorf("%d %s, want 401 unauthorized_credentials", w.Code, w.Body)
	}
	if v := st.Violations(); len(v) != 0 {
		t.Errorf("violations %q", v)
	}
}

// The discovery document names where it is served as the issuer (origin plus
// mount prefix) and points at the JWKS beside it, until SetDiscoveryIssuer.
func TestIssuerDiscoveryNamesItsMountPoint(t *testing.T) {
	iss, err := NewIssuer("RS256")
	if err != nil {
		t.Fatal(err)
	}
	get := func() map[string]any {
		w := httptest.NewRecorder()
		iss.ServeHTTP(w, httptest.NewRequest("GET", "http://idp.test/tenant/.well-known/openid-configuration", nil))
		var doc map[string]any
		if err := json.Unmarshal(w.Body.Bytes(), &doc); err != nil {
			t.Fatalf("%d %s: %v", w.Code, w.Body, err)
		}
		return doc
	}
	doc := get()
	if doc["issuer"] != "http://idp.test/tenant" || doc["jwks_uri"] != "http://idp.test/tenant/jwks" {
		t.Errorf("issuer %v jwks_uri %v", doc["issuer"], doc["jwks_uri"])
	}
	iss.SetDiscoveryIssuer("https://other.example/")
	if doc := get(); doc["issuer"] != "https://other.example/" {
		t.Errorf("issuer %v after SetDiscoveryIssuer", doc["issuer"])
	}
	if iss.DiscoveryFetches.Load() != 2 || iss.Fetches.Load() != 0 {
		t.Errorf("discovery fetches %d, JWKS fetches %d", iss.DiscoveryFetches.Load(), iss.Fetches.Load())
	}
	if _, err := NewIssuer("HS256"); err == nil {
		t.Error("NewIssuer accepted HS256")
	}
}
