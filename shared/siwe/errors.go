package siwe

import "fmt"

// Kind says why a sign-in was refused. Each kind has one stable code (Kind.Code):
// the name of the httpapi code the wallet bridge answers with.
type Kind int

// The kinds of Error.
const (
	KindMalformed      Kind = iota + 1 // the message breaks the EIP-4361 grammar
	KindDomain                         // domain (or scheme) is not one of this API's origins
	KindURI                            // uri is not on the signing domain
	KindChain                          // chain-id is not the configured chain
	KindVersion                        // version is not 1
	KindNonce                          // the nonce was not issued here, or it expired
	KindNonceUsed                      // the nonce was used already
	KindExpired                        // issued too long ago, or past its expiration-time
	KindNotYetValid                    // issued in the future, or before not-before
	KindSignature                      // the signature does not recover the address
	KindContractWallet                 // an EIP-1271 wallet, and no RPC to verify it
	KindUnavailable                    // the nonce store or the RPC node cannot be reached
	KindThrottled                      // this instance's budget of EIP-1271 calls is used up
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

// Code is the kind's stable code; "" for an unknown kind.
func (k Kind) Code() string {
	switch k {
	case KindMalformed:
		return CodeMalformed
	case KindDomain:
		return CodeDomain
	case KindURI:
		return CodeURI
	case KindChain:
		return CodeChain
	case KindVersion:
		return CodeVersion
	case KindNonce:
		return CodeNonce
	case KindNonceUsed:
		return CodeNonceUsed
	case KindExpired:
		return CodeExpired
	case KindNotYetValid:
		return CodeNotYetValid
	case KindSignature:
		return CodeSignature
	case KindContractWallet:
		return CodeContractWallet
	case KindUnavailable:
		return CodeUnavailable
	case KindThrottled:
		return CodeThrottled
	}
	return ""
}

func (k Kind) String() string {
	if c := k.Code(); c != "" {
		return c
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}

// Error is a refused sign-in.
type Error struct {
	Kind Kind
	// Message is safe to show: never a signature or a secret.
	Message string
	// Err is the cause, for the logs only.
	Err error
}

func (e *Error) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%s: %s: %v", e.Kind.Code(), e.Message, e.Err)
	}
	return e.Kind.Code() + ": " + e.Message
}

func (e *Error) Unwrap() error { return e.Err }

// Is makes errors.Is(err, &Error{Kind: k}) match on the kind alone.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Kind == e.Kind
}
