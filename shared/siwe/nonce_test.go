package siwe_test

import (
	"errors"
	"testing"
	"time"

	"github.com/insforge/edge-functions-go/shared/siwe"
)

func TestNonceIsAlphanumericAndChecksUntilItExpires(t *testing.T) {
	n := siwe.NewNonces(testSecret, 0)
	nonce, exp, err := n.Issue(now)
	if err != nil {
		t.Fatal(err)
	}
	if len(nonce) != 72 || !exp.Equal(now.Add(siwe.NonceTTL)) {
		t.Fatalf("nonce %q expires %v", nonce, exp)
	}
	if got, err := n.Check(nonce, now.Add(siwe.NonceTTL-time.Second)); err != nil || !got.Equal(exp) {
		t.Fatalf("fresh nonce: %v %v", got, err)
	}
	if _, err := n.Check(nonce, exp); !errors.Is(err, &siwe.Error{Kind: siwe.KindNonce}) {
		t.Fatalf("expired nonce: %v", err)
	}
	if other, _, _ := n.Issue(now); other == nonce {
		t.Fatal("two nonces alike")
	}
}

func TestNonceRefusesEveryAlteredCharacter(t *testing.T) {
	n := siwe.NewNonces(testSecret, 0)
	nonce, _, _ := n.Issue(now)
	for i := range nonce {
		b := []byte(nonce)
		if b[i] == '0' {
			b[i] = '1'
		} else {
			b[i] = '0'
		}
		if _, err := n.Check(string(b), now); !errors.Is(err, &siwe.Error{Kind: siwe.KindNonce}) {
			t.Fatalf("altered at %d: %v", i, err)
		}
	}
	for _, s := range []string{"", nonce[:70], nonce + "00", "X" + nonce[1:]} {
		if _, err := n.Check(s, now); err == nil {
			t.Errorf("%q accepted", s)
		}
	}
}

func TestNonceOfALongerLivedIssuerIsRefused(t *testing.T) {
	long := siwe.NewNonces(testSecret, time.Hour)
	nonce, _, _ := long.Issue(now)
	if _, err := siwe.NewNonces(testSecret, 0).Check(nonce, now); !errors.Is(err, &siwe.Error{Kind: siwe.KindNonce}) {
		t.Fatalf("got %v", err)
	}
}
