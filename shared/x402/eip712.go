package x402

import (
	"crypto/ecdsa"
	"fmt"
	"math/big"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/common/math"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/signer/core/apitypes"
)

// transferTypes is the EIP-3009 TransferWithAuthorization schema with the
// four-field domain USDC-style tokens use (no salt).
var transferTypes = apitypes.Types{
	"EIP712Domain": {
		{Name: "name", Type: "string"},
		{Name: "version", Type: "string"},
		{Name: "chainId", Type: "uint256"},
		{Name: "verifyingContract", Type: "address"},
	},
	"TransferWithAuthorization": {
		{Name: "from", Type: "address"},
		{Name: "to", Type: "address"},
		{Name: "value", Type: "uint256"},
		{Name: "validAfter", Type: "uint256"},
		{Name: "validBefore", Type: "uint256"},
		{Name: "nonce", Type: "bytes32"},
	},
}

// Domain is an EIP-712 domain of an EIP-3009 token.
type Domain struct {
	Name, Version string
	ChainID       *big.Int
	Contract      common.Address
}

// Domain returns the primary asset's token domain.
func (o *Offer) Domain() Domain { return o.domain(&o.accepts[0]) }

// DomainOf returns the token domain of an accepted asset, false when the offer
// does not list it.
func (o *Offer) DomainOf(asset string) (Domain, bool) {
	if a := o.find(asset); a != nil {
		return o.domain(a), true
	}
	return Domain{}, false
}

func (o *Offer) domain(a *accepted) Domain {
	return Domain{Name: a.req.Extra.Name, Version: a.req.Extra.Version, ChainID: o.ChainIDValue(), Contract: a.asset}
}

// TransferMessage is a parsed authorization.
type TransferMessage struct {
	From, To                       common.Address
	Value, ValidAfter, ValidBefore *big.Int
	Nonce                          common.Hash
}

// TransferDigest is the EIP-712 digest a payer signs, computed by go-ethereum's
// apitypes (the reference EIP-712 encoder) rather than by hand.
func TransferDigest(d Domain, m TransferMessage) ([]byte, error) {
	td := apitypes.TypedData{
		Types:       transferTypes,
		PrimaryType: "TransferWithAuthorization",
		Domain: apitypes.TypedDataDomain{
			Name: d.Name, Version: d.Version,
			ChainId:           (*math.HexOrDecimal256)(d.ChainID),
			VerifyingContract: d.Contract.Hex(),
		},
		Message: apitypes.TypedDataMessage{
			"from":        m.From.Hex(),
			"to":          m.To.Hex(),
			"value":       m.Value,
			"validAfter":  m.ValidAfter,
			"validBefore": m.ValidBefore,
			"nonce":       m.Nonce.Bytes(),
		},
	}
	digest, _, err := apitypes.TypedDataAndHash(td)
	if err != nil {
		return nil, fmt.Errorf("x402: EIP-712 hash: %w", err)
	}
	return digest, nil
}

// DomainSeparator is the EIP-712 domain separator of d (what the token's
// DOMAIN_SEPARATOR() returns when name and version are right).
func DomainSeparator(d Domain) (common.Hash, error) {
	td := apitypes.TypedData{Types: transferTypes, Domain: apitypes.TypedDataDomain{
		Name: d.Name, Version: d.Version, ChainId: (*math.HexOrDecimal256)(d.ChainID), VerifyingContract: d.Contract.Hex(),
	}}
	h, err := td.HashStruct("EIP712Domain", td.Domain.Map())
	if err != nil {
		return common.Hash{}, fmt.Errorf("x402: domain separator: %w", err)
	}
	return common.BytesToHash(h), nil
}

// SignTransfer signs m for d with key and returns the 65-byte signature as 0x
// hex with v = 27/28, the form wallets (viem) produce. Used by the payer CLI and
// tests; the server never holds a payer key.
func SignTransfer(key *ecdsa.PrivateKey, d Domain, m TransferMessage) (string, error) {
	digest, err := TransferDigest(d, m)
	if err != nil {
		return "", err
	}
	sig, err := crypto.Sign(digest, key)
	if err != nil {
		return "", fmt.Errorf("x402: sign: %w", err)
	}
	sig[64] += 27
	return hexutil.Encode(sig), nil
}

// Message renders m as wire strings.
func (m TransferMessage) Message() Authorization {
	return Authorization{
		From: m.From.Hex(), To: m.To.Hex(), Value: m.Value.String(),
		ValidAfter: m.ValidAfter.String(), ValidBefore: m.ValidBefore.String(), Nonce: m.Nonce.Hex(),
	}
}
