package siwe

import "github.com/insforge/edge-functions-go/shared/internal/domainerr"

// Kind says why a sign-in was refused. Its value is the stable code clients see:
// the name of the httpapi code the wallet bridge answers with.
type Kind string

// The kinds of Error.
const (
	KindMalformed      Kind = CodeMalformed      // the message breaks the EIP-4361 grammar
	KindDomain         Kind = CodeDomain         // domain (or scheme) is not one of this API's origins
	KindURI            Kind = CodeURI            // uri is not on the signing domain
	KindChain          Kind = CodeChain          // chain-id is not the configured chain
	KindVersion        Kind = CodeVersion        // version is not 1
	KindNonce          Kind = CodeNonce          // the nonce was not issued here, or it expired
	KindNonceUsed      Kind = CodeNonceUsed      // the nonce was used already
	KindExpired        Kind = CodeExpired        // issued too long ago, or past its expiration-time
	KindNotYetValid    Kind = CodeNotYetValid    // issued in the future, or before not-before
	KindSignature      Kind = CodeSignature      // the signature does not recover the address
	KindContractWallet Kind = CodeContractWallet // an EIP-1271 wallet, and no RPC to verify it
	KindUnavailable    Kind = CodeUnavailable    // the nonce store or the RPC node cannot be reached
	KindThrottled      Kind = CodeThrottled      // this instance's budget of EIP-1271 calls is used up
)

// Kinds lists every Kind.
var Kinds = []Kind{KindMalformed, KindDomain, KindURI, KindChain, KindVersion, KindNonce, KindNonceUsed,
	KindExpired, KindNotYetValid, KindSignature, KindContractWallet, KindUnavailable, KindThrottled}

// Codes clients see.
const (
	CodeMalformed      = "siwe_malformed"
	CodeDomain         = "siwe_domain_mismatch"
	CodeURI            = "siwe_uri_mismatch"
	CodeChain          = "siwe_chain_mismatch"
	CodeVersion        = "siwe_unsupported_version"
	CodeNonce          = "siwe_nonce_invalid"
	CodeNonceUsed      = "siwe_nonce_used"
	CodeExpired        = "siwe_expired"
	CodeNotYetValid    = "siwe_not_yet_valid"
	CodeSignature      = "siwe_signature_mismatch"
	CodeContractWallet = "siwe_contract_wallet_unsupported"
	CodeUnavailable    = "siwe_verifier_unavailable"
	CodeThrottled      = "siwe_verifier_throttled"
)

// Code is the kind's stable code.
func (k Kind) Code() string { return string(k) }

// Error is a refused sign-in (its Message never holds a signature or a secret).
type Error = domainerr.Error[Kind]
