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
	Source          string `json:"source"`
	DomainSeparator string `json:"domainSeparator"`
	Vectors         []struct {
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

func loadVectors(t *testing.T) viemVectors { return loadVectorFile(t, "testdata/viem_vectors.json") }

func loadVectorFile(t *testing.T, path string) viemVectors {
	b, err := os.ReadFile(path)
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

// USD₮0 on X Layer (x402.KnownAssets): viem's digests, signatures and domain
// separator for the pinned domain (testdata/usdt0_vectors.mjs made them); a
// two-asset offer accepts each signature as USD₮0 in every style without an
// asset named (v1), because only that domain recovers the signer.
func TestUSDT0DomainMatchesViem(t *testing.T) {
	vs := loadVectorFile(t, "testdata/usdt0_vectors.json")
	known, ok := x402.LookupAsset("eip155:196", "USDT0")
	if !ok {
		t.Fatal("USDT0 is not a known asset")
	}
	d := x402.Domain{Name: known.Name, Version: known.Version, ChainID: big.NewInt(196), Contract: common.HexToAddress(known.Address)}
	if sep, err := x402.DomainSeparator(d); err != nil || sep.Hex() != vs.DomainSeparator {
		t.Fatalf("domain separator %s, viem %s (%v)", sep.Hex(), vs.DomainSeparator, err)
	}
	p := x402test.ParamsTwoAssets()
	parity := map[byte]bool{}
	for i, v := range vs.Vectors {
		if v.Domain.Name != known.Name || v.Domain.Version != known.Version || v.Domain.VerifyingContract != known.Address {
			t.Fatalf("vector %d is for another domain: %+v", i, v.Domain)
		}
		value, _ := new(big.Int).SetString(v.Message.Value, 10)
		before, _ := new(big.Int).SetString(v.Message.ValidBefore, 10)
		m := x402.TransferMessage{From: common.HexToAddress(v.Message.From), To: common.HexToAddress(v.Message.To),
			Value: value, ValidAfter: big.NewInt(0), ValidBefore: before, Nonce: common.HexToHash(v.Message.Nonce)}
		digest, err := x402.TransferDigest(d, m)
		if err != nil || "0x"+hex.EncodeToString(digest) != v.Digest {
			t.Fatalf("vector %d: digest 0x%x, viem %s (%v)", i, digest, v.Digest, err)
		}
		key, _ := crypto.HexToECDSA(strings.TrimPrefix(v.PrivateKey, "0x"))
		if sig, err := x402.SignTransfer(key, d, m); err != nil || sig != v.Signature {
			t.Fatalf("vector %d: signature %s, viem %s (%v)", i, sig, v.Signature, err)
		}
		raw, _ := hex.DecodeString(v.Signature[2:])
		parity[raw[64]] = true

		p.Price, p.PayTo = v.Message.Value, v.Message.To
		o, err := x402.NewOffer(p)
		if err != nil {
			t.Fatal(err)
		}
		ver := &x402.Verifier{Offer: o, Now: func() time.Time { return time.Unix(before.Int64()-300, 0) }}
		for _, style := range []x402.Style{x402.StyleV1, x402.StyleHybrid} {
			pay := x402test.Wrap(o, style, v.Signature, v.Message)
			got, err := ver.Verify(style, &pay.Payload)
			if err != nil {
				t.Fatalf("vector %d %s: %v", i, style, err)
			}
			if got.Accepted.Asset != known.Address {
				t.Fatalf("vector %d %s: accepted as %s", i, style, got.Accepted.Asset)
			}
		}
	}
	if !parity[27] || !parity[28] {
		t.Fatalf("vectors cover v = %v; both 27 and 28 are needed", parity)
	}
}
