package x402_test

import (
	"encoding/hex"
	"encoding/json"
	"math/big"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"

	"github.com/insforge/edge-functions-go/shared/x402"
	"github.com/insforge/edge-functions-go/shared/x402/x402test"
)

// viemVectors are EIP-712 digests and signatures produced once by an
// independent implementation (viem's hashTypedData and signTypedData, version
// in the file) and stored: the Go signing and checking code is compared to
// them, not to itself.
type viemVectors struct {
	Source  string `json:"source"`
	Vectors []struct {
		Domain struct {
			Name, Version     string
			ChainID           int64  `json:"chainId"`
			VerifyingContract string `json:"verifyingContract"`
		} `json:"domain"`
		PrivateKey string             `json:"privateKey"`
		Message    x402.Authorization `json:"message"`
		Digest     string             `json:"digest"`
		Signature  string             `json:"signature"`
	} `json:"vectors"`
}

func loadVectors(t *testing.T) viemVectors {
	b, err := os.ReadFile("testdata/viem_vectors.json")
	if err != nil {
		t.Fatal(err)
	}
	var v viemVectors
	if err := json.Unmarshal(b, &v); err != nil || !strings.HasPrefix(v.Source, "viem ") || len(v.Vectors) < 4 {
		t.Fatalf("vectors: %v (%d)", err, len(v.Vectors))
	}
	return v
}

func TestDigestsAndSignaturesMatchViem(t *testing.T) {
	vs := loadVectors(t)
	parity := map[byte]bool{}
	for i, v := range vs.Vectors {
		d := x402.Domain{Name: v.Domain.Name, Version: v.Domain.Version, ChainID: big.NewInt(v.Domain.ChainID),
			Contract: common.HexToAddress(v.Domain.VerifyingContract)}
		value, _ := new(big.Int).SetString(v.Message.Value, 10)
		after, _ := new(big.Int).SetString(v.Message.ValidAfter, 10)
		before, _ := new(big.Int).SetString(v.Message.ValidBefore, 10)
		m := x402.TransferMessage{From: common.HexToAddress(v.Message.From), To: common.HexToAddress(v.Message.To),
			Value: value, ValidAfter: after, ValidBefore: before, Nonce: common.HexToHash(v.Message.Nonce)}
		digest, err := x402.TransferDigest(d, m)
		if err != nil || "0x"+hex.EncodeToString(digest) != v.Digest {
			t.Fatalf("vector %d: digest 0x%x, viem %s (%v)", i, digest, v.Digest, err)
		}
		key, err := crypto.HexToECDSA(strings.TrimPrefix(v.PrivateKey, "0x"))
		if err != nil {
			t.Fatal(err)
		}
		sig, err := x402.SignTransfer(key, d, m)
		if err != nil || sig != v.Signature {
			t.Fatalf("vector %d: signature %s, viem %s (%v)", i, sig, v.Signature, err)
		}
		raw, _ := hex.DecodeString(v.Signature[2:])
		parity[raw[64]] = true

		// The verifier accepts viem's signature for an offer of exactly this payment.
		o, err := x402.NewOffer(x402.Params{Network: "eip155:196", Asset: v.Domain.VerifyingContract, AssetName: d.Name,
			AssetVersion: d.Version, PayTo: v.Message.To, Price: v.Message.Value, MaxTimeoutSeconds: 300})
		if err != nil {
			t.Fatal(err)
		}
		ver := &x402.Verifier{Offer: o, Now: func() time.Time { return time.Unix(before.Int64()-300, 0) }}
		p := x402test.Wrap(o, x402.StyleV1, v.Signature, v.Message)
		if _, err := ver.Verify(x402.StyleV1, &p.Payload); err != nil {
			t.Fatalf("vector %d: viem signature refused: %v", i, err)
		}
	}
	if !parity[27] || !parity[28] {
		t.Fatalf("vectors cover v = %v; both 27 and 28 are needed", parity)
	}
}

// Every run covers both recovery ids, each as 27/28 and as 0/1.
func TestVerifyAcceptsBothRecoveryIDsInBothEncodings(t *testing.T) {
	v := verifier(t)
	payer := x402test.NewPayer(t)
	seen := map[string]bool{}
	for tries := 0; len(seen) < 2 && tries < 200; tries++ {
		p := payer.Pay(t, v.Offer, x402.StyleHybrid, x402test.Now)
		sig := p.Payload.Payload.Signature
		last := sig[len(sig)-2:]
		if seen[last] {
			continue
		}
		seen[last] = true
		for _, enc := range []string{last, map[string]string{"1b": "00", "1c": "01"}[last]} {
			p.Payload.Payload.Signature = sig[:len(sig)-2] + enc
			if _, err := v.Verify(x402.StyleHybrid, &p.Payload); err != nil {
				t.Fatalf("v byte %s: %v", enc, err)
			}
		}
	}
	if !seen["1b"] || !seen["1c"] {
		t.Fatalf("recovery ids covered: %v", seen)
	}
}
