package siwe_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"math/big"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/decred/dcrd/dcrec/secp256k1/v4"
	"github.com/insforge/edge-functions-go/shared/lookupguard"
	"github.com/insforge/edge-functions-go/shared/siwe"
	"github.com/insforge/edge-functions-go/shared/siwe/siwetest"
)

var now = time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)

var testSecret = []byte("0123456789abcdef0123456789abcdef")

type fixture struct {
	v      *siwe.Verifier
	store  *siwetest.Store
	nonces *siwe.Nonces
	wallet *siwetest.Wallet
	clock  time.Time
}

func newFixture(t *testing.T, contracts siwe.ContractChecker) *fixture {
	t.Helper()
	f := &fixture{store: siwetest.NewStore(), nonces: siwe.NewNonces(testSecret, 0), wallet: siwetest.NewWallet(t), clock: now}
	v, err := siwe.NewVerifier(siwe.Options{Origins: []string{"https://app.example.com", "http://localhost:5173"},
		Nonces: f.nonces, Store: f.store, Contracts: contracts, Now: func() time.Time { return f.clock }})
	if err != nil {
		t.Fatal(err)
	}
	f.v = v
	return f
}

func (f *fixture) fields(t *testing.T) siwetest.Fields {
	t.Helper()
	n, _, err := f.nonces.Issue(f.clock)
	if err != nil {
		t.Fatal(err)
	}
	return siwetest.Fields{Scheme: "https", Domain: "app.example.com", Address: f.wallet.Address, Statement: "Sign in to the example app.",
		URI: "https://app.example.com/login", ChainID: 196, Nonce: n, IssuedAt: f.clock.Add(-time.Second),
		ExpirationTime: f.clock.Add(15 * time.Minute)}
}

func TestVerifyAcceptsASignedMessage(t *testing.T) {
	f := newFixture(t, nil)
	fl := f.fields(t)
	msg := fl.Build()
	r, err := f.v.Verify(context.Background(), msg, f.wallet.Sign(msg))
	if err != nil {
		t.Fatal(err)
	}
	want := "eip155:196:" + strings.ToLower(f.wallet.Address)
	if r.Account != want || !r.NotAfter.Equal(fl.ExpirationTime.Truncate(time.Millisecond)) || r.Contract {
		t.Fatalf("got %+v, want account %s", r, want)
	}
	if f.store.Used() != 1 {
		t.Fatalf("nonce not consumed")
	}
}

// The attack cases: each refused with its own code, and none consumes a nonce
// except a genuine replay (which finds it consumed).
func TestVerifyRefusesEachAttackWithItsOwnCode(t *testing.T) {
	other := siwetest.NewWallet(t)
	cases := []struct {
		name   string
		edit   func(f *fixture, fl *siwetest.Fields)
		sign   func(f *fixture, msg string) string
		want   siwe.Kind
		before func(f *fixture, msg, sig string)
	}{
		{name: "another domain", edit: func(_ *fixture, fl *siwetest.Fields) {
			fl.Domain, fl.URI = "evil.example.com", "https://evil.example.com/login"
		}, want: siwe.KindDomain},
		{name: "allowed host, other scheme", edit: func(_ *fixture, fl *siwetest.Fields) { fl.Scheme = "http" }, want: siwe.KindDomain},
		{name: "allowed host, other port", edit: func(_ *fixture, fl *siwetest.Fields) {
			fl.Domain, fl.URI = "app.example.com:8443", "https://app.example.com:8443/"
		}, want: siwe.KindDomain},
		{name: "uri on another host", edit: func(_ *fixture, fl *siwetest.Fields) { fl.URI = "https://evil.example.com/login" }, want: siwe.KindURI},
		{name: "another chain", edit: func(_ *fixture, fl *siwetest.Fields) { fl.ChainID = 1 }, want: siwe.KindChain},
		{name: "nonce not issued here", edit: func(_ *fixture, fl *siwetest.Fields) {
			other := siwe.NewNonces([]byte("another deployment's secret, 32 bytes"), 0)
			fl.Nonce, _, _ = other.Issue(now)
		}, want: siwe.KindNonce},
		{name: "nonce tampered", edit: func(_ *fixture, fl *siwetest.Fields) {
			b := []byte(fl.Nonce)
			b[3] ^= 1
			fl.Nonce = string(b)
		}, want: siwe.KindNonce},
		{name: "nonce of the right shape, made up", edit: func(_ *fixture, fl *siwetest.Fields) { fl.Nonce = "abcdefgh12345678" }, want: siwe.KindNonce},
		{name: "nonce expired", edit: func(f *fixture, fl *siwetest.Fields) {
			fl.Nonce, _, _ = f.nonces.Issue(now.Add(-siwe.NonceTTL - time.Second))
		}, want: siwe.KindNonce},
		{name: "nonce reused", before: func(f *fixture, msg, sig string) {
			if _, err := f.v.Verify(context.Background(), msg, sig); err != nil {
				t.Fatal(err)
			}
		}, want: siwe.KindNonceUsed},
		{name: "issued too long ago", edit: func(_ *fixture, fl *siwetest.Fields) { fl.IssuedAt = now.Add(-siwe.MaxAge - time.Second) }, want: siwe.KindExpired},
		{name: "expiration passed", edit: func(_ *fixture, fl *siwetest.Fields) { fl.ExpirationTime = now }, want: siwe.KindExpired},
		{name: "expires before it was issued", edit: func(_ *fixture, fl *siwetest.Fields) {
			fl.IssuedAt, fl.ExpirationTime = now.Add(20*time.Second), now.Add(10*time.Second)
		}, want: siwe.KindExpired},
		{name: "issued in the future", edit: func(_ *fixture, fl *siwetest.Fields) { fl.IssuedAt = now.Add(siwe.Leeway + time.Second) }, want: siwe.KindNotYetValid},
		{name: "not before in the future", edit: func(_ *fixture, fl *siwetest.Fields) { fl.NotBefore = now.Add(siwe.Leeway + time.Second) }, want: siwe.KindNotYetValid},
		{name: "signed by another key", sign: func(_ *fixture, msg string) string { return other.Sign(msg) }, want: siwe.KindSignature},
		{name: "signature of another message", sign: func(f *fixture, msg string) string { return f.wallet.Sign(msg + " ") }, want: siwe.KindSignature},
		{name: "high-s twin of a valid signature", sign: func(f *fixture, msg string) string { return highS(t, f.wallet.Sign(msg)) }, want: siwe.KindSignature},
		{name: "recovery id out of range", sign: func(f *fixture, msg string) string {
			s := f.wallet.Sign(msg)
			return s[:len(s)-2] + "1d"
		}, want: siwe.KindSignature},
		{name: "signature not hex", sign: func(*fixture, string) string { return "0xzz" }, want: siwe.KindSignature},
		{name: "contract-wallet signature without an RPC", sign: func(*fixture, string) string { return "0x" + strings.Repeat("ab", 97) }, want: siwe.KindContractWallet},
		{name: "extra field", sign: nil, edit: func(_ *fixture, fl *siwetest.Fields) { fl.Resources = []string{"not a uri"} }, want: siwe.KindMalformed},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := newFixture(t, nil)
			fl := f.fields(t)
			if c.edit != nil {
				c.edit(f, &fl)
			}
			msg := fl.Build()
			sig := f.wallet.Sign(msg)
			if c.sign != nil {
				sig = c.sign(f, msg)
			}
			used := 0
			if c.before != nil {
				c.before(f, msg, sig)
				used = f.store.Used()
			}
			r, err := f.v.Verify(context.Background(), msg, sig)
			if r != nil || !errors.Is(err, &siwe.Error{Kind: c.want}) {
				t.Fatalf("got %v, %v; want %s", r, err, c.want)
			}
			if f.store.Used() != used {
				t.Fatalf("a refused sign-in consumed a nonce")
			}
		})
	}
}

func TestVerifyReportsAnUnreachableNonceStore(t *testing.T) {
	f := newFixture(t, nil)
	f.store.Err = errors.New("connection refused")
	msg := f.fields(t).Build()
	if _, err := f.v.Verify(context.Background(), msg, f.wallet.Sign(msg)); !errors.Is(err, &siwe.Error{Kind: siwe.KindUnavailable}) {
		t.Fatalf("got %v", err)
	}
}

func TestNewVerifierRefusesNoExactOrigin(t *testing.T) {
	for _, origins := range [][]string{nil, {"*"}, {"app.example.com"}} {
		if _, err := siwe.NewVerifier(siwe.Options{Origins: origins, Nonces: siwe.NewNonces(testSecret, 0), Store: siwetest.NewStore()}); err == nil {
			t.Errorf("origins %q accepted", origins)
		}
	}
}

// highS returns the other valid signature of the same key and digest:
// s' = n - s, v flipped (EIP-2 malleability).
func highS(t *testing.T, sig string) string {
	t.Helper()
	b, _ := hex.DecodeString(sig[2:])
	s := new(big.Int).SetBytes(b[32:64])
	s.Sub(secp256k1.S256().N, s)
	s.FillBytes(b[32:64])
	b[64] ^= 1 // 27 <-> 28
	return "0x" + hex.EncodeToString(b)
}

type vector struct {
	Message, Signature, Address string
}

func loadVectors(t *testing.T) []vector {
	t.Helper()
	b, err := os.ReadFile("testdata/viem_vectors.json")
	if err != nil {
		t.Fatal(err)
	}
	var vs []vector
	if err := json.Unmarshal(b, &vs); err != nil || len(vs) != 2 {
		t.Fatalf("vectors: %v (%d)", err, len(vs))
	}
	return vs
}

// Messages and signatures made by viem (testdata/viem_vectors.mjs), with and
// without a statement, pass the whole verification.
func TestVerifyAcceptsViemMessages(t *testing.T) {
	for i, vec := range loadVectors(t) {
		store := siwetest.NewStore()
		v, err := siwe.NewVerifier(siwe.Options{Origins: []string{"https://app.example.com"}, Nonces: siwe.NewNonces(testSecret, 0),
			Store: store, Now: func() time.Time { return time.Date(2026, 12, 7, 12, 1, 0, 0, time.UTC) }})
		if err != nil {
			t.Fatal(err)
		}
		r, err := v.Verify(context.Background(), vec.Message, vec.Signature)
		if err != nil {
			t.Fatalf("vector %d: %v", i, err)
		}
		if r.Account != "eip155:196:"+strings.ToLower(vec.Address) || !r.NotAfter.Equal(time.Date(2026, 12, 7, 12, 10, 0, 0, time.UTC)) ||
			r.Message.RequestID != "req-42" || len(r.Message.Resources) != 1 {
			t.Fatalf("vector %d: %+v", i, r)
		}
		// Our own signer agrees with viem's byte for byte (RFC 6979 signatures are deterministic).
		w := siwetest.WalletFromKey(t, "ac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80")
		if w.Address != vec.Address || w.Sign(vec.Message) != vec.Signature {
			t.Fatalf("vector %d: siwetest signs differently from viem", i)
		}
	}
}

// The vectors' nonce, re-derived from the documented construction, pins the
// nonce format: expiry ‖ random ‖ HMAC-SHA-256(HMAC-SHA-256(secret, label), …)[:16].
func TestNonceFormatMatchesTheVectors(t *testing.T) {
	m := hmac.New(sha256.New, testSecret)
	m.Write([]byte("insforge-siwe-nonce-v1"))
	b := make([]byte, 20)
	binary.BigEndian.PutUint64(b, uint64(time.Date(2026, 12, 7, 12, 10, 0, 0, time.UTC).Unix()))
	copy(b[8:], "viem-vector!")
	tag := hmac.New(sha256.New, m.Sum(nil))
	tag.Write(b)
	want := hex.EncodeToString(append(b, tag.Sum(nil)[:16]...))
	if !strings.Contains(loadVectors(t)[0].Message, "\nNonce: "+want+"\n") {
		t.Fatalf("the vector's nonce is not %s", want)
	}
}

// BenchmarkVerify is one sign-in check without its store round trip: parse,
// domain/chain/time rules, nonce tag, EIP-191 recovery (decred secp256k1).
func BenchmarkVerify(b *testing.B) {
	nonces := siwe.NewNonces(testSecret, time.Hour)
	w := siwetest.NewWallet(b)
	v, err := siwe.NewVerifier(siwe.Options{Origins: []string{"https://app.example.com"}, Nonces: nonces, Store: noStore{},
		Now: func() time.Time { return now }})
	if err != nil {
		b.Fatal(err)
	}
	n, _, _ := nonces.Issue(now)
	msg := siwetest.Fields{Domain: "app.example.com", Address: w.Address, URI: "https://app.example.com/", ChainID: 196, Nonce: n,
		IssuedAt: now}.Build()
	sig := w.Sign(msg)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := v.Verify(context.Background(), msg, sig); err != nil {
			b.Fatal(err)
		}
	}
}

// noStore accepts every nonce (the benchmark measures the local checks).
type noStore struct{}

func (noStore) Consume(context.Context, string, time.Time) error { return nil }

// junkSignature is a 100-byte signature no key made (it cannot recover to an
// address), different for each i: what a flood of fake contract-wallet
// sign-ins sends.
func junkSignature(i int) string {
	b := make([]byte, 100)
	binary.BigEndian.PutUint64(b[:8], uint64(i)+1)
	return "0x" + hex.EncodeToString(b)
}

func TestVerifyBoundsEIP1271CallsForJunkSignatures(t *testing.T) {
	const n = 1000
	for _, c := range []struct {
		name      string
		signature func(f *fixture, msg string, i int) string
		// wantCalls is the exact number of eth_calls the node sees.
		wantCalls int32
		wantKinds map[siwe.Kind]int
	}{
		{"1,000 different junk signatures: at most burst calls, the rest throttled",
			func(_ *fixture, _ string, i int) string { return junkSignature(i) },
			lookupguard.DefaultBurst, map[siwe.Kind]int{siwe.KindSignature: lookupguard.DefaultBurst, siwe.KindThrottled: n - lookupguard.DefaultBurst}},
		{"the same junk 1,000 times: one call, then the negative cache",
			func(_ *fixture, _ string, _ int) string { return junkSignature(0) },
			1, map[siwe.Kind]int{siwe.KindSignature: n}},
		{"1,000 valid EOA sign-ins: no call, the limiter untouched",
			func(f *fixture, msg string, _ int) string { return f.wallet.Sign(msg) },
			0, map[siwe.Kind]int{"": n}}, // "": signed in
	} {
		t.Run(c.name, func(t *testing.T) {
			node := &contractNode{accept: []byte("never")}
			srv := httptest.NewServer(node)
			defer srv.Close()
			guard := lookupguard.New(lookupguard.Options{})
			f := newFixture(t, nil)
			node.wallet = strings.ToLower(f.wallet.Address) // the address has code: it looks like a contract wallet
			v, err := siwe.NewVerifier(siwe.Options{Origins: []string{"https://app.example.com"}, Nonces: f.nonces, Store: f.store,
				Contracts: siwe.NewRPC(srv.URL), Guard: guard, Now: func() time.Time { return f.clock }})
			if err != nil {
				t.Fatal(err)
			}
			msg := f.fields(t).Build()
			kinds := map[siwe.Kind]int{}
			for i := 0; i < n; i++ {
				if c.wantKinds[""] > 0 { // a valid sign-in consumes its nonce: each needs its own
					msg = f.fields(t).Build()
				}
				_, err := v.Verify(context.Background(), msg, c.signature(f, msg, i))
				var se *siwe.Error
				switch {
				case err == nil:
					kinds[""]++
				case errors.As(err, &se):
					kinds[se.Kind]++
				default:
					t.Fatalf("sign-in %d: %v", i, err)
				}
			}
			if got := node.calls.Load(); got != c.wantCalls {
				t.Errorf("node saw %d eth_calls, want %d", got, c.wantCalls)
			}
			if len(kinds) != len(c.wantKinds) {
				t.Errorf("outcomes %v, want %v", kinds, c.wantKinds)
			}
			for k, want := range c.wantKinds {
				if kinds[k] != want {
					t.Errorf("outcomes %v, want %v", kinds, c.wantKinds)
				}
			}
			if c.wantCalls == 0 && guard.Tokens(f.clock) != lookupguard.DefaultBurst {
				t.Errorf("the limiter was spent: %v of %d lookups left", guard.Tokens(f.clock), lookupguard.DefaultBurst)
			}
			if c.wantKinds[""] == 0 && f.store.Used() != 0 {
				t.Errorf("a refused sign-in consumed a nonce")
			}
		})
	}
}

func TestVerifyRunsTheCheapChecksBeforeTheGuard(t *testing.T) {
	node := &contractNode{}
	srv := httptest.NewServer(node)
	defer srv.Close()
	guard := lookupguard.New(lookupguard.Options{Burst: 1})
	f := newFixture(t, nil)
	node.wallet = strings.ToLower(f.wallet.Address)
	v, err := siwe.NewVerifier(siwe.Options{Origins: []string{"https://app.example.com"}, Nonces: f.nonces, Store: f.store,
		Contracts: siwe.NewRPC(srv.URL), Guard: guard, Now: func() time.Time { return f.clock }})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		edit func(*siwetest.Fields)
		want siwe.Kind
	}{
		{"another domain", func(fl *siwetest.Fields) { fl.Domain, fl.URI = "evil.example.com", "https://evil.example.com/" }, siwe.KindDomain},
		{"another chain", func(fl *siwetest.Fields) { fl.ChainID = 1 }, siwe.KindChain},
		{"forged nonce", func(fl *siwetest.Fields) { fl.Nonce = "abcdefgh12345678" }, siwe.KindNonce},
		{"expired", func(fl *siwetest.Fields) { fl.ExpirationTime = f.clock.Add(-time.Second) }, siwe.KindExpired},
	} {
		t.Run(c.name, func(t *testing.T) {
			fl := f.fields(t)
			c.edit(&fl)
			for i := 0; i < 100; i++ {
				if _, err := v.Verify(context.Background(), fl.Build(), junkSignature(i)); !errors.Is(err, &siwe.Error{Kind: c.want}) {
					t.Fatalf("got %v, want %v", err, c.want)
				}
			}
			if node.calls.Load() != 0 || guard.Tokens(f.clock) != 1 || guard.Remembered() != 0 {
				t.Fatalf("a cheap refusal reached the guard or the node: %d calls, %v tokens", node.calls.Load(), guard.Tokens(f.clock))
			}
		})
	}
}
