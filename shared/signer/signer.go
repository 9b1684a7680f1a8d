// Package signer mints and verifies InsForge access tokens: HS256 JWTs signed with
// the project's JWT_SECRET. InsForge trusts the role claim of any token signed with
// that secret, so the role is fixed here to "authenticated" and never taken from a
// caller; there is no way to mint anything else through this package.
package signer

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"

	"github.com/golang-jwt/jwt/v5"
	"github.com/insforge/edge-functions-go/shared/config"
)

const (
	// Role is the only role this package ever signs.
	Role = "authenticated"
	// Audience is the aud InsForge's integration guides put in bridge tokens.
	Audience = "insforge-api"
	// MinSecretBytes is the shortest JWT secret accepted (HS256 wants >= 256 bits).
	MinSecretBytes = 32
	// MaxTTL caps the lifetime of a minted token.
	MaxTTL = 24 * time.Hour
	// MinTTL keeps tokens usable for at least one round trip.
	MinTTL = 30 * time.Second
	// DefaultTTL is used when TOKEN_TTL is unset.
	DefaultTTL = time.Hour
)

// Config is the environment a minting function needs.
type Config struct {
	Secret string        `envconfig:"INSFORGE_JWT_SECRET" required:"true" secret:"true"`
	TTL    time.Duration `envconfig:"TOKEN_TTL" default:"1h"`
}

// Validate checks the secret length and the TTL bounds.
func (c Config) Validate() error {
	if len(c.Secret) < MinSecretBytes {
		return config.Invalid("INSFORGE_JWT_SECRET", "must be at least %d bytes", MinSecretBytes)
	}
	if c.TTL < MinTTL || c.TTL > MaxTTL {
		return config.Invalid("TOKEN_TTL", "must be between %s and %s", MinTTL, MaxTTL)
	}
	return nil
}

// Claims are the claims of an InsForge token minted here.
type Claims struct {
	Role  string `json:"role"`
	Email string `json:"email,omitempty"`
	jwt.RegisteredClaims
}

// Token is a minted token and when it expires.
type Token struct {
	Value     string
	ExpiresAt time.Time
	// TTL is the token's actual lifetime (exp - iat): TOKEN_TTL, or less when
	// capped by the credential's expiry.
	TTL time.Duration
}

// Signer mints and verifies InsForge tokens.
type Signer struct {
	secret []byte
	ttl    time.Duration
	now    func() time.Time
	parser *jwt.Parser
	macs   macPool
}

// Options tune a Signer; the zero value takes the defaults.
type Options struct {
	// Now is the clock (nil: time.Now).
	Now func() time.Time
}

// New returns a Signer. It rejects secrets shorter than MinSecretBytes and TTLs
// outside [MinTTL, MaxTTL].
func New(cfg Config, o Options) (*Signer, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	s := &Signer{secret: []byte(cfg.Secret), ttl: cfg.TTL, now: time.Now}
	s.macs.New = func() any { return hmac.New(sha256.New, s.secret) }
	if o.Now != nil {
		s.now = o.Now
	}
	s.parser = jwt.NewParser(
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithAudience(Audience),
		jwt.WithTimeFunc(func() time.Time { return s.now() }),
	)
	return s, nil
}

// ErrEmptySubject is returned when asked to mint a token without a subject.
var ErrEmptySubject = errors.New("signer: subject is empty")

// Mint signs a token for subject. email is included only when non-empty. The token
// carries no nbf: InsForge checks nbf without clock tolerance, and a token that is
// "not yet valid" on a server whose clock runs behind helps no one.
func (s *Signer) Mint(subject, email string) (Token, error) {
	return s.MintUntil(subject, email, time.Time{})
}

// ErrNotAfterPassed is returned by MintUntil when notAfter is not in the future.
var ErrNotAfterPassed = errors.New("signer: the credential's expiry has passed")

// WalletSubjectPrefix starts every wallet subject (a CAIP-10 account id of an
// EVM chain). Only MintWallet signs such a subject: a provider whose user ids
// looked like one could otherwise sign in as the wallet and read what it paid for.
const WalletSubjectPrefix = "eip155:"

// ErrWalletSubject is returned by Mint and MintUntil for a subject of the
// wallet form, and by MintWallet for a subject of any other form.
var ErrWalletSubject = errors.New("signer: eip155: subjects are wallet accounts, minted only from a verified wallet signature")

// walletSubjectRE is the one spelling of a wallet subject: CAIP-10
// (https://chainagnostic.org/CAIPs/caip-10), EVM address in lower case.
var walletSubjectRE = regexp.MustCompile(`^eip155:[1-9][0-9]{0,17}:0x[0-9a-f]{40}$`)

// IsWalletSubject reports whether subject is, or could be read as, a wallet
// subject (case, spaces and control characters ignored).
func IsWalletSubject(subject string) bool {
	s := strings.ToLower(strings.TrimLeftFunc(subject, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }))
	return strings.HasPrefix(s, WalletSubjectPrefix)
}

// MintUntil is Mint with exp = min(now + TTL, notAfter): a token minted from a
// provider credential never outlives it. A zero notAfter means no cap. notAfter
// is rounded down to the second (exp is whole seconds), so the cap holds exactly.
// It refuses wallet subjects (ErrWalletSubject): those come from MintWallet only.
func (s *Signer) MintUntil(subject, email string, notAfter time.Time) (Token, error) {
	if IsWalletSubject(subject) {
		return Token{}, ErrWalletSubject
	}
	return s.mint(subject, email, notAfter)
}

// MintWallet mints a token for a wallet whose signature was verified: subject
// is its CAIP-10 account id (eip155:<chain>:<lower-case address>), no email,
// exp = min(now + TTL, notAfter).
func (s *Signer) MintWallet(account string, notAfter time.Time) (Token, error) {
	if !walletSubjectRE.MatchString(account) {
		return Token{}, ErrWalletSubject
	}
	return s.mint(account, "", notAfter)
}

func (s *Signer) mint(subject, email string, notAfter time.Time) (Token, error) {
	if strings.TrimSpace(subject) == "" {
		return Token{}, ErrEmptySubject
	}
	now := s.now().Truncate(time.Second)
	exp := now.Add(s.ttl)
	if !notAfter.IsZero() {
		if limit := notAfter.Truncate(time.Second); limit.Before(exp) {
			exp = limit
		}
		if !exp.After(now) {
			return Token{}, ErrNotAfterPassed
		}
	}
	v := s.sign(subject, email, exp.Unix(), now.Unix())
	return Token{Value: v, ExpiresAt: exp, TTL: exp.Sub(now)}, nil
}

// header is the encoded JOSE header of every minted token: golang-jwt's
// {"alg":"HS256","typ":"JWT"}.
const header = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9"

// macs pools keyed HMAC-SHA256 states (hmac.New costs several allocations).
type macPool struct{ sync.Pool }

// sign builds the token golang-jwt would build from Claims (same bytes: role,
// email when set, sub, aud ["insforge-api"], exp, iat) with one buffer and a
// pooled HMAC: minting is on every bridge request.
func (s *Signer) sign(subject, email string, exp, iat int64) string {
	payload := make([]byte, 0, 96+len(subject)+len(email))
	payload = append(payload, `{"role":"`+Role+`"`...)
	if email != "" {
		payload = append(payload, `,"email":`...)
		payload = appendJSONString(payload, email)
	}
	payload = append(payload, `,"sub":`...)
	payload = appendJSONString(payload, subject)
	payload = append(payload, `,"aud":["`+Audience+`"],"exp":`...)
	payload = strconv.AppendInt(payload, exp, 10)
	payload = append(payload, `,"iat":`...)
	payload = strconv.AppendInt(payload, iat, 10)
	payload = append(payload, '}')

	enc := base64.RawURLEncoding
	out := make([]byte, 0, len(header)+1+enc.EncodedLen(len(payload))+1+enc.EncodedLen(sha256.Size))
	out = append(out, header...)
	out = append(out, '.')
	out = enc.AppendEncode(out, payload)
	mac := s.macs.Get().(hash.Hash)
	mac.Reset()
	mac.Write(out)
	var sum [sha256.Size]byte
	out = append(out, '.')
	out = enc.AppendEncode(out, mac.Sum(sum[:0]))
	s.macs.Put(mac)
	return string(out)
}

// appendJSONString appends s as encoding/json writes it (HTML-safe escaping,
// invalid UTF-8 replaced), taking the short path for plain ASCII.
func appendJSONString(dst []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			b, _ := json.Marshal(s)
			return append(dst, b...)
		}
	}
	dst = append(dst, '"')
	dst = append(dst, s...)
	return append(dst, '"')
}

// ErrRole is returned by Verify for a token whose role is not "authenticated".
var ErrRole = errors.New("signer: role is not " + Role)

// Verify checks a token by the rules Mint follows: HS256 with the secret, exp
// required and in the future, aud containing insforge-api, a non-empty sub and role
// "authenticated".
func (s *Signer) Verify(token string) (*Claims, error) {
	var c Claims
	_, err := s.parser.ParseWithClaims(token, &c, func(*jwt.Token) (any, error) { return s.secret, nil })
	if err != nil {
		return nil, fmt.Errorf("signer: verify: %w", err)
	}
	if strings.TrimSpace(c.Subject) == "" {
		return nil, fmt.Errorf("signer: verify: %w", ErrEmptySubject)
	}
	if c.Role != Role {
		return nil, fmt.Errorf("signer: verify: %w (got %q)", ErrRole, c.Role)
	}
	return &c, nil
}

// TTL is the lifetime of minted tokens.
func (s *Signer) TTL() time.Duration { return s.ttl }
