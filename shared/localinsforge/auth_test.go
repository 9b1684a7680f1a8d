package localinsforge_test

import (
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/insforge/edge-functions-go/shared/insforge/insforgetest"
)

// Credentials are verified as InsForge's verifyUser does (backend/src/api/middlewares/auth.ts).
func TestCredentialsAreVerifiedLikeInsForge(t *testing.T) {
	s := insforgetest.New(t)
	fixture(t, s, `CREATE TABLE public.open_items (id int PRIMARY KEY, note text);
		INSERT INTO public.open_items VALUES (1, 'hello');`)
	now := time.Now()
	none := jwt.NewWithClaims(jwt.SigningMethodNone, jwt.MapClaims{"sub": "u1", "role": "authenticated"})
	noneTok, _ := none.SignedString(jwt.UnsafeAllowNoneSignatureType)
	tests := []struct {
		name     string
		token    string
		hdr      []string
		status   int
		code     string
		message  string
		nextActs bool
	}{
		{name: "no credential", status: 401, code: "AUTH_INVALID_CREDENTIALS", message: "No token provided", nextActs: true},
		{name: "service key", token: s.ServiceKey, status: 200},
		{name: "wrong service key", token: "ik_" + "00", status: 401, code: "AUTH_INVALID_API_KEY", message: "Invalid API key"},
		{name: "anon key", token: s.AnonKey, status: 200},
		{name: "wrong anon key", token: "anon_00", status: 401, code: "AUTH_INVALID_CREDENTIALS", message: "Invalid anon key"},
		{name: "user token from signer", token: userToken(t, s, "user_1"), status: 200},
		{name: "x-api-key wins over a valid user JWT", token: userToken(t, s, "user_1"), hdr: []string{"X-Api-Key", "ik_wrong"},
			status: 401, code: "AUTH_INVALID_API_KEY"},
		{name: "x-api-key with the service key", hdr: []string{"X-Api-Key", s.ServiceKey}, status: 200},
		{name: "garbage", token: "not-a-jwt", status: 401, code: "AUTH_UNAUTHORIZED", message: "Invalid token"},
		{name: "wrong secret", token: sign(t, "another-secret-another-secret-0123", jwt.MapClaims{"sub": "u1"}),
			status: 401, code: "AUTH_UNAUTHORIZED", message: "Invalid token"},
		{name: "alg none", token: noneTok, status: 401, code: "AUTH_UNAUTHORIZED"},
		{name: "expired", token: sign(t, s.JWTSecret, jwt.MapClaims{"sub": "u1", "exp": now.Add(-time.Second).Unix()}),
			status: 401, code: "AUTH_UNAUTHORIZED"},
		{name: "not yet valid", token: sign(t, s.JWTSecret, jwt.MapClaims{"sub": "u1", "nbf": now.Add(time.Minute).Unix()}),
			status: 401, code: "AUTH_UNAUTHORIZED"},
		{name: "no exp is accepted", token: sign(t, s.JWTSecret, jwt.MapClaims{"sub": "u1"}), status: 200},
		{name: "aud and iss are not checked", token: sign(t, s.JWTSecret, jwt.MapClaims{"sub": "u1", "aud": "x", "iss": "y"}), status: 200},
		{name: "missing sub", token: sign(t, s.JWTSecret, jwt.MapClaims{"role": "authenticated"}),
			status: 401, code: "AUTH_UNAUTHORIZED", message: "Invalid token subject"},
		{name: "empty sub", token: sign(t, s.JWTSecret, jwt.MapClaims{"sub": ""}),
			status: 401, code: "AUTH_UNAUTHORIZED", message: "Invalid token subject"},
		{name: "unknown role", token: sign(t, s.JWTSecret, jwt.MapClaims{"sub": "u1", "role": "service_role"}),
			status: 403, code: "AUTH_UNAUTHORIZED", message: "Invalid user role claim"},
		{name: "role project_admin is an admin token", token: sign(t, s.JWTSecret, jwt.MapClaims{"sub": "u1", "role": "project_admin"}), status: 200},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := call(t, s, "GET", "/api/database/records/open_items", tc.token, "", tc.hdr...)
			if r.status != tc.status {
				t.Fatalf("status = %d, want %d (%s)", r.status, tc.status, r.body)
			}
			if tc.code == "" {
				return
			}
			if got := r.field(t, "error"); got != tc.code {
				t.Errorf("error = %v, want %s", got, tc.code)
			}
			if got := r.field(t, "statusCode"); got != float64(tc.status) {
				t.Errorf("statusCode = %v, want %d", got, tc.status)
			}
			if tc.message != "" && r.field(t, "message") != tc.message {
				t.Errorf("message = %v, want %s", r.field(t, "message"), tc.message)
			}
			if got := r.field(t, "nextActions"); (got != nil) != tc.nextActs {
				t.Errorf("nextActions = %v", got)
			}
		})
	}
}

// The role claim picks the Postgres role and claims reach SQL re-minted with only
// sub, email and role.
func TestClaimsReachSQLAsInsForgeSetsThem(t *testing.T) {
	s := insforgetest.New(t)
	fixture(t, s, `CREATE FUNCTION public.whoami() RETURNS jsonb LANGUAGE sql STABLE AS $$
		SELECT jsonb_build_object('role', current_user, 'sub', public.requesting_user_id(),
			'claim_role', auth.role(), 'email', auth.email(), 'org', auth.jwt() ->> 'org_id') $$;
		GRANT EXECUTE ON FUNCTION public.whoami() TO anon, authenticated;`)
	tests := []struct {
		name, token string
		want        map[string]any
	}{
		{"service key", s.ServiceKey, map[string]any{"role": "project_admin", "sub": nil, "claim_role": "project_admin", "email": nil, "org": nil}},
		{"anon key", s.AnonKey, map[string]any{"role": "anon", "sub": nil, "claim_role": "anon", "email": nil, "org": nil}},
		{"user", sign(t, s.JWTSecret, jwt.MapClaims{"sub": "user_9", "email": "n@example.com", "org_id": "o1"}),
			map[string]any{"role": "authenticated", "sub": "user_9", "claim_role": "authenticated", "email": "n@example.com", "org": nil}},
		{"admin JWT", sign(t, s.JWTSecret, jwt.MapClaims{"sub": "user_9", "role": "project_admin"}),
			map[string]any{"role": "project_admin", "sub": nil, "claim_role": "project_admin", "email": nil, "org": nil}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := call(t, s, "POST", "/api/database/rpc/whoami", tc.token, `{}`)
			if r.status != 200 {
				t.Fatalf("status %d: %s", r.status, r.body)
			}
			got := r.json(t).(map[string]any)
			for k, v := range tc.want {
				if got[k] != v {
					t.Errorf("%s = %v, want %v", k, got[k], v)
				}
			}
		})
	}
}
