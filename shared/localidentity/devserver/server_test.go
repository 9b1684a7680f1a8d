package devserver

import (
	"context"
	"encoding/json"
	"net/http"
	neturl "net/url"
	"strings"
	"testing"
	"time"

	"github.com/MicahParks/keyfunc/v3"
	"github.com/golang-jwt/jwt/v5"

	"github.com/insforge/edge-functions-go/shared/identity"
)

func start(t *testing.T) *Server {
	t.Helper()
	is, err := Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = is.Close() })
	return is
}

func TestStartRefusesNonLoopback(t *testing.T) {
	if _, err := Start("0.0.0.0:0"); err == nil {
		t.Fatal("dev issuer listened on a non-loopback address")
	}
}

// Every JWT verifies against the JWKS URL the bridge is given, with the issuer,
// audience and algorithm that provider uses.
func TestJWTsVerifyAgainstTheJWKSTheBridgeIsGiven(t *testing.T) {
	is := start(t)
	type jwtCase struct {
		provider, jwksVar, alg, iss string
		aud                         string
	}
	// Every declared bridge, from its declaration: the issuer and audience are
	// what its variables say; a bridge with no variable for them (Stytch) pins
	// them from the project id.
	var cases []jwtCase
	for _, b := range identity.Bridges {
		env := is.Env(b.Slug)
		tc := jwtCase{provider: b.Slug, alg: b.Alg, iss: env[b.IssuerVar], aud: env[b.AudienceVar]}
		if _, ok := env[b.JWKSVar]; ok {
			tc.jwksVar = b.JWKSVar // else discovered from the issuer
		}
		if b.Slug == "stytch" {
			tc.iss, tc.aud = "stytch.com/"+StytchProjectID, StytchProjectID
		}
		cases = append(cases, tc)
	}
	if len(cases) < 7 {
		t.Fatalf("%d declared bridges", len(cases))
	}
	for _, tc := range cases {
		t.Run(tc.provider, func(t *testing.T) {
			tok, err := is.Credential(tc.provider, "user_1", "jwt", time.Minute)
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			jwks := is.Env(tc.provider)[tc.jwksVar]
			if tc.jwksVar == "" {
				jwks = discover(t, tc.iss)
			}
			kf, err := keyfunc.NewDefaultCtx(ctx, []string{jwks})
			if err != nil {
				t.Fatal(err)
			}
			opts := []jwt.ParserOption{jwt.WithValidMethods([]string{tc.alg}), jwt.WithIssuer(tc.iss), jwt.WithExpirationRequired()}
			if tc.aud != "" {
				opts = append(opts, jwt.WithAudience(tc.aud))
			}
			claims := jwt.MapClaims{}
			if _, err := jwt.ParseWithClaims(tok, claims, kf.Keyfunc, opts...); err != nil {
				t.Fatalf("token does not verify as %s would: %v", tc.provider, err)
			}
			if claims["sub"] != "user_1" {
				t.Errorf("sub = %v", claims["sub"])
			}
			if tc.provider == "clerk" && claims["azp"] != is.Env("clerk")["CLERK_AUTHORIZED_PARTIES"] {
				t.Errorf("clerk azp = %v", claims["azp"])
			}
		})
	}
}

// discover reads jwks_uri from the issuer's discovery document, checking that it
// names the same issuer (what the OIDC bridge requires).
func discover(t *testing.T, iss string) string {
	t.Helper()
	res, err := http.Get(iss + "/.well-known/openid-configuration")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var doc struct {
		Issuer  string `json:"issuer"`
		JWKSURI string `json:"jwks_uri"`
	}
	if err := json.NewDecoder(res.Body).Decode(&doc); err != nil || doc.Issuer != iss || doc.JWKSURI == "" {
		t.Fatalf("discovery document %+v (%v), want issuer %s and a jwks_uri", doc, err, iss)
	}
	return doc.JWKSURI
}

func post(t *testing.T, url, user, pass, body string) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if user != "" {
		req.SetBasicAuth(user, pass)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(res.Body).Decode(&out)
	return res.StatusCode, out
}

func TestStytchAuthenticateIsStrict(t *testing.T) {
	is := start(t)
	env := is.Env("stytch")
	url := env["STYTCH_API_URL"] + "/v1/sessions/authenticate"
	tok, _ := is.Credential("stytch", "user-test-1", "session", time.Minute)
	expired, _ := is.Credential("stytch", "user-test-3", "session", time.Nanosecond)
	sj, _ := is.Credential("stytch", "user-test-2", "jwt", time.Minute)
	pid, secret := env["STYTCH_PROJECT_ID"], env["STYTCH_SECRET"]
	cases := []struct {
		name, user, pass, body string
		status                 int
		errType, userID        string
	}{
		{"session token", pid, secret, `{"session_token":"` + tok + `"}`, 200, "", "user-test-1"},
		{"no basic auth", "", "", `{"session_token":"` + tok + `"}`, 401, "unauthorized_credentials", ""},
		{"wrong secret", pid, "secret-test-wrong", `{"session_token":"` + tok + `"}`, 401, "unauthorized_credentials", ""},
		{"unknown session", pid, secret, `{"session_token":"nope"}`, 404, "session_not_found", ""},
		{"expired session", pid, secret, `{"session_token":"` + expired + `"}`, 404, "session_not_found", ""},
		// What a bridge must never send is a protocol violation, answered 400 and
		// recorded: the bridge only checks a session_token, never extends it.
		{"extends the session", pid, secret, `{"session_token":"` + tok + `","session_duration_minutes":60}`, 400, "fake_protocol_violation", ""},
		{"both credentials", pid, secret, `{"session_token":"` + tok + `","session_jwt":"` + sj + `"}`, 400, "fake_protocol_violation", ""},
		{"session jwt", pid, secret, `{"session_jwt":"` + sj + `"}`, 400, "fake_protocol_violation", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			status, out := post(t, url, tc.user, tc.pass, tc.body)
			if status != tc.status {
				t.Fatalf("status %d, want %d (%v)", status, tc.status, out)
			}
			if tc.errType != "" && out["error_type"] != tc.errType {
				t.Errorf("error_type %v, want %s", out["error_type"], tc.errType)
			}
			if tc.userID != "" {
				s, _ := out["session"].(map[string]any)
				if s["user_id"] != tc.userID {
					t.Errorf("session.user_id = %v, want %s", s["user_id"], tc.userID)
				}
			}
		})
	}
	if v := is.Violations(); len(v) != 3 {
		t.Errorf("violations %q, want the 3 refused bodies", v)
	}
}

func TestBetterAuthGetSession(t *testing.T) {
	is := start(t)
	// The query the bridge sends: no cookie cache, no refresh.
	url := is.Env("better-auth")["BETTER_AUTH_URL"] + "/api/auth/get-session?disableCookieCache=true&disableRefresh=true"
	raw, _ := is.Credential("better-auth", "ba_user", "session", time.Minute)
	expired, _ := is.Credential("better-auth", "ba_expired", "cookie", time.Nanosecond)
	cookie, _ := is.Credential("better-auth", "ba_cookie", "cookie", time.Minute)
	name, value, _ := strings.Cut(cookie, "=")
	cases := []struct {
		name   string
		set    func(*http.Request)
		userID string // "" = signed out (null body)
		status int    // 0 = 200
	}{
		{"bearer session token", func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+raw) }, "ba_user", 0},
		{"signed cookie", func(r *http.Request) { r.AddCookie(&http.Cookie{Name: name, Value: value}) }, "ba_cookie", 0},
		{"secure cookie name", func(r *http.Request) { r.AddCookie(&http.Cookie{Name: "__Secure-" + name, Value: value}) }, "ba_cookie", 0},
		{"tampered cookie", func(r *http.Request) {
			r.AddCookie(&http.Cookie{Name: name, Value: "x" + value})
		}, "", 0},
		{"unsigned token in cookie", func(r *http.Request) { r.AddCookie(&http.Cookie{Name: name, Value: raw}) }, "", 0},
		{"expired session", func(r *http.Request) {
			_, v, _ := strings.Cut(expired, "=")
			r.AddCookie(&http.Cookie{Name: name, Value: v})
		}, "", 0},
		{"signed bearer", func(r *http.Request) {
			v, _ := neturl.QueryUnescape(value)
			r.Header.Set("Authorization", "Bearer "+v)
		}, "ba_cookie", 0},
		// A bridge always forwards a credential; none is a protocol violation.
		{"nothing", func(*http.Request) {}, "", http.StatusBadRequest},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodGet, url, nil)
			tc.set(req)
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer res.Body.Close()
			var out map[string]map[string]any
			_ = json.NewDecoder(res.Body).Decode(&out)
			if tc.status != 0 {
				if res.StatusCode != tc.status {
					t.Fatalf("status %d, want %d", res.StatusCode, tc.status)
				}
				return
			}
			if res.StatusCode != 200 || res.Header.Get("Cache-Control") != "no-store" {
				t.Fatalf("status %d cache-control %q", res.StatusCode, res.Header.Get("Cache-Control"))
			}
			got := ""
			if out != nil {
				got, _ = out["user"]["id"].(string)
			}
			if got != tc.userID {
				t.Errorf("user = %q, want %q (body %v)", got, tc.userID, out)
			}
		})
	}
}

func TestCredentialKindsArePerProvider(t *testing.T) {
	is := start(t)
	for _, bad := range [][2]string{{"clerk", "session"}, {"workos", "cookie"}, {"nope", "jwt"}} {
		if _, err := is.Credential(bad[0], "u", bad[1], time.Minute); err == nil {
			t.Errorf("%s/%s accepted", bad[0], bad[1])
		}
	}
}
