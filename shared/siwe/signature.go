package siwe

import (
	"encoding/hex"
	"errors"
	"math/big"
	"strconv"
	"strings"

	"github.com/decred/dcrd/dcrec/secp256k1/v4"
	"github.com/decred/dcrd/dcrec/secp256k1/v4/ecdsa"
	"golang.org/x/crypto/sha3"
)

// Keccak256 is Ethereum's hash (the pre-standard Keccak, not SHA3-256).
func Keccak256(b ...[]byte) []byte {
	h := sha3.NewLegacyKeccak256()
	for _, p := range b {
		h.Write(p)
	}
	return h.Sum(nil)
}

// HashMessage is the EIP-191 (version 0x45, personal_sign) digest of msg:
// keccak256("\x19Ethereum Signed Message:\n" + len(msg) + msg).
// https://eips.ethereum.org/EIPS/eip-191
func HashMessage(msg string) []byte {
	return Keccak256([]byte("\x19Ethereum Signed Message:\n"+strconv.Itoa(len(msg))), []byte(msg))
}

// ChecksumAddress is the EIP-55 spelling of a 20-byte address given as 40 hex
// digits (any case). https://eips.ethereum.org/EIPS/eip-55
func ChecksumAddress(hex40 string) string {
	lower := strings.ToLower(hex40)
	h := hex.EncodeToString(Keccak256([]byte(lower)))
	out := []byte(lower)
	for i, c := range out {
		if c >= 'a' && c <= 'f' && h[i] >= '8' {
			out[i] = c - 32
		}
	}
	return "0x" + string(out)
}

// ChecksumValid reports whether s is "0x" + 40 hex digits spelled by EIP-55.
// EIP-4361 requires the checksummed form, so an all-lower-case address is refused.
func ChecksumValid(s string) bool {
	if len(s) != 42 || s[:2] != "0x" {
		return false
	}
	if _, err := hex.DecodeString(s[2:]); err != nil {
		return false
	}
	return ChecksumAddress(s[2:]) == s
}

// secp256k1N2 is half the curve order: signatures with a larger s are the
// malleable twin of a low-s one (EIP-2) and are refused.
var secp256k1N2 = new(big.Int).Rsh(secp256k1.S256().N, 1)

var (
	errSigLength = errors.New("signature is not 65 bytes")
	errSigV      = errors.New("signature recovery id is not 27, 28, 0 or 1")
	errSigHighS  = errors.New("signature s is in the upper half of the curve order")
)

// DecodeSignature reads a 0x-prefixed hex signature, capped at 4 KiB of bytes
// (EIP-1271 signatures can be longer than 65 bytes).
func DecodeSignature(s string) ([]byte, error) {
	if !strings.HasPrefix(s, "0x") || len(s) < 4 || len(s)%2 != 0 || len(s) > 2+8192 {
		return nil, errors.New("signature must be 0x-prefixed hex")
	}
	return hex.DecodeString(s[2:])
}

// RecoverAddress returns the lower-case 0x address whose key made sig (r‖s‖v,
// 65 bytes) over the 32-byte digest.
func RecoverAddress(digest, sig []byte) (string, error) {
	if len(sig) != 65 {
		return "", errSigLength
	}
	v := sig[64]
	if v >= 27 {
		v -= 27
	}
	if v > 1 {
		return "", errSigV
	}
	if new(big.Int).SetBytes(sig[32:64]).Cmp(secp256k1N2) > 0 {
		return "", errSigHighS
	}
	// decred's compact form: [27 + recid] ‖ r ‖ s (uncompressed key).
	compact := make([]byte, 65)
	compact[0] = 27 + v
	copy(compact[1:], sig[:64])
	pub, _, err := ecdsa.RecoverCompact(compact, digest)
	if err != nil {
		return "", err
	}
	return AddressOf(pub), nil
}

// AddressOf is the lower-case 0x address of a public key (the last 20 bytes of
// the Keccak-256 of its uncompressed X‖Y).
func AddressOf(pub *secp256k1.PublicKey) string {
	return "0x" + hex.EncodeToString(Keccak256(pub.SerializeUncompressed()[1:])[12:])
}
