// Package localidentity is the identity emulator: one implementation of each
// upstream the bridges talk to. Issuer serves a provider's JWKS and OpenID Connect
// discovery document; StytchAPI and BetterAuthAPI are strict emulations of Stytch's
// sessions/authenticate and Better Auth's get-session (a request a correct bridge
// never sends is answered 400 and recorded). Unit tests run these handlers through
// shared/identity/identitytest; Server, the local runner's identity provider, mounts
// them on one loopback port for every provider and mints credentials in each
// provider's shape (issuer, audience, claims, algorithm).
//
// The bridges need no development code path: the runner points their ordinary
// *_JWKS_URL / *_ISSUER / *_API_URL variables at this server (Env), and
// config.CheckURL accepts plain http only for loopback hosts, so a deployed function
// can never be pointed at it by accident.
package localidentity

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"strings"
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

// Server is a running dev identity provider. It mounts the same emulations the
// tests use (identitytest): one RS256 Issuer for every RS256 provider and the OIDC
// discovery document, an EdDSA Issuer for Better Auth's jwt() plugin, and the strict
// StytchAPI and BetterAuthAPI, whose sessions Credential creates.
type Server struct {
	URL string // http://127.0.0.1:<port>, no trailing slash

	rsa, ed *Issuer
	stytch  *StytchAPI
	ba      *BetterAuthAPI

	srv *http.Server
	ln  net.Listener
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
	rsaIss, err := NewIssuer("RS256")
	if err != nil {
		return nil, err
	}
	edIss, err := NewIssuer("EdDSA")
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("dev issuer: %w", err)
	}
	is := &Server{URL: "http://" + ln.Addr().String(), rsa: rsaIss, ed: edIss, ln: ln}
	is.rsa.SetDiscoveryIssuer(is.issuer("oidc"))
	is.stytch = NewStytchAPI(StytchProjectID, "secret-test-"+randHex(16), is.rsa)
	is.stytch.ForgetExpired = true
	is.ba = NewBetterAuthAPI(is.ed)
	is.ba.Secret = []byte(randHex(32))
	is.ba.ForgetExpired = true
	is.srv = &http.Server{Handler: is.routes(), ReadHeaderTimeout: 5 * time.Second, MaxHeaderBytes: 64 << 10}
	go func() { _ = is.srv.Serve(ln) }()
	return is, nil
}

// Close stops the server.
func (is *Server) Close() error { return is.srv.Close() }

// Violations returns the protocol violations the Stytch and Better Auth
// emulations refused so far (each was answered 400).
func (is *Server) Violations() []string {
	return append(is.stytch.Violations(), is.ba.Violations()...)
}

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
			"STYTCH_SECRET":     is.stytch.Secret,
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
		is.stytch.AddSession(tok, User{ID: user, Email: email(user), EmailVerified: true, ExpiresAt: now.Add(ttl)})
		return tok, nil
	case (kind == "session" || kind == "cookie") && provider == "better-auth":
		tok := randToken(32)
		is.ba.AddSession(tok, User{ID: user, Email: email(user), EmailVerified: true, ExpiresAt: now.Add(ttl)})
		if kind == "session" {
			return tok, nil
		}
		return "better-auth.session_token=" + is.ba.SignCookie(tok), nil
	}
	return "", fmt.Errorf("provider %q has no credential kind %q (jwt for all; session for stytch and better-auth; cookie for better-auth)", provider, kind)
}

func (is *Server) jwt(provider, user string, now time.Time, ttl time.Duration) (string, error) {
	c := jwt.MapClaims{"sub": user, "iat": now.Unix(), "exp": now.Add(ttl).Unix(), "jti": randHex(12)}
	key := is.rsa.Current()
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
		key = is.ed.Current()
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
	return SignWith(key, c, nil), nil
}

func (is *Server) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /workos/sso/jwks/{client}", func(w http.ResponseWriter, r *http.Request) {
		if r.PathValue("client") != WorkOSClientID {
			httpapi.WriteJSON(w, http.StatusNotFound, map[string]string{"message": "unknown client id"})
			return
		}
		is.rsa.ServeHTTP(w, r)
	})
	mux.Handle("GET /kinde/.well-known/jwks", is.rsa)
	mux.Handle("GET /auth0/.well-known/jwks.json", is.rsa)
	mux.Handle("GET /clerk/.well-known/jwks.json", is.rsa)
	mux.Handle("GET /oidc/.well-known/openid-configuration", is.rsa)
	mux.Handle("GET /oidc/jwks", is.rsa)
	stytch := http.StripPrefix("/stytch", is.stytch)
	mux.HandleFunc("GET /stytch/v1/sessions/jwks/{project}", func(w http.ResponseWriter, r *http.Request) {
		if r.PathValue("project") != StytchProjectID {
			stytchError(w, http.StatusNotFound, "project_not_found", "Project could not be found.")
			return
		}
		stytch.ServeHTTP(w, r)
	})
	mux.Handle("/stytch/", stytch)
	mux.Handle("/better-auth/", http.StripPrefix("/better-auth", is.ba))
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
