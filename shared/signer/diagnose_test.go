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
// authenticated with the signature checked; the doctor never contradicts the
// signer.
func TestDiagnoseAgreesWithVerify(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	at := func(t time.Time) Options { return Options{Now: func() time.Time { return t }} }
	verifier, err := New(Config{Secret: docSecret, TTL: time.Hour}, at(now))
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name     string
		ttl      time.Duration
		clock    time.Time // the minting signer's clock
		subject  string
		email    string
		notAfter time.Time // MintUntil's cap; zero = Mint
	}{
		{"with email", time.Hour, now, "user_1", "a@example.com", time.Time{}},
		{"without email", time.Hour, now, "user_1", "", time.Time{}},
		{"expiry capped by the credential", time.Hour, now, "user_1", "a@example.com", now.Add(45 * time.Second)},
		{"cap later than the TTL", time.Hour, now, "user_1", "", now.Add(3 * time.Hour)},
		{"minimum TTL", MinTTL, now, "user_1", "", time.Time{}},
		{"maximum TTL", MaxTTL, now, "user_1", "", time.Time{}},
		{"unicode subject and email", time.Hour, now, "usér_ü_用户_😀", "ñandú@例え.jp", time.Time{}},
		{"minting clock 10 min behind", time.Hour, now.Add(-10 * time.Minute), "user_1", "", time.Time{}},
		{"minted almost a TTL ago", time.Minute, now.Add(-59 * time.Second), "user_1", "", time.Time{}},
		{"sub-second clocks", time.Hour, now.Add(-1500 * time.Millisecond), "user_1", "", now.Add(time.Minute + 999*time.Millisecond)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s, err := New(Config{Secret: docSecret, TTL: c.ttl}, at(c.clock))
			if err != nil {
				t.Fatal(err)
			}
			tok, err := s.MintUntil(c.subject, c.email, c.notAfter)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := verifier.Verify(tok.Value); err != nil {
				t.Fatalf("Verify refused a minted token: %v", err)
			}
			if d := Diagnose(tok.Value, []byte(docSecret), now); !d.Accepted || d.Role != Role || !d.SignatureChecked {
				t.Fatalf("Verify accepts, Diagnose says:\n%s", d)
			}
		})
	}
}

// TestDiagnoseRejectsOnlyWhatVerifyRejects is the other direction over the
// verdict cases above: a token Diagnose rejects is one Verify rejects too, and
// one Verify accepts is one Diagnose accepts. (Verify rejecting does not imply
// Diagnose rejecting: Verify is stricter than InsForge — it requires role,
// aud and exp, which InsForge does not.) Not in the table: an exp given as a
// numeric string, which golang-jwt's NumericDate decodes and InsForge refuses.
func TestDiagnoseRejectsOnlyWhatVerifyRejects(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	clock := Options{Now: func() time.Time { return now }}
	hs := func(key string, mod func(jwt.MapClaims)) string {
		c := jwt.MapClaims{"sub": "user_2abc", "role": Role, "aud": Audience, "iat": now.Unix(), "exp": now.Add(time.Hour).Unix()}
		if mod != nil {
			mod(c)
		}
		s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString([]byte(key))
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	minter, err := New(Config{Secret: docSecret, TTL: time.Hour}, clock)
	if err != nil {
		t.Fatal(err)
	}
	minted, _ := minter.Mint("kp_123", "")
	_, edKey, _ := ed25519.GenerateKey(rand.Reader)
	eddsa, _ := jwt.NewWithClaims(jwt.SigningMethodEdDSA, jwt.MapClaims{"sub": "x", "role": Role, "aud": Audience,
		"iat": now.Unix(), "exp": now.Add(time.Hour).Unix()}).SignedString(edKey)
	none := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none"}`)) + "." +
		base64.RawURLEncoding.EncodeToString([]byte(`{"sub":"x","role":"authenticated"}`)) + "."
	b64 := base64.StdEncoding.EncodeToString([]byte("raw-bytes-secret-0123456789abcdef"))

	cases := []struct {
		name, token, secret string
	}{
		{"a bridge-minted token", minted.Value, docSecret},
		{"a hand-signed valid token", hs(docSecret, nil), docSecret},
		{"missing role", hs(docSecret, func(c jwt.MapClaims) { delete(c, "role") }), docSecret},
		{"anon role", hs(docSecret, func(c jwt.MapClaims) { c["role"] = "anon" }), docSecret},
		{"no aud", hs(docSecret, func(c jwt.MapClaims) { delete(c, "aud") }), docSecret},
		{"no exp", hs(docSecret, func(c jwt.MapClaims) { delete(c, "exp") }), docSecret},
		{"copied WorkOS role member", hs(docSecret, func(c jwt.MapClaims) { c["role"] = "member" }), docSecret},
		{"service_role", hs(docSecret, func(c jwt.MapClaims) { c["role"] = "service_role" }), docSecret},
		{"EdDSA", eddsa, docSecret},
		{"alg none", none, docSecret},
		{"signed with another secret", hs("another-secret-0123456789abcdef012345", nil), docSecret},
		{"secret pasted with a newline", hs(docSecret, nil), docSecret + "\n"},
		{"signer used secret plus newline", hs(docSecret+"\n", nil), docSecret},
		{"signed with the base64-decoded secret", hs("raw-bytes-secret-0123456789abcdef", nil), b64},
		{"sub missing", hs(docSecret, func(c jwt.MapClaims) { delete(c, "sub") }), docSecret},
		{"sub empty", hs(docSecret, func(c jwt.MapClaims) { c["sub"] = "" }), docSecret},
		{"expired", hs(docSecret, func(c jwt.MapClaims) { c["exp"] = now.Add(-time.Second).Unix() }), docSecret},
		{"nbf in the future", hs(docSecret, func(c jwt.MapClaims) { c["nbf"] = now.Add(time.Minute).Unix() }), docSecret},
		{"an opaque session token", "mZAYn5aLEqKUlZ_Ad9U_fWr38GaAQ1oFAhT8ds245v7Q", docSecret},
		{"payload is not JSON", "eyJhbGciOiJIUzI1NiJ9.bm90IGpzb24.c2ln", docSecret},
	}
	var bothReject, bothAccept int
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			v, err := New(Config{Secret: c.secret, TTL: time.Hour}, clock)
			if err != nil {
				t.Fatal(err)
			}
			_, verr := v.Verify(c.token)
			d := Diagnose(c.token, []byte(c.secret), now)
			switch {
			case !d.Accepted && verr == nil:
				t.Fatalf("Diagnose rejects a token Verify accepts:\n%s", d)
			case verr == nil && (d.Role != Role || !d.SignatureChecked):
				t.Fatalf("Verify accepts, Diagnose says:\n%s", d)
			case !d.Accepted:
				bothReject++
			case verr == nil:
				bothAccept++
			}
		})
	}
	// Both directions were exercised, not vacuously satisfied.
	if bothReject < 10 || bothAccept < 2 {
		t.Fatalf("both reject %d, both accept %d: the table lost its cases", bothReject, bothAccept)
	}
}
