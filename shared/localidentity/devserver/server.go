// Package devserver is the local runner's identity provider: it mounts the
// identity emulator (shared/localidentity) on one loopback port for every
// provider declared in identity.Bridges and mints credentials in each provider's
// shape (issuer, audience, claims, algorithm).
//
// The bridges need no development code path: the runner points their ordinary
// *_JWKS_URL / *_ISSUER / *_API_URL variables at this server (Env), and
// config.CheckURL accepts plain http only for loopback hosts, so a deployed function
// can never be pointed at it by accident.
//
// A provider is data: a declared bridge with an issuer, a JWKS and an audience
// variable is served and minted for with no code here (its issuer is
// <URL>/<slug>, its key set <URL>/<slug>/.well-known/jwks.json). shapes holds what
// a provider does differently from that plain issuer.
package devserver

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
	"github.com/insforge/edge-functions-go/shared/identity"
	"github.com/insforge/edge-functions-go/shared/localidentity"
)

// Providers lists the providers in the order the banner shows them.
var Providers = identity.Slugs()

// Dev identifiers. They only mean something to this issuer.
const (
	// DevAudience is the API audience of every provider that checks one, unless
	// its shape says otherwise.
	DevAudience        = "insforge-dev-api"
	KindeAudience      = DevAudience
	Auth0Audience      = DevAudience
	WorkOSClientID     = "client_01DEVINSFORGE0000000000"
	StytchProjectID    = "project-test-00000000-0000-4000-8000-000000000000"
	ClerkAuthorizedApp = "http://localhost:5173"
	OIDCClientID       = "insforge-dev-client"
	// DefaultTTL keeps dev credentials usable while copy-pasting commands.
	DefaultTTL = 10 * time.Minute
)

// Server is a running dev identity provider. It mounts the same emulations the
// tests use (identitytest): one RS256 Issuer for every RS256 provider and the OIDC
// discovery document, an EdDSA Issuer for EdDSA providers (Better Auth's jwt()
// plugin), and the strict StytchAPI and BetterAuthAPI, whose sessions Credential
// creates.
type Server struct {
	URL string // http://127.0.0.1:<port>, no trailing slash

	rsa, ed *localidentity.Issuer
	stytch  *localidentity.StytchAPI
	ba      *localidentity.BetterAuthAPI

	srv *http.Server
	ln  net.Listener
}

// shape is what one provider does differently from a plain JWT issuer at
// <URL>/<slug>. Every field is optional.
type shape struct {
	jwksPath string                                  // default /<slug>/.well-known/jwks.json
	issuer   func(is *Server) string                 // default <URL>/<slug>
	env      func(is *Server, env map[string]string) // adjusts the default variables
	claims   func(is *Server, c jwt.MapClaims, user string, now time.Time, ttl time.Duration)
	routes   func(is *Server, mux *http.ServeMux) // replaces the default JWKS route
}

// shapes are the providers' differences, each from the provider's own tokens
// (shared/identity/testdata/providers holds the published samples).
var shapes = map[string]shape{
	"workos": {
		issuer: func(is *Server) string { return is.URL + "/workos/user_management/" + WorkOSClientID },
		env: func(is *Server, env map[string]string) {
			env["WORKOS_CLIENT_ID"] = WorkOSClientID
			env["WORKOS_JWKS_URL"] = is.URL + "/workos/sso/jwks/" + WorkOSClientID
		},
		claims: func(_ *Server, c jwt.MapClaims, _ string, _ time.Time, _ time.Duration) {
			c["sid"] = "session_01" + strings.ToUpper(randHex(12))
			c["org_id"] = "org_01DEV"
			c["role"] = "member" // WorkOS sends a role; bridges must never copy it
			c["permissions"] = []string{}
		},
		routes: func(is *Server, mux *http.ServeMux) {
			mux.HandleFunc("GET /workos/sso/jwks/{client}", func(w http.ResponseWriter, r *http.Request) {
				if r.PathValue("client") != WorkOSClientID {
					httpapi.WriteJSON(w, http.StatusNotFound, map[string]string{"message": "unknown client id"})
					return
				}
				is.rsa.ServeHTTP(w, r)
			})
		},
	},
	"kinde": {
		jwksPath: "/kinde/.well-known/jwks",
		claims: func(_ *Server, c jwt.MapClaims, _ string, _ time.Time, _ time.Duration) {
			c["azp"] = "dev-kinde-client"
			c["scp"] = []string{"openid", "profile", "email", "offline"}
			c["org_code"] = "org_dev"
		},
	},
	"auth0": {
		issuer: func(is *Server) string { return is.URL + "/auth0/" }, // Auth0 issuers end with a slash
		env:    func(_ *Server, env map[string]string) { env["AUTH0_DOMAIN"] = "localhost" },
		claims: func(is *Server, c jwt.MapClaims, _ string, _ time.Time, _ time.Duration) {
			c["aud"] = []string{Auth0Audience, c["iss"].(string) + "userinfo"}
			c["azp"] = "dev-auth0-client"
			c["scope"] = "openid profile email"
		},
	},
	"stytch": {
		issuer: func(*Server) string { return "stytch.com/" + StytchProjectID },
		env: func(is *Server, env map[string]string) {
			env["STYTCH_PROJECT_ID"] = StytchProjectID
			env["STYTCH_SECRET"] = is.stytch.Secret
			env["STYTCH_API_URL"] = is.URL + "/stytch"
			env["STYTCH_JWKS_URL"] = is.URL + "/stytch/v1/sessions/jwks/" + StytchProjectID
		},
		claims: func(_ *Server, c jwt.MapClaims, user string, now time.Time, ttl time.Duration) {
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
		},
		routes: func(is *Server, mux *http.ServeMux) {
			stytch := http.StripPrefix("/stytch", is.stytch)
			mux.HandleFunc("GET /stytch/v1/sessions/jwks/{project}", func(w http.ResponseWriter, r *http.Request) {
				if r.PathValue("project") != StytchProjectID {
					stytchError(w, http.StatusNotFound, "project_not_found", "Project could not be found.")
					return
				}
				stytch.ServeHTTP(w, r)
			})
			mux.Handle("/stytch/", stytch)
		},
	},
	"better-auth": {
		issuer: func(is *Server) string { return is.URL }, // Better Auth's jwt() plugin uses the origin of BETTER_AUTH_URL
		env: func(is *Server, env map[string]string) {
			env["BETTER_AUTH_URL"] = is.URL + "/better-auth"
			env["BETTER_AUTH_JWKS_URL"] = is.URL + "/better-auth/api/auth/jwks"
			env["BETTER_AUTH_AUDIENCE"] = is.URL
		},
		claims: func(_ *Server, c jwt.MapClaims, user string, now time.Time, _ time.Duration) {
			c["aud"] = c["iss"]
			c["id"] = user
			c["name"] = user
			c["email"] = email(user)
			c["emailVerified"] = true
			c["image"] = nil
			c["createdAt"] = now.Add(-24 * time.Hour).UTC().Format(time.RFC3339)
			c["updatedAt"] = now.UTC().Format(time.RFC3339)
		},
		routes: func(is *Server, mux *http.ServeMux) {
			mux.Handle("/better-auth/", http.StripPrefix("/better-auth", is.ba))
		},
	},
	"clerk": {
		env: func(_ *Server, env map[string]string) { env["CLERK_AUTHORIZED_PARTIES"] = ClerkAuthorizedApp },
		claims: func(_ *Server, c jwt.MapClaims, _ string, now time.Time, _ time.Duration) {
			c["azp"] = ClerkAuthorizedApp
			c["sid"] = "sess_" + randHex(12)
			c["nbf"] = now.Add(-5 * time.Second).Unix()
			c["v"] = 2
			c["fva"] = []int{0, -1}
		},
	},
	"oidc": {
		// No OIDC_JWKS_URL: the bridge discovers it, as it does with a real issuer.
		env: func(_ *Server, env map[string]string) {
			delete(env, "OIDC_JWKS_URL")
			env["OIDC_AUDIENCE"] = OIDCClientID
		},
		// A standard OpenID Connect ID token (Core 1.0 section 2).
		claims: func(_ *Server, c jwt.MapClaims, user string, now time.Time, _ time.Duration) {
			c["aud"] = OIDCClientID
			c["azp"] = OIDCClientID
			c["auth_time"] = now.Unix()
			c["email"] = email(user)
			c["email_verified"] = true
		},
		routes: func(is *Server, mux *http.ServeMux) {
			mux.Handle("GET /oidc/.well-known/openid-configuration", is.rsa)
			mux.Handle("GET /oidc/jwks", is.rsa)
		},
	},
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
	rsaIss, err := localidentity.NewIssuer("RS256")
	if err != nil {
		return nil, err
	}
	edIss, err := localidentity.NewIssuer("EdDSA")
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("dev issuer: %w", err)
	}
	is := &Server{URL: "http://" + ln.Addr().String(), rsa: rsaIss, ed: edIss, ln: ln}
	is.rsa.SetDiscoveryIssuer(is.issuer(identity.BridgeNamed("oidc")))
	is.stytch = localidentity.NewStytchAPI(StytchProjectID, "secret-test-"+randHex(16), is.rsa)
	is.stytch.ForgetExpired = true
	is.ba = localidentity.NewBetterAuthAPI(is.ed)
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

// Env returns the variables that point provider's bridge at this issuer: its
// issuer, JWKS and audience variables, adjusted by its shape.
func (is *Server) Env(provider string) map[string]string {
	b := identity.BridgeNamed(provider)
	if b == nil {
		return nil
	}
	env := map[string]string{}
	set := func(name, v string) {
		if name != "" {
			env[name] = v
		}
	}
	set(b.IssuerVar, is.issuer(b))
	set(b.JWKSVar, is.URL+is.jwksPath(b))
	set(b.AudienceVar, DevAudience)
	if s := shapes[b.Slug]; s.env != nil {
		s.env(is, env)
	}
	return env
}

// PrimaryVar is the variable that, when the developer sets it, means "use the real
// provider": the runner then leaves that provider's variables alone.
func PrimaryVar(provider string) string {
	if b := identity.BridgeNamed(provider); b != nil {
		return b.Primary()
	}
	return ""
}

func (is *Server) issuer(b *identity.Bridge) string {
	if s := shapes[b.Slug]; s.issuer != nil {
		return s.issuer(is)
	}
	return is.URL + "/" + b.Slug
}

func (is *Server) jwksPath(b *identity.Bridge) string {
	if p := shapes[b.Slug].jwksPath; p != "" {
		return p
	}
	return "/" + b.Slug + "/.well-known/jwks.json"
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
		is.stytch.AddSession(tok, localidentity.User{ID: user, Email: email(user), EmailVerified: true, ExpiresAt: now.Add(ttl)})
		return tok, nil
	case (kind == "session" || kind == "cookie") && provider == "better-auth":
		tok := randToken(32)
		is.ba.AddSession(tok, localidentity.User{ID: user, Email: email(user), EmailVerified: true, ExpiresAt: now.Add(ttl)})
		if kind == "session" {
			return tok, nil
		}
		return "better-auth.session_token=" + is.ba.SignCookie(tok), nil
	}
	return "", fmt.Errorf("provider %q has no credential kind %q (jwt for all; session for stytch and better-auth; cookie for better-auth)", provider, kind)
}

// jwt mints a token of the plain issuer (iss, sub, aud when the bridge checks
// one, iat, exp, jti), signed with the key of the provider's algorithm, then
// adds the provider's own claims.
func (is *Server) jwt(provider, user string, now time.Time, ttl time.Duration) (string, error) {
	b := identity.BridgeNamed(provider)
	if b == nil {
		return "", fmt.Errorf("unknown provider %q (one of %s)", provider, strings.Join(Providers, ", "))
	}
	c := jwt.MapClaims{"iss": is.issuer(b), "sub": user, "iat": now.Unix(), "exp": now.Add(ttl).Unix(), "jti": randHex(12)}
	if b.AudienceVar != "" {
		c["aud"] = []string{DevAudience}
	}
	if s := shapes[b.Slug]; s.claims != nil {
		s.claims(is, c, user, now, ttl)
	}
	key := is.rsa.Current()
	if b.Alg == "EdDSA" {
		key = is.ed.Current()
	}
	return localidentity.SignWith(key, c, nil), nil
}

func (is *Server) routes() http.Handler {
	mux := http.NewServeMux()
	for _, b := range identity.Bridges {
		if s := shapes[b.Slug]; s.routes != nil {
			s.routes(is, mux)
			continue
		}
		keys := is.rsa
		if b.Alg == "EdDSA" {
			keys = is.ed
		}
		mux.Handle("GET "+is.jwksPath(b), keys)
	}
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
