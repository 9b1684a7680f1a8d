package signer

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

const secret = "0123456789abcdef0123456789abcdef-test-secret"

func newSigner(t *testing.T, now time.Time) *Signer {
	t.Helper()
	s, err := New(Config{Secret: secret, TTL: time.Hour}, Options{Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestConfigRejectsBadValuesNamingTheVariable(t *testing.T) {
	cases := []struct {
		name string
		cfg  Config
		want string
	}{
		{"short secret", Config{Secret: "short", TTL: time.Hour}, "INSFORGE_JWT_SECRET"},
		{"31 bytes", Config{Secret: strings.Repeat("x", 31), TTL: time.Hour}, "INSFORGE_JWT_SECRET"},
		{"ttl over 24h", Config{Secret: secret, TTL: 25 * time.Hour}, "TOKEN_TTL"},
		{"ttl zero", Config{Secret: secret}, "TOKEN_TTL"},
		{"ttl negative", Config{Secret: secret, TTL: -time.Minute}, "TOKEN_TTL"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := New(c.cfg, Options{})
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v, want mention of %s", err, c.want)
			}
			// Never the value, nor the secret's length or the TTL given.
			for _, v := range []string{c.cfg.Secret, fmt.Sprint(len(c.cfg.Secret)), c.cfg.TTL.String()} {
				if len(v) > 1 && v != "0s" && strings.Contains(err.Error(), v) {
					t.Fatalf("the message repeats the value %q: %v", v, err)
				}
			}
		})
	}
	if _, err := New(Config{Secret: strings.Repeat("x", 32), TTL: 24 * time.Hour}, Options{}); err != nil {
		t.Fatalf("32-byte secret and 24h TTL must be accepted: %v", err)
	}
}

func TestMintProducesTheInsForgeClaimShape(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	s := newSigner(t, now)
	tok, err := s.Mint("user_123", "a@example.com")
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(tok.Value, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWS: %q", tok.Value)
	}
	var header, payload map[string]any
	decodeSegment(t, parts[0], &header)
	decodeSegment(t, parts[1], &payload)
	if header["alg"] != "HS256" || header["kid"] != nil {
		t.Fatalf("header = %v, want alg HS256 and no kid", header)
	}
	want := map[string]any{
		"sub": "user_123", "role": "authenticated", "email": "a@example.com",
		"aud": []any{"insforge-api"}, "iat": float64(now.Unix()), "exp": float64(now.Add(time.Hour).Unix()),
	}
	if len(payload) != len(want) {
		t.Fatalf("payload = %v, want exactly %v", payload, want)
	}
	for k, v := range want {
		got, _ := json.Marshal(payload[k])
		exp, _ := json.Marshal(v)
		if string(got) != string(exp) {
			t.Errorf("claim %s = %s, want %s", k, got, exp)
		}
	}
	if !tok.ExpiresAt.Equal(now.Add(time.Hour)) || tok.TTL != time.Hour {
		t.Errorf("token expiry = %v / %v", tok.ExpiresAt, tok.TTL)
	}
}

func TestMintOmitsEmailWhenNotAsserted(t *testing.T) {
	s := newSigner(t, time.Now())
	tok, err := s.Mint("user_1", "")
	if err != nil {
		t.Fatal(err)
	}
	var payload map[string]any
	decodeSegment(t, strings.Split(tok.Value, ".")[1], &payload)
	if _, ok := payload["email"]; ok {
		t.Fatalf("email present: %v", payload)
	}
}

func TestMintRefusesEmptySubject(t *testing.T) {
	s := newSigner(t, time.Now())
	for _, sub := range []string{"", " ", "\t"} {
		if _, err := s.Mint(sub, ""); !errors.Is(err, ErrEmptySubject) {
			t.Errorf("Mint(%q) err = %v, want ErrEmptySubject", sub, err)
		}
	}
}

func TestVerifyAcceptsOwnTokens(t *testing.T) {
	s := newSigner(t, time.Now())
	tok, _ := s.Mint("kp_abc", "")
	c, err := s.Verify(tok.Value)
	if err != nil {
		t.Fatal(err)
	}
	if c.Subject != "kp_abc" || c.Role != Role {
		t.Fatalf("claims = %+v", c)
	}
}

func TestVerifyRejects(t *testing.T) {
	now := time.Now()
	s := newSigner(t, now)
	sign := func(method jwt.SigningMethod, key any, claims jwt.MapClaims) string {
		v, err := jwt.NewWithClaims(method, claims).SignedString(key)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	valid := func() jwt.MapClaims {
		return jwt.MapClaims{"sub": "u1", "role": "authenticated", "aud": "insforge-api",
			"iat": now.Unix(), "exp": now.Add(time.Hour).Unix()}
	}
	with := func(k string, v any) jwt.MapClaims { c := valid(); c[k] = v; return c }
	without := func(k string) jwt.MapClaims { c := valid(); delete(c, k); return c }
	good := sign(jwt.SigningMethodHS256, []byte(secret), valid())
	parts := strings.Split(good, ".")
	cases := []struct {
		name  string
		token string
	}{
		{"wrong secret", sign(jwt.SigningMethodHS256, []byte(strings.Repeat("z", 40)), valid())},
		{"HS512", sign(jwt.SigningMethodHS512, []byte(secret), valid())},
		{"alg none", sign(jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, valid())},
		{"expired", sign(jwt.SigningMethodHS256, []byte(secret), with("exp", now.Add(-time.Minute).Unix()))},
		{"no exp", sign(jwt.SigningMethodHS256, []byte(secret), without("exp"))},
		{"role project_admin", sign(jwt.SigningMethodHS256, []byte(secret), with("role", "project_admin"))},
		{"no role", sign(jwt.SigningMethodHS256, []byte(secret), without("role"))},
		{"empty sub", sign(jwt.SigningMethodHS256, []byte(secret), with("sub", ""))},
		{"no sub", sign(jwt.SigningMethodHS256, []byte(secret), without("sub"))},
		{"wrong aud", sign(jwt.SigningMethodHS256, []byte(secret), with("aud", "other"))},
		{"no aud", sign(jwt.SigningMethodHS256, []byte(secret), without("aud"))},
		{"iat in future", sign(jwt.SigningMethodHS256, []byte(secret), with("iat", now.Add(time.Hour).Unix()))},
		{"tampered payload", parts[0] + "." + base64.RawURLEncoding.EncodeToString([]byte(`{"sub":"u2","role":"authenticated","aud":"insforge-api","exp":9999999999}`)) + "." + parts[2]},
		{"truncated", good[:len(good)-5]},
		{"garbage", "not.a.jwt"},
		{"empty", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if claims, err := s.Verify(c.token); err == nil {
				t.Fatalf("accepted: %+v", claims)
			}
		})
	}
}

func decodeSegment(t *testing.T, seg string, v any) {
	t.Helper()
	b, err := base64.RawURLEncoding.DecodeString(seg)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatal(err)
	}
}

func TestMintUntilCapsExpiryAtTheCredential(t *testing.T) {
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	s := newSigner(t, now)
	cases := []struct {
		name     string
		notAfter time.Time
		wantExp  time.Time
		wantErr  error
	}{
		{"no cap", time.Time{}, now.Add(time.Hour), nil},
		{"credential outlives TOKEN_TTL", now.Add(24 * time.Hour), now.Add(time.Hour), nil},
		{"credential expires first", now.Add(25 * time.Second), now.Add(25 * time.Second), nil},
		{"fractional expiry rounds down", now.Add(25*time.Second + 900*time.Millisecond), now.Add(25 * time.Second), nil},
		{"credential already expired", now.Add(-time.Second), time.Time{}, ErrNotAfterPassed},
		{"credential expires within the second", now.Add(500 * time.Millisecond), time.Time{}, ErrNotAfterPassed},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tok, err := s.MintUntil("user_1", "", c.notAfter)
			if c.wantErr != nil {
				if !errors.Is(err, c.wantErr) || tok.Value != "" {
					t.Fatalf("err = %v, token %q; want %v and no token", err, tok.Value, c.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			claims, err := s.Verify(tok.Value)
			if err != nil {
				t.Fatal(err)
			}
			if !tok.ExpiresAt.Equal(c.wantExp) || !claims.ExpiresAt.Time.Equal(c.wantExp) || tok.TTL != c.wantExp.Sub(now) {
				t.Fatalf("exp = %v (claim %v), ttl %v; want %v", tok.ExpiresAt, claims.ExpiresAt, tok.TTL, c.wantExp)
			}
		})
	}
}

// The hand-built token is byte for byte what golang-jwt builds from Claims, for
// subjects and emails that need escaping as well as plain ones.
func TestMintBuildsTheSameBytesAsGolangJWT(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	s, err := New(Config{Secret: strings.Repeat("k", 32), TTL: time.Hour}, Options{Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ sub, email string }{
		{"user_2NNEqL2nrIRdJ194ndJqAHwEfxC", ""},
		{"auth0|123456", "ada@example.com"},
		{`a"b\c`, "<script>&"},
		{"ué\u2028", "x\x00y"},
		{"bad\xffutf8", "\x7f"},
	} {
		tok, err := s.Mint(c.sub, c.email)
		if err != nil {
			t.Fatal(err)
		}
		want, err := jwt.NewWithClaims(jwt.SigningMethodHS256, Claims{Role: Role, Email: c.email, RegisteredClaims: jwt.RegisteredClaims{
			Subject: c.sub, Audience: jwt.ClaimStrings{Audience}, IssuedAt: jwt.NewNumericDate(now), ExpiresAt: jwt.NewNumericDate(now.Add(time.Hour)),
		}}).SignedString([]byte(strings.Repeat("k", 32)))
		if err != nil {
			t.Fatal(err)
		}
		if tok.Value != want {
			t.Errorf("%q %q:\n got %s\nwant %s", c.sub, c.email, tok.Value, want)
		}
	}
}

func TestWalletSubjectsAreMintedByMintWalletOnly(t *testing.T) {
	s, err := New(Config{Secret: strings.Repeat("k", 32), TTL: time.Hour}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	account := "eip155:196:0xf39fd6e51aad88f6f4ce6ab8827279cfffb92266"
	for _, sub := range []string{account, "EIP155:196:0xF39FD6E51AAD88F6F4CE6AB8827279CFFFB92266", " eip155:1:0xabc", "\teip155:x", "eip155:"} {
		if _, err := s.Mint(sub, ""); !errors.Is(err, ErrWalletSubject) {
			t.Errorf("Mint(%q): %v, want ErrWalletSubject", sub, err)
		}
		if _, err := s.MintUntil(sub, "", time.Now().Add(time.Minute)); !errors.Is(err, ErrWalletSubject) {
			t.Errorf("MintUntil(%q): %v, want ErrWalletSubject", sub, err)
		}
	}
	for _, sub := range []string{"user_2abc", "eip155:196:0xF39FD6E51AAD88F6F4CE6AB8827279CFFFB92266", "eip155:196:0xf39f", "eip155:0196:0x" + strings.Repeat("a", 40),
		"eip155:196:0x" + strings.Repeat("a", 40) + "\n", "solana:abc"} {
		if _, err := s.MintWallet(sub, time.Time{}); !errors.Is(err, ErrWalletSubject) {
			t.Errorf("MintWallet(%q): %v, want ErrWalletSubject", sub, err)
		}
	}
	tok, err := s.MintWallet(account, time.Now().Add(10*time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	c, err := s.Verify(tok.Value)
	if err != nil || c.Subject != account || c.Email != "" || c.Role != Role || tok.TTL > 10*time.Minute {
		t.Fatalf("%v %+v %s", err, c, tok.TTL)
	}
}
