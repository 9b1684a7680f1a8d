package localidentity

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/insforge/edge-functions-go/shared/httpapi"
)

// User is a provider user behind a session.
type User struct {
	ID            string
	Email         string
	EmailVerified bool
	// ExpiresAt is when the session ends; zero means in a week (Better Auth's
	// default session lifetime), far beyond any TOKEN_TTL.
	ExpiresAt time.Time
	// ImpersonatedBy is the admin who started the session as this user (Better
	// Auth's admin plugin); empty for an ordinary session.
	ImpersonatedBy string
}

func (u User) expiresAt() time.Time {
	if u.ExpiresAt.IsZero() {
		return time.Now().Add(7 * 24 * time.Hour)
	}
	return u.ExpiresAt
}

// strict collects protocol violations: each is answered 400 and recorded, so a
// test (identitytest) or the runner can report it.
type strict struct {
	mu         sync.Mutex
	violations []string
}

func (s *strict) violate(w http.ResponseWriter, format string, args ...any) {
	s.mu.Lock()
	s.violations = append(s.violations, fmt.Sprintf(format, args...))
	s.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusBadRequest)
	_, _ = io.WriteString(w, `{"status_code":400,"error_type":"fake_protocol_violation","error_message":"see test log"}`)
}

// Violations returns the protocol violations seen so far.
func (s *strict) Violations() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.violations...)
}

// Mode makes a fake misbehave.
type Mode int32

// Modes.
const (
	Up      Mode = iota
	Down         // 503
	Slow         // sleeps past any sane client timeout
	Garbage      // 200 with a body that is not JSON
	Huge         // 200 with a body over 1 MiB
)

func misbehave(w http.ResponseWriter, r *http.Request, m Mode) bool {
	switch m {
	case Down:
		http.Error(w, "unavailable", http.StatusServiceUnavailable)
	case Slow:
		// Read the body first: the server notices a client that gave up only once
		// the request body is consumed.
		_, _ = io.Copy(io.Discard, r.Body)
		select {
		case <-r.Context().Done():
		case <-time.After(10 * time.Second):
		}
	case Garbage:
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, "<html>oops</html>")
	case Huge:
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"pad":"`+strings.Repeat("a", 2<<20)+`"}`)
	default:
		return false
	}
	return true
}

// sessionFake is what both provider-API fakes share: strictness, a call count,
// scripted misbehaviour and the sessions they know.
type sessionFake struct {
	strict
	// ForgetExpired makes a session past its ExpiresAt unknown, as Stytch and Better
	// Auth treat it. Off, the emulation reports the past expiry as it is (a provider
	// the bridge must not trust blindly).
	ForgetExpired bool

	calls    atomic.Int64
	mode     atomic.Int32
	sessMu   sync.Mutex
	sessions map[string]User
}

// Calls is the number of session lookups the fake has received.
func (f *sessionFake) Calls() int64 { return f.calls.Load() }

// SetMode makes the fake misbehave (Up restores it).
func (f *sessionFake) SetMode(m Mode) { f.mode.Store(int32(m)) }

// AddSession registers an active session under the credential value the client
// holds (Stytch: the session token; Better Auth: the signed, URL-encoded cookie
// value or the bearer token).
func (f *sessionFake) AddSession(value string, u User) {
	f.sessMu.Lock()
	defer f.sessMu.Unlock()
	if f.sessions == nil {
		f.sessions = map[string]User{}
	}
	f.sessions[value] = u
}

func (f *sessionFake) session(value string) (User, bool) {
	f.sessMu.Lock()
	defer f.sessMu.Unlock()
	u, ok := f.sessions[value]
	if ok && f.ForgetExpired && !u.ExpiresAt.IsZero() && time.Now().After(u.ExpiresAt) {
		return User{}, false
	}
	return u, ok
}

// lookup counts a session lookup and answers it first when it is not one: another
// path or method is a violation, and a scripted misbehaviour wins over the rest.
// It reports whether the request is left for the fake to answer.
func (f *sessionFake) lookup(w http.ResponseWriter, r *http.Request, method, path string) bool {
	f.calls.Add(1)
	if r.URL.Path != path {
		f.violate(w, "unexpected path %s", r.URL.Path)
		return false
	}
	if misbehave(w, r, Mode(f.mode.Load())) {
		return false
	}
	if r.Method != method {
		f.violate(w, "method %s, want %s", r.Method, method)
		return false
	}
	return true
}

// StytchAPI is a strict emulation of Stytch's consumer API (an http.Handler): POST
// /v1/sessions/authenticate with Basic project_id:secret and exactly
// {"session_token": …} (session_duration_minutes would extend the session and is
// a violation), and the project JWKS at /v1/sessions/jwks/<project_id>.
type StytchAPI struct {
	sessionFake
	ProjectID, Secret string
	Issuer            *Issuer
}

// NewStytchAPI returns the emulation; iss (optional) serves the JWKS.
func NewStytchAPI(projectID, secret string, iss *Issuer) *StytchAPI {
	return &StytchAPI{ProjectID: projectID, Secret: secret, Issuer: iss}
}

// ServeHTTP answers the session check and, with an Issuer, the project JWKS.
func (s *StytchAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if s.Issuer != nil && r.URL.Path == "/v1/sessions/jwks/"+s.ProjectID {
		s.Issuer.ServeHTTP(w, r)
		return
	}
	if !s.lookup(w, r, http.MethodPost, "/v1/sessions/authenticate") {
		return
	}
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		s.violate(w, "content-type %q", ct)
		return
	}
	user, pass, ok := r.BasicAuth()
	if !ok || user != s.ProjectID || pass != s.Secret {
		httpapi.WriteJSON(w, http.StatusUnauthorized, map[string]any{"status_code": 401, "error_type": "unauthorized_credentials",
			"error_message": "Unauthorized credentials."})
		return
	}
	var body map[string]json.RawMessage
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<16)).Decode(&body); err != nil {
		s.violate(w, "body is not a JSON object: %v", err)
		return
	}
	if _, ok := body["session_duration_minutes"]; ok {
		s.violate(w, "session_duration_minutes sent: it would extend the session")
		return
	}
	var token string
	if len(body) != 1 || json.Unmarshal(body["session_token"], &token) != nil || token == "" {
		s.violate(w, "body must be exactly {\"session_token\": string}, got keys %v", slices.Sorted(maps.Keys(body)))
		return
	}
	u, ok := s.session(token)
	if !ok {
		httpapi.WriteJSON(w, http.StatusNotFound, map[string]any{"status_code": 404, "request_id": "request-id-test-1",
			"error_type": "session_not_found", "error_message": "Session could not be found.",
			"error_url": "https://stytch.com/docs/api/errors/404#session_not_found"})
		return
	}
	emails := []map[string]any{}
	if u.Email != "" {
		emails = append(emails, map[string]any{"email_id": "email-test-1", "email": u.Email, "verified": u.EmailVerified})
	}
	httpapi.WriteJSON(w, http.StatusOK, map[string]any{
		"status_code": 200, "request_id": "request-id-test-2",
		"session": map[string]any{"session_id": "session-test-1", "user_id": u.ID, "authentication_factors": []any{},
			"roles": []string{"stytch_member"}, "expires_at": u.expiresAt().UTC().Format(time.RFC3339)},
		"session_token": token,
		"session_jwt":   "",
		"user":          map[string]any{"user_id": u.ID, "emails": emails, "status": "active"},
	})
}

// BetterAuthAPI is a strict emulation of a Better Auth server (an http.Handler): GET
// /api/auth/get-session with exactly one credential (the session cookie or a bearer
// token), answering the session or null; and the jwt() plugin JWKS at /api/auth/jwks.
type BetterAuthAPI struct {
	sessionFake
	Issuer *Issuer
	// BasePath (default /api/auth) and CookiePrefix (default better-auth) mirror
	// Better Auth's basePath and advanced.cookiePrefix; set them before use.
	BasePath, CookiePrefix string
	// Secret, when set, is Better Auth's secret: the session cookie must then be
	// signed as Better Auth signs it (SignCookie) and a bearer may be the token or
	// its signed form; sessions are registered under the bare token. Unset, a
	// session is registered under the exact value the client sends.
	Secret []byte
}

// SignCookie is the session cookie value Better Auth sets for token:
// "<token>.<base64 HMAC-SHA256(secret, token)>", URL-encoded.
func (b *BetterAuthAPI) SignCookie(token string) string {
	return url.QueryEscape(token + "." + b.sign(token))
}

func (b *BetterAuthAPI) sign(token string) string {
	m := hmac.New(sha256.New, b.Secret)
	m.Write([]byte(token))
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}

// unsign splits "token.signature" at the last dot and checks the signature.
func (b *BetterAuthAPI) unsign(v string) (string, bool) {
	i := strings.LastIndex(v, ".")
	if i < 0 || len(v)-i-1 != 44 {
		return "", false
	}
	tok, sig := v[:i], v[i+1:]
	return tok, hmac.Equal([]byte(sig), []byte(b.sign(tok)))
}

// NewBetterAuthAPI returns the emulation; iss (optional) serves the JWKS.
func NewBetterAuthAPI(iss *Issuer) *BetterAuthAPI {
	return &BetterAuthAPI{Issuer: iss, BasePath: "/api/auth", CookiePrefix: "better-auth"}
}

// ServeHTTP answers get-session and, with an Issuer, the jwt() plugin JWKS.
func (b *BetterAuthAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if b.Issuer != nil && r.URL.Path == b.BasePath+"/jwks" {
		b.Issuer.ServeHTTP(w, r)
		return
	}
	if !b.lookup(w, r, http.MethodGet, b.BasePath+"/get-session") {
		return
	}
	if r.URL.Query().Get("disableCookieCache") != "true" {
		b.violate(w, "disableCookieCache=true missing: a cached cookie could outlive a revoked session")
		return
	}
	if r.URL.Query().Get("disableRefresh") != "true" {
		b.violate(w, "disableRefresh=true missing: checking a session would extend it")
		return
	}
	cookies := r.Cookies()
	auth := r.Header.Get("Authorization")
	var value string
	switch {
	case len(cookies) > 0 && auth != "":
		b.violate(w, "both a cookie and an Authorization header were forwarded")
		return
	case len(cookies) > 1:
		b.violate(w, "more than the session cookie was forwarded: %d cookies", len(cookies))
		return
	case len(cookies) == 1:
		name := cookies[0].Name
		if name != b.CookiePrefix+".session_token" && name != "__Secure-"+b.CookiePrefix+".session_token" {
			b.violate(w, "unexpected cookie %q forwarded", name)
			return
		}
		value = cookies[0].Value
		if b.Secret != nil {
			v, _ := url.QueryUnescape(value)
			if tok, ok := b.unsign(v); ok {
				value = tok
			} else {
				value = "" // an unsigned or tampered cookie is no session
			}
		}
	case strings.HasPrefix(auth, "Bearer "):
		value = strings.TrimPrefix(auth, "Bearer ")
		if tok, ok := b.unsign(value); ok && b.Secret != nil {
			value = tok
		}
	default:
		b.violate(w, "no credential forwarded")
		return
	}
	u, ok := b.session(value)
	w.Header().Set("Cache-Control", "no-store")
	if !ok {
		httpapi.WriteJSON(w, http.StatusOK, nil) // Better Auth answers null when signed out
		return
	}
	now := time.Now().UTC().Format(time.RFC3339)
	httpapi.WriteJSON(w, http.StatusOK, map[string]any{
		"session": map[string]any{"id": "sess_1", "token": "tok", "userId": u.ID, "impersonatedBy": nullable(u.ImpersonatedBy),
			"expiresAt": u.expiresAt().UTC().Format("2006-01-02T15:04:05.000Z07:00"), "createdAt": now,
			"updatedAt": now, "ipAddress": "", "userAgent": ""},
		"user": map[string]any{"id": u.ID, "name": "Test", "email": u.Email, "emailVerified": u.EmailVerified,
			"image": nil, "createdAt": now, "updatedAt": now, "role": "project_admin"},
	})
}

// nullable is nil for "" (Better Auth answers null for an unset optional field).
func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}
