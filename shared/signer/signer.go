// Package signer mints and verifies InsForge access tokens: HS256 JWTs signed with
// the project's JWT_SECRET. InsForge trusts the role claim of any token signed with
// that secret, so the role is fixed here to "authenticated" and never taken from a
// caller; there is no way to mint anything else through this package.
package signer

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
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
		return config.Invalid("INSFORGE_JWT_SECRET", "must be at least %d bytes (got %d)", MinSecretBytes, len(c.Secret))
	}
	if c.TTL < MinTTL || c.TTL > MaxTTL {
		return config.Invalid("TOKEN_TTL", "must be between %s and %s (got %s)", MinTTL, MaxTTL, c.TTL)
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
	claims := Claims{
		Role:  Role,
		Email: email,
		RegisteredClaims: jwt.RegisteredClaims{
			Subject:   subject,
			Audience:  jwt.ClaimStrings{Audience},
			IssuedAt:  jwt.NewNumericDate(now),
			ExpiresAt: jwt.NewNumericDate(exp),
		},
	}
	v, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString(s.secret)
	if err != nil {
		return Token{}, fmt.Errorf("signer: sign: %w", err)
	}
	return Token{Value: v, ExpiresAt: exp, TTL: exp.Sub(now)}, nil
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
