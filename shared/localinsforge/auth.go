package localinsforge

import (
	"crypto/subtle"
	"encoding/json"
	"net/http"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/insforge/edge-functions-go/shared/localinsforge/realtime"
)

// principal is what a verified credential maps to: the Postgres role to SET and
// the claims to put in request.jwt.claims.
type principal struct {
	role   string
	claims string
}

var (
	adminPrincipal = principal{role: "project_admin", claims: `{"role":"project_admin"}`}
	anonPrincipal  = principal{role: "anon", claims: `{"role":"anon"}`}
)

// envelopeErr is InsForge's own error envelope.
type envelopeErr struct {
	Status      int
	Code        string
	Message     string
	NextActions string
}

// authenticate mirrors InsForge's verifyUser (backend/src/api/middlewares/auth.ts)
// and the role mapping of its records and RPC routes
// (backend/src/api/routes/database/, github.com/InsForge/InsForge): x-api-key wins; Bearer ik_… is the API
// key; Bearer anon_… the anon key; anything else must be an HS256 JWT with a
// non-empty sub, whose role (default authenticated) picks the Postgres role.
func (s *server) authenticate(r *http.Request) (principal, *envelopeErr) {
	if vs, ok := r.Header["X-Api-Key"]; ok {
		if len(vs) == 1 && equal(vs[0], s.serviceKey) {
			return adminPrincipal, nil
		}
		return principal{}, &envelopeErr{http.StatusUnauthorized, "AUTH_INVALID_API_KEY", "Invalid API key", ""}
	}
	authz := r.Header.Get("Authorization")
	token, found := strings.CutPrefix(authz, "Bearer ")
	token = strings.TrimSpace(token)
	if !found || token == "" {
		return principal{}, &envelopeErr{http.StatusUnauthorized, "AUTH_INVALID_CREDENTIALS", "No token provided",
			"Check the token is valid or login to get a new token."}
	}
	switch {
	case strings.HasPrefix(token, "ik_"):
		if equal(token, s.serviceKey) {
			return adminPrincipal, nil
		}
		return principal{}, &envelopeErr{http.StatusUnauthorized, "AUTH_INVALID_API_KEY", "Invalid API key", ""}
	case strings.HasPrefix(token, "anon_"):
		if equal(token, s.anonKey) {
			return anonPrincipal, nil
		}
		return principal{}, &envelopeErr{http.StatusUnauthorized, "AUTH_INVALID_CREDENTIALS", "Invalid anon key", ""}
	}
	claims := jwt.MapClaims{}
	_, err := s.parser.ParseWithClaims(token, claims, func(*jwt.Token) (any, error) { return s.secret, nil })
	if err != nil {
		return principal{}, &envelopeErr{http.StatusUnauthorized, "AUTH_UNAUTHORIZED", "Invalid token", ""}
	}
	sub, _ := claims["sub"].(string)
	if sub == "" {
		return principal{}, &envelopeErr{http.StatusUnauthorized, "AUTH_UNAUTHORIZED", "Invalid token subject", ""}
	}
	role := "authenticated"
	if v, ok := claims["role"]; ok && v != nil {
		role, _ = v.(string)
	}
	switch role {
	case "project_admin":
		return adminPrincipal, nil
	case "anon":
		return anonPrincipal, nil
	case "authenticated":
		// InsForge re-mints a 5-minute token with only sub, email and role: custom
		// claims never reach SQL.
		now := s.now()
		c := map[string]any{"sub": sub, "role": "authenticated", "iat": now.Unix(), "exp": now.Add(5 * time.Minute).Unix()}
		if email, ok := claims["email"].(string); ok && email != "" {
			c["email"] = email
		}
		b, _ := json.Marshal(c)
		return principal{role: "authenticated", claims: string(b)}, nil
	}
	return principal{}, &envelopeErr{http.StatusForbidden, "AUTH_UNAUTHORIZED", "Invalid user role claim", ""}
}

// realtimeIdentity mirrors InsForge's socket.io handshake middleware
// (socket.manager.ts): auth.apiKey must be the API key; a token starting anon_
// must be the anon key (never downgraded); anything else must be an HS256 JWT
// with a role. Roles map as on the records routes.
func (s *server) realtimeIdentity(auth map[string]any) (realtime.Identity, error) {
	if v, ok := auth["apiKey"]; ok && v != nil && v != "" {
		if k, _ := v.(string); equal(k, s.serviceKey) {
			return realtime.Identity{Role: "project_admin"}, nil
		}
		return realtime.Identity{}, &realtime.ErrUnauthorized{Message: "Invalid API key"}
	}
	token, _ := auth["token"].(string)
	if strings.HasPrefix(token, "anon_") {
		if equal(token, s.anonKey) {
			return realtime.Identity{Role: "anon"}, nil
		}
		return realtime.Identity{}, &realtime.ErrUnauthorized{Message: "Invalid anon key"}
	}
	if token == "" {
		return realtime.Identity{}, &realtime.ErrUnauthorized{Message: "No authentication provided"}
	}
	claims := jwt.MapClaims{}
	if _, err := s.parser.ParseWithClaims(token, claims, func(*jwt.Token) (any, error) { return s.secret, nil }); err != nil {
		return realtime.Identity{}, &realtime.ErrUnauthorized{Message: "Invalid authentication"}
	}
	sub, _ := claims["sub"].(string)
	role, _ := claims["role"].(string)
	email, _ := claims["email"].(string)
	switch {
	case sub == "":
		return realtime.Identity{}, &realtime.ErrUnauthorized{Message: "Invalid authentication"}
	case role == "":
		return realtime.Identity{}, &realtime.ErrUnauthorized{Message: "Invalid token: missing role"}
	case role == "authenticated":
		return realtime.Identity{Role: role, Subject: sub, Email: email}, nil
	case role == "anon", role == "project_admin":
		return realtime.Identity{Role: role}, nil
	}
	return realtime.Identity{}, &realtime.ErrUnauthorized{Message: "Invalid user role claim"}
}

func equal(a, b string) bool {
	return b != "" && subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}
