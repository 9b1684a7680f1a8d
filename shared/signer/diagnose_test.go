package signer

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

const docSecret = "doctor-secret-0123456789abcdef0123456789"

func TestDiagnoseExplainsInsForgeVerdicts(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	hs := func(key string, claims jwt.MapClaims) string {
		s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString([]byte(key))
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	base := func(mod func(jwt.MapClaims)) jwt.MapClaims {
		c := jwt.MapClaims{"sub": "user_2abc", "role": "authenticated", "aud": "insforge-api", "iat": now.Unix(), "exp": now.Add(time.Hour).Unix()}
		if mod != nil {
			mod(c)
		}
		return c
	}
	s, err := New(Config{Secret: docSecret, TTL: time.Hour}, Options{Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	minted, _ := s.Mint("kp_123", "")
	_, edKey, _ := ed25519.GenerateKey(rand.Reader)
	eddsa, _ := jwt.NewWithClaims(jwt.SigningMethodEdDSA, base(nil)).SignedString(edKey)
	hs512, _ := jwt.NewWithClaims(jwt.SigningMethodHS512, base(nil)).SignedString([]byte(docSecret))
	none := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none"}`)) + "." +
		base64.RawURLEncoding.EncodeToString([]byte(`{"sub":"x","role":"authenticated"}`)) + "."

	cases := []struct {
		name     string
		token    string
		secret   string
		accepted bool
		role     string
		check    string // the finding that explains it
		level    Level
		says     string // words the explanation must contain
	}{
		{"a bridge-minted token", minted.Value, docSecret, true, "authenticated", "signature", OK, "valid"},
		{"with a Bearer prefix pasted", "Bearer " + minted.Value, docSecret, true, "authenticated", "role", OK, "authenticated"},
		{"missing role means authenticated", hs(docSecret, base(func(c jwt.MapClaims) { delete(c, "role") })), docSecret, true, "authenticated", "role", Warn, "treats the token as role authenticated"},
		{"project_admin is an admin token", hs(docSecret, base(func(c jwt.MapClaims) { c["role"] = "project_admin" })), docSecret, true, "project_admin", "role", Warn, "ADMIN token"},
		{"anon role", hs(docSecret, base(func(c jwt.MapClaims) { c["role"] = "anon" })), docSecret, true, "anon", "role", Warn, "anonymous"},
		{"copied WorkOS role member", hs(docSecret, base(func(c jwt.MapClaims) { c["role"] = "member" })), docSecret, false, "", "role", Fail, "Invalid user role claim"},
		{"service_role", hs(docSecret, base(func(c jwt.MapClaims) { c["role"] = "service_role" })), docSecret, false, "", "role", Fail, "403"},
		{"a provider token (EdDSA/RS256)", eddsa, docSecret, false, "", "alg", Fail, "bridge"},
		{"a Clerk template with HS512", hs512, docSecret, false, "", "alg", Fail, "HS256"},
		{"alg none", none, docSecret, false, "", "alg", Fail, "unsigned"},
		{"signed with another secret", hs("another-secret-0123456789abcdef012345", base(nil)), docSecret, false, "", "signature", Fail, "different secret"},
		{"secret pasted with a newline", hs(docSecret, base(nil)), docSecret + "\n", false, "", "signature", Fail, "stray space or newline"},
		{"signer used secret plus newline", hs(docSecret+"\n", base(nil)), docSecret, false, "", "signature", Fail, "trailing newline"},
		{"signed with the base64-decoded secret", hs("raw-bytes-secret-0123456789abcdef", base(nil)),
			base64.StdEncoding.EncodeToString([]byte("raw-bytes-secret-0123456789abcdef")), false, "", "signature", Fail, "base64-DECODED"},
		{"sub missing", hs(docSecret, base(func(c jwt.MapClaims) { delete(c, "sub") })), docSecret, false, "", "sub", Fail, "Invalid token subject"},
		{"sub empty", hs(docSecret, base(func(c jwt.MapClaims) { c["sub"] = "" })), docSecret, false, "", "sub", Fail, "Invalid token subject"},
		{"sub is a template shortcode", hs(docSecret, base(func(c jwt.MapClaims) { c["sub"] = "{{user.id}}" })), docSecret, true, "authenticated", "sub", Warn, "shortcode"},
		{"expired", hs(docSecret, base(func(c jwt.MapClaims) { c["exp"] = now.Add(-time.Second).Unix() })), docSecret, false, "", "exp", Fail, "no clock skew"},
		{"exp is a string", hs(docSecret, base(func(c jwt.MapClaims) { c["exp"] = "1900000000" })), docSecret, false, "", "exp", Fail, "not a number"},
		{"no exp never expires", hs(docSecret, base(func(c jwt.MapClaims) { delete(c, "exp") })), docSecret, true, "authenticated", "exp", Warn, "never expires"},
		{"a 60 s Clerk template token", hs(docSecret, base(func(c jwt.MapClaims) { c["exp"] = now.Add(50 * time.Second).Unix() })), docSecret, true, "authenticated", "exp", Warn, "60 s"},
		{"nbf in the future", hs(docSecret, base(func(c jwt.MapClaims) { c["nbf"] = now.Add(time.Minute).Unix() })), docSecret, false, "", "nbf", Fail, "no clock tolerance"},
		{"aud is not checked by InsForge", hs(docSecret, base(func(c jwt.MapClaims) { delete(c, "aud") })), docSecret, true, "authenticated", "aud", Info, "does not check aud"},
		{"a Clerk template token", hs(docSecret, base(func(c jwt.MapClaims) { c["iss"] = "https://fine-cat-1.clerk.accounts.dev" })), docSecret, true, "authenticated", "iss", Info, "no bridge needed"},
		{"no secret: signature unknown", minted.Value, "", true, "authenticated", "signature", Info, "INSFORGE_JWT_SECRET"},
		{"an opaque session token", "mZAYn5aLEqKUlZ_Ad9U_fWr38GaAQ1oFAhT8ds245v7Q", docSecret, false, "", "format", Fail, "bridge"},
		{"payload is not JSON", "eyJhbGciOiJIUzI1NiJ9.bm90IGpzb24.c2ln", docSecret, false, "", "format", Fail, "payload"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d := Diagnose(c.token, []byte(c.secret), now)
			report := d.String()
			if d.Accepted != c.accepted || d.Role != c.role {
				t.Fatalf("accepted=%v role=%q, want %v %q\n%s", d.Accepted, d.Role, c.accepted, c.role, report)
			}
			found := false
			for _, f := range d.Findings {
				if f.Check == c.check && f.Level == c.level && strings.Contains(f.Message, c.says) {
					found = true
				}
			}
			if !found {
				t.Fatalf("no %s %s finding saying %q:\n%s", c.level, c.check, c.says, report)
			}
			if c.secret != "" && strings.Contains(report, strings.TrimSpace(c.secret)) {
				t.Fatal("the report prints the secret")
			}
			verdict := map[bool]string{true: "ACCEPTED", false: "REJECTED"}[c.accepted]
			if !strings.Contains(report, verdict) {
				t.Fatalf("report lacks %s:\n%s", verdict, report)
			}
		})
	}
}

// TestDiagnoseAgreesWithVerify: every token Verify accepts, Diagnose accepts as
// authenticated; the doctor never contradicts the signer.
func TestDiagnoseAgreesWithVerify(t *testing.T) {
	now := time.Now()
	s, _ := New(Config{Secret: docSecret, TTL: time.Minute}, Options{})
	tok, _ := s.Mint("user_1", "a@example.com")
	if _, err := s.Verify(tok.Value); err != nil {
		t.Fatal(err)
	}
	if d := Diagnose(tok.Value, []byte(docSecret), now); !d.Accepted || d.Role != Role || !d.SignatureChecked {
		t.Fatalf("%s", d)
	}
}
