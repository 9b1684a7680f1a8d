package siwe

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"time"

	"github.com/insforge/edge-functions-go/shared/internal/positive"
)

// Nonces issues and checks stateless sign-in nonces: hex(expiry ‖ 12 random
// bytes ‖ HMAC-SHA-256 tag), 72 letters and digits (EIP-4361 wants ≥ 8
// alphanumerics). Issuing writes nothing: a flood of GET /nonce costs no
// storage and no upstream call. A nonce proves only that this deployment issued
// it and when it ends; single use is the NonceStore's job, consulted only after
// a message's signature verified, so junk never reaches the store either.
type Nonces struct {
	key []byte
	ttl time.Duration
}

// NonceTTL is how long an issued nonce stays usable (the sign-in window).
const NonceTTL = 10 * time.Minute

const (
	nonceRandBytes = 12
	nonceTagBytes  = 16
	nonceBytes     = 8 + nonceRandBytes + nonceTagBytes
	// nonceKeyLabel separates the nonce key from every other use of the secret it
	// is derived from.
	nonceKeyLabel = "insforge-siwe-nonce-v1"
)

// NewNonces derives the nonce key from secret (HMAC-SHA-256 keyed by secret over
// a fixed label: the derived key signs nothing else, and knowing it reveals
// nothing of secret). ttl <= 0 takes NonceTTL.
func NewNonces(secret []byte, ttl time.Duration) *Nonces {
	ttl = positive.Or(ttl, NonceTTL)
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(nonceKeyLabel))
	return &Nonces{key: m.Sum(nil), ttl: ttl}
}

// TTL is the lifetime of an issued nonce.
func (n *Nonces) TTL() time.Duration { return n.ttl }

// Issue returns a fresh nonce and when it expires (whole seconds).
func (n *Nonces) Issue(now time.Time) (string, time.Time, error) {
	exp := now.Add(n.ttl).Truncate(time.Second)
	b := make([]byte, nonceBytes)
	binary.BigEndian.PutUint64(b[:8], uint64(exp.Unix()))
	if _, err := rand.Read(b[8 : 8+nonceRandBytes]); err != nil {
		return "", time.Time{}, err
	}
	copy(b[8+nonceRandBytes:], n.tag(b[:8+nonceRandBytes]))
	return hex.EncodeToString(b), exp, nil
}

// Check verifies that nonce was issued by this key and has not expired; it
// returns the nonce's expiry (the used-nonce record need not outlive it).
func (n *Nonces) Check(nonce string, now time.Time) (time.Time, error) {
	b, err := hex.DecodeString(nonce)
	if err != nil || len(b) != nonceBytes || len(nonce) != 2*nonceBytes || nonce != hex.EncodeToString(b) {
		return time.Time{}, &Error{Kind: KindNonce, Message: "the nonce was not issued by this API; get one from GET /token/wallet/nonce"}
	}
	if !hmac.Equal(b[8+nonceRandBytes:], n.tag(b[:8+nonceRandBytes])) {
		return time.Time{}, &Error{Kind: KindNonce, Message: "the nonce was not issued by this API; get one from GET /token/wallet/nonce"}
	}
	exp := time.Unix(int64(binary.BigEndian.Uint64(b[:8])), 0)
	if !now.Before(exp) {
		return time.Time{}, &Error{Kind: KindNonce, Message: "the nonce expired; get a new one from GET /token/wallet/nonce"}
	}
	if exp.Sub(now) > n.ttl+time.Minute {
		// Validly tagged but further out than this deployment issues: a key shared
		// with a differently configured issuer. Refused rather than trusted.
		return time.Time{}, &Error{Kind: KindNonce, Message: "the nonce's lifetime exceeds this API's"}
	}
	return exp, nil
}

func (n *Nonces) tag(b []byte) []byte {
	m := hmac.New(sha256.New, n.key)
	m.Write(b)
	return m.Sum(nil)[:nonceTagBytes]
}

// NonceStore records used nonces, across every instance of the function.
type NonceStore interface {
	// Consume records nonce as used until expiresAt. It returns ErrNonceUsed when
	// it was recorded before; any other error means the store could not answer.
	Consume(ctx context.Context, nonce string, expiresAt time.Time) error
}

// ErrNonceUsed is returned by a NonceStore for a nonce consumed before.
var ErrNonceUsed = errors.New("siwe: nonce already used")
