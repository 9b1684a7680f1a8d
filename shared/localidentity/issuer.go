// Package localidentity is the local runner's built-in identity provider: one loopback
// server that publishes a JWKS for every JWT provider the bridges support and mints
// credentials in each provider's shape (issuer, audience, claims, algorithm), plus
// strict emulations of Stytch's sessions/authenticate and Better Auth's get-session.
//
// The bridges need no development code path: the runner points their ordinary
// *_JWKS_URL / *_ISSUER / *_API_URL variables at this server (Env), and
// config.CheckURL accepts plain http only for loopback hosts, so a deployed function
// can never be pointed at it by accident.
package localidentity

import (
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/insforge/edge-functions-go/shared/httpapi"
)

// Providers lists the providers in the order the banner shows them.
var Providers = []string{"workos", "kinde", "auth0", "stytch", "better-auth", "clerk", "oidc"}

// Dev identifiers. They only mean something to this issuer.
const (
	WorkOSClientID     = "client_01DEVINSFORGE0000000000"
	KindeAudience      = "insforge-dev-api"
	Auth0Audience      = "insforge-dev-api"
	StytchProjectID    = "project-test-00000000-0000-4000-8000-000000000000"
	ClerkAuthorizedApp = "http://localhost:5173"
	OIDCClientID       = "insforge-dev-client"
	// DefaultTTL keeps dev credentials usable while copy-pasting commands.
	DefaultTTL = 10 * time.Minute
)

// Server is a running dev identity provider.
type Server struct {
	URL string // http://127.0.0.1:<port>, no trailing slash

	rsaKey   *rsa.PrivateKey
	rsaKid   string
	edKey    ed25519.PrivateKey
	edKid    string
	stytchSK string // STYTCH_SECRET the Stytch emulation expects
	baSecret []byte // Better Auth cookie signing secret

	srv *http.Server
	ln  net.Listener

	mu       sync.Mutex
	stytch   map[string]session // session_token → session
	sessions map[string]session // Better Auth session token → session
}

type session struct {
	ID, UserID, Email string
	Started, Expires  time.Time
}

// Start listens on addr (use "127.0.0.1:0" for an ephemeral port). Only loopback
// addresses are accepted.
func Start(addr string) (*Server, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("dev issuer address %q: %w", addr, err)
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return nil, fmt.Errorf("dev issuer must listen on a loopback address, got %q", addr)
	}
	rk, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, err
	}
	_, ek, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("dev issuer: %w", err)
	}
	is := &Server{
		URL:    "http://" + ln.Addr().String(),
		rsaKey: rk, rsaKid: "dev-rsa-" + randHex(4),
		edKey: ek, edKid: "dev-ed25519-" + randHex(4),
		stytchSK: "secret-test-" + randHex(16),
		baSecret: []byte(randHex(32)),
		ln:       ln,
		stytch:   map[string]session{}, sessions: map[string]session{},
	}
	is.srv = &http.Server{Handler: is.routes(), ReadHeaderTimeout: 5 * time.Second, MaxHeaderBytes: 64 << 10}
	go func() { _ = is.srv.Serve(ln) }()
	return is, nil
}

// Close stops the server.
func (is *Server) Close() error { return is.srv.Close() }

// Env returns the variables that point provider's bridge at this issuer.
func (is *Server) Env(provider string) map[string]string {
	b := is.URL
	switch provider {
	case "workos":
		return map[string]string{
			"WORKOS_CLIENT_ID": WorkOSClientID,
			"WORKOS_JWKS_URL":  b + "/workos/sso/jwks/" + WorkOSClientID,
			"WORKOS_ISSUERS":   is.issuer("workos"),
		}
	case "kinde":
		return map[string]string{
			"KINDE_ISSUER_URL": is.issuer("kinde"),
			"KINDE_JWKS_URL":   b + "/kinde/.well-known/jwks",
			"KINDE_AUDIENCE":   KindeAudience,
		}
	case "auth0":
		return map[string]string{
			"AUTH0_DOMAIN":   "localhost",
			"AUTH0_AUDIENCE": Auth0Audience,
			"AUTH0_ISSUER":   is.issuer("auth0"),
			"AUTH0_JWKS_URL": b + "/auth0/.well-known/jwks.json",
		}
	case "stytch":
		return map[string]string{
			"STYTCH_PROJECT_ID": StytchProjectID,
			"STYTCH_SECRET":     is.stytchSK,
			"STYTCH_API_URL":    b + "/stytch",
			"STYTCH_JWKS_URL":   b + "/stytch/v1/sessions/jwks/" + StytchProjectID,
		}
	case "better-auth":
		return map[string]string{
			"BETTER_AUTH_URL":      b + "/better-auth",
			"BETTER_AUTH_JWKS_URL": b + "/better-auth/api/auth/jwks",
			"BETTER_AUTH_ISSUER":   is.issuer("better-auth"),
			"BETTER_AUTH_AUDIENCE": is.issuer("better-auth"),
		}
	case "clerk":
		return map[string]string{
			"CLERK_ISSUER":             is.issuer("clerk"),
			"CLERK_JWKS_URL":           b + "/clerk/.well-known/jwks.json",
			"CLERK_AUTHORIZED_PARTIES": ClerkAuthorizedApp,
		}
	case "oidc":
		// No OIDC_JWKS_URL: the bridge discovers it, as it does with a real issuer.
		return map[string]string{
			"OIDC_ISSUER":   is.issuer("oidc"),
			"OIDC_AUDIENCE": OIDCClientID,
		}
	}
	return nil
}

// PrimaryVar is the variable that, when the developer sets it, means "use the real
// provider": the runner then leaves that provider's variables alone.
func PrimaryVar(provider string) string {
	return map[string]string{
		"workos": "WORKOS_CLIENT_ID", "kinde": "KINDE_ISSUER_URL", "auth0": "AUTH0_DOMAIN",
		"stytch": "STYTCH_PROJECT_ID", "better-auth": "BETTER_AUTH_URL", "clerk": "CLERK_ISSUER", "oidc": "OIDC_ISSUER",
	}[provider]
}

func (is *Server) issuer(provider string) string {
	switch provider {
	case "workos":
		return is.URL + "/workos/user_management/" + WorkOSClientID
	case "kinde":
		return is.URL + "/kinde"
	case "auth0":
		return is.URL + "/auth0/" // Auth0 issuers end with a slash
	case "stytch":
		return "stytch.com/" + StytchProjectID
	case "better-auth":
		return is.URL // Better Auth's jwt() plugin uses the origin of BETTER_AUTH_URL
	case "clerk":
		return is.URL + "/clerk"
	case "oidc":
		return is.URL + "/oidc"
	}
	return ""
}

// Credential mints a credential for user in provider's shape. kind is "jwt" (every
// provider), "session" (Stytch session_token, Better Auth bearer session token) or
// "cookie" (Better Auth signed session cookie, as "name=value").
func (is *Server) Credential(provider, user, kind string, ttl time.Duration) (string, error) {
	if user == "" || len(user) > 256 {
		return "", fmt.Errorf("user id must be 1..256 characters")
	}
	if ttl <= 0 {
		ttl = DefaultTTL
	}
	if kind == "" {
		kind = "jwt"
	}
	now := time.Now()
	switch {
	case kind == "jwt":
		return is.jwt(provider, user, now, ttl)
	case kind == "session" && provider == "stytch":
		tok := randToken(44)
		is.mu.Lock()
		is.stytch[tok] = session{ID: "session-test-" + uuid(), UserID: user, Email: email(user), Started: now, Expires: now.Add(ttl)}
		is.mu.Unlock()
		return tok, nil
	case (kind == "session" || kind == "cookie") && provider == "better-auth":
		tok := randToken(32)
		is.mu.Lock()
		is.sessions[tok] = session{ID: randToken(32), UserID: user, Email: email(user), Started: now, Expires: now.Add(ttl)}
		is.mu.Unlock()
		if kind == "session" {
			return tok, nil
		}
		return "better-auth.session_token=" + url.QueryEscape(tok+"."+is.baSign(tok)), nil
	}
	return "", fmt.Errorf("provider %q has no credential kind %q (jwt for all; session for stytch and better-auth; cookie for better-auth)", provider, kind)
}

func (is *Server) jwt(provider, user string, now time.Time, ttl time.Duration) (string, error) {
	c := jwt.MapClaims{"sub": user, "iat": now.Unix(), "exp": now.Add(ttl).Unix(), "jti": randHex(12)}
	method := jwt.SigningMethodRS256
	var key any = is.rsaKey
	kid := is.rsaKid
	switch provider {
	case "workos":
		c["iss"] = is.issuer(provider)
		c["sid"] = "session_01" + strings.ToUpper(randHex(12))
		c["org_id"] = "org_01DEV"
		c["role"] = "member" // WorkOS sends a role; bridges must never copy it
		c["permissions"] = []string{}
	case "kinde":
		c["iss"] = is.issuer(provider)
		c["aud"] = []string{KindeAudience}
		c["azp"] = "dev-kinde-client"
		c["scp"] = []string{"openid", "profile", "email", "offline"}
		c["org_code"] = "org_dev"
	case "auth0":
		c["iss"] = is.issuer(provider)
		c["aud"] = []string{Auth0Audience, is.issuer(provider) + "userinfo"}
		c["azp"] = "dev-auth0-client"
		c["scope"] = "openid profile email"
	case "stytch":
		c["iss"] = is.issuer(provider)
		c["aud"] = []string{StytchProjectID}
		c["nbf"] = now.Unix()
		c["https://stytch.com/session"] = map[string]any{
			"id": "session-test-" + uuid(), "started_at": now.UTC().Format(time.RFC3339),
			"last_accessed_at": now.UTC().Format(time.RFC3339), "expires_at": now.Add(ttl).UTC().Format(time.RFC3339),
			"attributes": map[string]string{"ip_address": "127.0.0.1", "user_agent": "dev"},
			"authentication_factors": []map[string]any{{"type": "magic_link", "delivery_method": "email",
				"email_factor": map[string]string{"email_address": email(user)}}},
			"roles": []string{"stytch_user"},
		}
	case "better-auth":
		method, key, kid = nil, is.edKey, is.edKid
		c["iss"] = is.issuer(provider)
		c["aud"] = is.issuer(provider)
		c["id"] = user
		c["name"] = user
		c["email"] = email(user)
		c["emailVerified"] = true
		c["image"] = nil
		c["createdAt"] = now.Add(-24 * time.Hour).UTC().Format(time.RFC3339)
		c["updatedAt"] = now.UTC().Format(time.RFC3339)
	case "clerk":
		c["iss"] = is.issuer(provider)
		c["azp"] = ClerkAuthorizedApp
		c["sid"] = "sess_" + randHex(12)
		c["nbf"] = now.Add(-5 * time.Second).Unix()
		c["v"] = 2
		c["fva"] = []int{0, -1}
	case "oidc":
		// A standard OpenID Connect ID token (Core 1.0 section 2).
		c["iss"] = is.issuer(provider)
		c["aud"] = OIDCClientID
		c["azp"] = OIDCClientID
		c["auth_time"] = now.Unix()
		c["email"] = email(user)
		c["email_verified"] = true
	default:
		return "", fmt.Errorf("unknown provider %q (one of %s)", provider, strings.Join(Providers, ", "))
	}
	var t *jwt.Token
	if method == nil {
		t = jwt.NewWithClaims(jwt.SigningMethodEdDSA, c)
	} else {
		t = jwt.NewWithClaims(method, c)
	}
	t.Header["kid"] = kid
	return t.SignedString(key)
}

func (is *Server) routes() http.Handler {
	mux := http.NewServeMux()
	rsaJWKS := is.jwks(false)
	edJWKS := is.jwks(true)
	mux.HandleFunc("GET /workos/sso/jwks/{client}", func(w http.ResponseWriter, r *http.Request) {
		if r.PathValue("client") != WorkOSClientID {
			httpapi.WriteJSON(w, http.StatusNotFound, map[string]string{"message": "unknown client id"})
			return
		}
		httpapi.WriteJSON(w, 200, rsaJWKS)
	})
	mux.HandleFunc("GET /kinde/.well-known/jwks", func(w http.ResponseWriter, r *http.Request) { httpapi.WriteJSON(w, 200, rsaJWKS) })
	mux.HandleFunc("GET /auth0/.well-known/jwks.json", func(w http.ResponseWriter, r *http.Request) { httpapi.WriteJSON(w, 200, rsaJWKS) })
	mux.HandleFunc("GET /clerk/.well-known/jwks.json", func(w http.ResponseWriter, r *http.Request) { httpapi.WriteJSON(w, 200, rsaJWKS) })
	mux.HandleFunc("GET /stytch/v1/sessions/jwks/{project}", func(w http.ResponseWriter, r *http.Request) {
		if r.PathValue("project") != StytchProjectID {
			stytchError(w, http.StatusNotFound, "project_not_found", "Project could not be found.")
			return
		}
		httpapi.WriteJSON(w, 200, map[string]any{"keys": rsaJWKS["keys"], "status_code": 200, "request_id": "request-id-test-" + uuid()})
	})
	mux.HandleFunc("GET /oidc/.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		iss := is.issuer("oidc")
		httpapi.WriteJSON(w, 200, map[string]any{
			"issuer": iss, "jwks_uri": iss + "/jwks", "authorization_endpoint": iss + "/authorize",
			"response_types_supported": []string{"code"}, "subject_types_supported": []string{"public"},
			"id_token_signing_alg_values_supported": []string{"RS256"},
		})
	})
	mux.HandleFunc("GET /oidc/jwks", func(w http.ResponseWriter, r *http.Request) { httpapi.WriteJSON(w, 200, rsaJWKS) })
	mux.HandleFunc("POST /stytch/v1/sessions/authenticate", is.stytchAuthenticate)
	mux.HandleFunc("GET /better-auth/api/auth/jwks", func(w http.ResponseWriter, r *http.Request) { httpapi.WriteJSON(w, 200, edJWKS) })
	mux.HandleFunc("GET /better-auth/api/auth/get-session", is.getSession)
	mux.HandleFunc("GET /dev/token", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		ttl, _ := time.ParseDuration(q.Get("ttl"))
		cred, err := is.Credential(q.Get("provider"), q.Get("sub"), q.Get("kind"), ttl)
		if err != nil {
			httpapi.WriteJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid_request", "message": err.Error()})
			return
		}
		httpapi.WriteJSON(w, 200, map[string]string{"credential": cred})
	})
	return mux
}

// stytchAuthenticate emulates POST /v1/sessions/authenticate strictly: Basic auth
// with the project id and secret, a JSON body with exactly one credential, and no
// session_duration_minutes (which would extend the session; a bridge must not).
func (is *Server) stytchAuthenticate(w http.ResponseWriter, r *http.Request) {
	id, secret, ok := r.BasicAuth()
	if !ok || id != StytchProjectID || !hmac.Equal([]byte(secret), []byte(is.stytchSK)) {
		stytchError(w, http.StatusUnauthorized, "unauthorized_credentials", "Unauthorized credentials.")
		return
	}
	if !strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
		stytchError(w, http.StatusBadRequest, "invalid_content_type", "Content-Type must be application/json.")
		return
	}
	var body map[string]json.RawMessage
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 64<<10)).Decode(&body); err != nil {
		stytchError(w, http.StatusBadRequest, "invalid_json", "Request body is not valid JSON.")
		return
	}
	if _, extends := body["session_duration_minutes"]; extends {
		stytchError(w, http.StatusBadRequest, "dev_session_extension_refused",
			"session_duration_minutes extends the session; a token bridge must only check it.")
		return
	}
	var tok, jwtStr string
	_ = json.Unmarshal(body["session_token"], &tok)
	_ = json.Unmarshal(body["session_jwt"], &jwtStr)
	if (tok == "") == (jwtStr == "") {
		stytchError(w, http.StatusBadRequest, "invalid_request", "Send exactly one of session_token or session_jwt.")
		return
	}
	var s session
	if tok != "" {
		is.mu.Lock()
		s, ok = is.stytch[tok]
		is.mu.Unlock()
	} else {
		var c jwt.MapClaims
		_, err := jwt.ParseWithClaims(jwtStr, &c, func(*jwt.Token) (any, error) { return &is.rsaKey.PublicKey, nil },
			jwt.WithValidMethods([]string{"RS256"}), jwt.WithIssuer(is.issuer("stytch")), jwt.WithAudience(StytchProjectID))
		if err == nil {
			sub, _ := c.GetSubject()
			s, ok = session{ID: "session-test-" + uuid(), UserID: sub, Email: email(sub), Started: time.Now(), Expires: time.Now().Add(5 * time.Minute)}, true
		}
	}
	if !ok || time.Now().After(s.Expires) {
		stytchError(w, http.StatusNotFound, "session_not_found", "Session could not be found.")
		return
	}
	sj, _ := is.jwt("stytch", s.UserID, time.Now(), 5*time.Minute)
	httpapi.WriteJSON(w, 200, map[string]any{
		"status_code": 200, "request_id": "request-id-test-" + uuid(),
		"session": map[string]any{
			"session_id": s.ID, "user_id": s.UserID, "authentication_factors": []any{}, "roles": []string{"stytch_user"},
			"started_at": s.Started.UTC().Format(time.RFC3339), "last_accessed_at": time.Now().UTC().Format(time.RFC3339),
			"expires_at": s.Expires.UTC().Format(time.RFC3339), "attributes": map[string]string{}, "custom_claims": map[string]any{},
		},
		"session_token": tok, "session_jwt": sj,
		"user": map[string]any{"user_id": s.UserID, "emails": []map[string]any{{"email_id": "email-test-" + uuid(), "email": s.Email, "verified": true}}},
	})
}

// getSession emulates Better Auth's GET /api/auth/get-session: the session comes
// from a bearer token (bearer plugin: raw or signed) or the signed session cookie;
// an unknown or expired session is a 200 with a null body, as in Better Auth.
func (is *Server) getSession(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	tok := ""
	if a := r.Header.Get("Authorization"); strings.HasPrefix(a, "Bearer ") {
		tok = strings.TrimSpace(strings.TrimPrefix(a, "Bearer "))
		if t, ok := is.baVerify(tok); ok {
			tok = t
		}
	} else {
		for _, name := range []string{"better-auth.session_token", "__Secure-better-auth.session_token"} {
			if c, err := r.Cookie(name); err == nil {
				v, _ := url.QueryUnescape(c.Value)
				if t, ok := is.baVerify(v); ok {
					tok = t
				}
			}
		}
	}
	is.mu.Lock()
	s, ok := is.sessions[tok]
	is.mu.Unlock()
	if tok == "" || !ok || time.Now().After(s.Expires) {
		httpapi.WriteJSON(w, 200, nil)
		return
	}
	created := s.Started.UTC().Format(time.RFC3339)
	httpapi.WriteJSON(w, 200, map[string]any{
		"session": map[string]any{"id": s.ID, "token": tok, "expiresAt": s.Expires.UTC().Format(time.RFC3339), "userId": s.UserID,
			"ipAddress": "127.0.0.1", "userAgent": r.UserAgent(), "createdAt": created, "updatedAt": created},
		"user": map[string]any{"id": s.UserID, "name": s.UserID, "email": s.Email, "emailVerified": true, "image": nil,
			"createdAt": created, "updatedAt": created},
	})
}

// baSign is Better Auth's cookie signature: std base64 of HMAC-SHA256(secret, token).
func (is *Server) baSign(tok string) string {
	m := hmac.New(sha256.New, is.baSecret)
	m.Write([]byte(tok))
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}

// baVerify splits "token.signature" at the last dot and checks the signature.
func (is *Server) baVerify(v string) (string, bool) {
	i := strings.LastIndex(v, ".")
	if i < 0 || len(v)-i-1 != 44 {
		return "", false
	}
	tok, sig := v[:i], v[i+1:]
	return tok, hmac.Equal([]byte(sig), []byte(is.baSign(tok)))
}

func (is *Server) jwks(ed bool) map[string]any {
	if ed {
		return map[string]any{"keys": []map[string]any{{
			"kty": "OKP", "crv": "Ed25519", "alg": "EdDSA", "use": "sig", "kid": is.edKid,
			"x": base64.RawURLEncoding.EncodeToString(is.edKey.Public().(ed25519.PublicKey)),
		}}}
	}
	pub := is.rsaKey.PublicKey
	return map[string]any{"keys": []map[string]any{{
		"kty": "RSA", "alg": "RS256", "use": "sig", "kid": is.rsaKid,
		"n": base64.RawURLEncoding.EncodeToString(pub.N.Bytes()),
		"e": base64.RawURLEncoding.EncodeToString(big.NewInt(int64(pub.E)).Bytes()),
	}}}
}

// EnvFor returns the dev variables of every provider, merged (for display).
func (is *Server) EnvFor() map[string]string {
	out := map[string]string{}
	for _, p := range Providers {
		for k, v := range is.Env(p) {
			out[k] = v
		}
	}
	return out
}

func stytchError(w http.ResponseWriter, status int, typ, msg string) {
	httpapi.WriteJSON(w, status, map[string]any{"status_code": status, "request_id": "request-id-test-" + uuid(),
		"error_type": typ, "error_message": msg, "error_url": "https://stytch.com/docs/api/errors/" + fmt.Sprint(status)})
}

func email(user string) string {
	local := strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '-' || r == '_' {
			return r
		}
		return '-'
	}, user)
	return local + "@example.test"
}

func randHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

const alnum = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

func randToken(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	for i := range b {
		b[i] = alnum[int(b[i])%len(alnum)]
	}
	return string(b)
}

func uuid() string {
	h := randHex(16)
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}
