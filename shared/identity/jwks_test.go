package identity

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/insforge/edge-functions-go/shared/identity/identitytest"
)

// newTestJWT is a JWKS verifier over a local issuer with spec's rules.
func newTestJWT(t *testing.T, spec JWTSpec) (*JWTVerifier, *identitytest.Issuer) {
	t.Helper()
	iss := identitytest.NewIssuer(t, "RS256")
	spec.Provider, spec.JWKSURL, spec.JWKSVar = "P", iss.JWKSURL(), "P_JWKS_URL"
	spec.Algorithms, spec.Issuers = []string{"RS256"}, []string{iss.URL()}
	v, err := NewJWT(spec, oidcOptions(&syncBuf{}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(v.Close)
	return v, iss
}

func signNow(iss *identitytest.Issuer, extra jwt.MapClaims) string {
	now := time.Now()
	c := jwt.MapClaims{"iss": iss.URL(), "sub": "user_1", "iat": now.Unix(), "exp": now.Add(time.Hour).Unix()}
	for k, v := range extra {
		c[k] = v
	}
	return iss.Sign(c)
}

// The verifier itself refuses act and failed markers with their own kinds, and
// never returns an identity with the error.
func TestVerifierRefusesImpersonationAndMachineTokens(t *testing.T) {
	markers := []Marker{{Claim: "sid", Required: true, Reason: "no session"},
		{Claim: "gty", Refused: []string{"client-credentials"}, Reason: "machine token"}}
	cases := []struct {
		name       string
		allowActor bool
		claims     jwt.MapClaims
		kind       Kind
		message    string
		actor      string
	}{
		{name: "session", claims: jwt.MapClaims{"sid": "s1"}},
		{name: "act refused", claims: jwt.MapClaims{"sid": "s1", "act": map[string]any{"sub": "admin"}},
			kind: KindImpersonation, message: "set P_ALLOW=true"},
		{name: "act without sub refused", claims: jwt.MapClaims{"sid": "s1", "act": map[string]any{}}, kind: KindImpersonation},
		{name: "act allowed names the actor", allowActor: true, claims: jwt.MapClaims{"sid": "s1", "act": map[string]any{"sub": "admin"}}, actor: "admin"},
		{name: "act allowed, actor capped", allowActor: true,
			claims: jwt.MapClaims{"sid": "s1", "act": map[string]any{"sub": strings.Repeat("a", 300)}}, actor: strings.Repeat("a", MaxSubjectBytes)},
		{name: "missing marker", claims: jwt.MapClaims{}, kind: KindNotUserSession, message: "no session"},
		{name: "machine marker", claims: jwt.MapClaims{"sid": "s1", "gty": "client-credentials"}, kind: KindNotUserSession, message: "machine token"},
		{name: "machine marker wins over act", claims: jwt.MapClaims{"gty": "client-credentials", "sid": "s1", "act": map[string]any{"sub": "a"}},
			kind: KindNotUserSession},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			v, iss := newTestJWT(t, JWTSpec{Markers: markers, AllowActor: tc.allowActor, ActorOptIn: "P_ALLOW"})
			id, err := v.Verify(context.Background(), Credential{Token: signNow(iss, tc.claims)})
			if tc.kind == 0 {
				if err != nil || id.Subject != "user_1" || id.Actor != tc.actor {
					t.Fatalf("identity %+v, err %v; want user_1 with actor %q", id, err, tc.actor)
				}
				return
			}
			var ie *Error
			if !errors.As(err, &ie) || ie.Kind != tc.kind || !strings.Contains(ie.Message, tc.message) {
				t.Fatalf("err = %v, want %s mentioning %q", err, tc.kind, tc.message)
			}
			if id != (Identity{}) {
				t.Fatalf("an identity came with the refusal: %+v", id)
			}
		})
	}
}

func TestVerifierChecksTheCompactForm(t *testing.T) {
	v, iss := newTestJWT(t, JWTSpec{})
	good := signNow(iss, nil)
	parts := strings.Split(good, ".")
	for name, tok := range map[string]string{
		"two segments":                 parts[0] + "." + parts[1],
		"four segments":                good + ".x",
		"empty header":                 "." + parts[1] + "." + parts[2],
		"header not base64url":         "%%%." + parts[1] + "." + parts[2],
		"payload not base64url":        parts[0] + ".@@." + parts[2],
		"signature of another payload": parts[0] + "." + strings.Split(signNow(iss, jwt.MapClaims{"sub": "user_2"}), ".")[1] + "." + parts[2],
		"crit header":                  identitytest.SignWith(iss.Current(), jwt.MapClaims{"iss": iss.URL(), "sub": "u", "exp": time.Now().Add(time.Hour).Unix()}, map[string]any{"crit": []string{"exp"}}),
	} {
		if _, err := v.Verify(context.Background(), Credential{Token: tok}); !errors.Is(err, &Error{Kind: KindInvalid}) {
			t.Errorf("%s: err = %v, want invalid_token", name, err)
		}
	}
	if _, err := v.Verify(context.Background(), Credential{Token: good}); err != nil {
		t.Fatalf("the untouched token: %v", err)
	}
}
