// Package siwetest makes Sign-In with Ethereum fixtures for tests: a wallet
// (a secp256k1 key), messages in the EIP-4361 layout and EIP-191 signatures,
// and an in-memory NonceStore with the semantics of the InsForge one.
package siwetest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/decred/dcrd/dcrec/secp256k1/v4"
	"github.com/decred/dcrd/dcrec/secp256k1/v4/ecdsa"

	"github.com/insforge/edge-functions-go/shared/siwe"
)

// Wallet is an externally owned account.
type Wallet struct {
	key *secp256k1.PrivateKey
	// Address is the EIP-55 checksummed address.
	Address string
}

// NewWallet returns a wallet with a fresh key.
func NewWallet(t testing.TB) *Wallet {
	t.Helper()
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return WalletFromKey(t, hex.EncodeToString(b))
}

// WalletFromKey returns the wallet of a hex private key (no 0x).
func WalletFromKey(t testing.TB, hexKey string) *Wallet {
	t.Helper()
	b, err := hex.DecodeString(strings.TrimPrefix(hexKey, "0x"))
	if err != nil || len(b) != 32 {
		t.Fatalf("siwetest: bad key")
	}
	k := secp256k1.PrivKeyFromBytes(b)
	return &Wallet{key: k, Address: siwe.ChecksumAddress(siwe.AddressOf(k.PubKey())[2:])}
}

// Sign returns the EIP-191 personal_sign signature of msg (0x r‖s‖v, v 27/28).
func (w *Wallet) Sign(msg string) string {
	c := ecdsa.SignCompact(w.key, siwe.HashMessage(msg), false) // [27+recid] ‖ r ‖ s, low s
	sig := append(append([]byte{}, c[1:]...), c[0])
	return "0x" + hex.EncodeToString(sig)
}

// Fields of a message; Build lays them out as EIP-4361 does.
type Fields struct {
	Scheme, Domain, Address, Statement, URI, Version string
	ChainID                                          int64
	Nonce                                            string
	IssuedAt, ExpirationTime, NotBefore              time.Time
	RequestID                                        string
	Resources                                        []string
}

// Build is the message text, with viem's layout (one blank line without a statement).
func (f Fields) Build() string {
	var b strings.Builder
	if f.Scheme != "" {
		b.WriteString(f.Scheme + "://")
	}
	fmt.Fprintf(&b, "%s wants you to sign in with your Ethereum account:\n%s\n\n", f.Domain, f.Address)
	if f.Statement != "" {
		b.WriteString(f.Statement + "\n\n")
	}
	v := f.Version
	if v == "" {
		v = "1"
	}
	fmt.Fprintf(&b, "URI: %s\nVersion: %s\nChain ID: %d\nNonce: %s\nIssued At: %s", f.URI, v, f.ChainID, f.Nonce,
		f.IssuedAt.UTC().Format("2006-01-02T15:04:05.000Z"))
	if !f.ExpirationTime.IsZero() {
		b.WriteString("\nExpiration Time: " + f.ExpirationTime.UTC().Format("2006-01-02T15:04:05.000Z"))
	}
	if !f.NotBefore.IsZero() {
		b.WriteString("\nNot Before: " + f.NotBefore.UTC().Format("2006-01-02T15:04:05.000Z"))
	}
	if f.RequestID != "" {
		b.WriteString("\nRequest ID: " + f.RequestID)
	}
	if len(f.Resources) > 0 {
		b.WriteString("\nResources:")
		for _, r := range f.Resources {
			b.WriteString("\n- " + r)
		}
	}
	return b.String()
}

// Store is an in-memory siwe.NonceStore: a nonce is consumed once.
type Store struct {
	mu   sync.Mutex
	used map[string]time.Time
	// Err, when set, is returned by every Consume (an unreachable store).
	Err error
}

// NewStore returns an empty store.
func NewStore() *Store { return &Store{used: map[string]time.Time{}} }

// Consume implements siwe.NonceStore.
func (s *Store) Consume(_ context.Context, nonce string, exp time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.Err != nil {
		return s.Err
	}
	if _, ok := s.used[nonce]; ok {
		return siwe.ErrNonceUsed
	}
	s.used[nonce] = exp
	return nil
}

// Used is how many nonces were consumed.
func (s *Store) Used() int { s.mu.Lock(); defer s.mu.Unlock(); return len(s.used) }
