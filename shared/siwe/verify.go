package siwe

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/insforge/edge-functions-go/shared/internal/positive"
	"github.com/insforge/edge-functions-go/shared/lookupguard"
)

// Bounds of a sign-in.
const (
	// MaxAge is how long after issued-at a message is accepted.
	MaxAge = 10 * time.Minute
	// Leeway is the clock skew allowed on issued-at and not-before (never on
	// expiration-time, which caps the minted token).
	Leeway = 30 * time.Second
)

// Options wire a Verifier.
type Options struct {
	// Origins are the browser origins allowed to request a sign-in
	// (scheme://host[:port], exact). The message's domain must be one of their
	// authorities, its scheme (when written) the origin's.
	Origins []string
	// ChainID is the only chain accepted (196, X Layer, by default).
	ChainID int64
	Nonces  *Nonces
	Store   NonceStore
	// Contracts verifies EIP-1271 wallets; nil refuses them (KindContractWallet).
	Contracts ContractChecker
	// Guard bounds the EIP-1271 calls junk signatures can cause: refused
	// message+signature pairs are not asked again, and a flood is refused
	// (KindThrottled) instead of reaching the node. Nil: lookupguard defaults
	// (10 calls/s, burst 20, 4096 refused pairs for 30 s).
	Guard *lookupguard.Guard
	// Now is the clock (nil: time.Now).
	Now func() time.Time
}

// Verifier checks sign-in messages.
type Verifier struct {
	origins map[string]string // lower-case authority → scheme
	o       Options
}

// DefaultChainID is X Layer mainnet.
const DefaultChainID = 196

// NewVerifier checks o. Origins must be exact (no "*": a sign-in must name a domain).
func NewVerifier(o Options) (*Verifier, error) {
	if o.Nonces == nil || o.Store == nil {
		return nil, errors.New("siwe: Nonces and Store are required")
	}
	o.ChainID = positive.Or(o.ChainID, DefaultChainID)
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Guard == nil {
		o.Guard = lookupguard.New(lookupguard.Options{})
	}
	v := &Verifier{origins: map[string]string{}, o: o}
	for _, s := range o.Origins {
		u, err := url.Parse(s)
		if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
			return nil, fmt.Errorf("siwe: origin %q is not scheme://host[:port]", s)
		}
		v.origins[strings.ToLower(u.Host)] = u.Scheme
	}
	if len(v.origins) == 0 {
		return nil, errors.New("siwe: at least one exact origin is required")
	}
	return v, nil
}

// Result is a verified sign-in.
type Result struct {
	Message *Message
	// Account is the CAIP-10 account id, eip155:<chain>:<lower-case address>.
	Account string
	// NotAfter is the message's expiration-time (zero when it has none): a
	// token minted from it must not outlive it.
	NotAfter time.Time
	// Contract is true when the signature was verified by EIP-1271.
	Contract bool
}

// Verify checks message and its signature (0x hex) by EIP-4361 and consumes the
// nonce. Checks run cheapest first; the nonce store is written only once the
// signature verified, so nothing but a genuine sign-in consumes a nonce.
func (v *Verifier) Verify(ctx context.Context, message, signature string) (*Result, error) {
	m, err := Parse(message)
	if err != nil {
		return nil, err
	}
	scheme, ok := v.origins[strings.ToLower(m.Domain)]
	if !ok || (m.Scheme != "" && !strings.EqualFold(m.Scheme, scheme)) {
		return nil, &Error{Kind: KindDomain, Message: "the message's domain is not one of this API's allowed origins"}
	}
	if u, err := url.Parse(m.URI); err != nil || !strings.EqualFold(u.Host, m.Domain) {
		return nil, &Error{Kind: KindURI, Message: "the message's URI is not on its domain"}
	}
	if m.ChainID != v.o.ChainID {
		return nil, &Error{Kind: KindChain, Message: fmt.Sprintf("Chain ID must be %d", v.o.ChainID)}
	}
	now := v.o.Now()
	nonceExp, err := v.o.Nonces.Check(m.Nonce, now)
	if err != nil {
		return nil, err
	}
	switch {
	case m.IssuedAt.After(now.Add(Leeway)):
		return nil, &Error{Kind: KindNotYetValid, Message: "Issued At is in the future"}
	case now.Sub(m.IssuedAt) > MaxAge:
		return nil, &Error{Kind: KindExpired, Message: fmt.Sprintf("the message was issued more than %s ago", MaxAge)}
	case !m.ExpirationTime.IsZero() && !m.ExpirationTime.After(now):
		return nil, &Error{Kind: KindExpired, Message: "the message's Expiration Time has passed"}
	case !m.ExpirationTime.IsZero() && !m.ExpirationTime.After(m.IssuedAt):
		return nil, &Error{Kind: KindExpired, Message: "Expiration Time is not after Issued At"}
	case !m.NotBefore.IsZero() && m.NotBefore.After(now.Add(Leeway)):
		return nil, &Error{Kind: KindNotYetValid, Message: "the message's Not Before is in the future"}
	}

	sig, err := DecodeSignature(signature)
	if err != nil {
		return nil, &Error{Kind: KindSignature, Message: "the signature must be 0x-prefixed hex", Err: err}
	}
	address := strings.ToLower(m.Address)
	digest := HashMessage(message)
	contract := false
	recovered, rerr := RecoverAddress(digest, sig)
	if rerr != nil || recovered != address {
		if v.o.Contracts == nil {
			if len(sig) != 65 {
				return nil, &Error{Kind: KindContractWallet, Message: "this is not an externally owned account's signature; " +
					"smart-contract wallets (EIP-1271) are verified only when the API has XLAYER_RPC_URL set"}
			}
			return nil, &Error{Kind: KindSignature, Message: "the signature was not made by the message's address " +
				"(smart-contract wallets are verified only when the API has XLAYER_RPC_URL set)", Err: rerr}
		}
		// Only this branch costs an upstream call, so only it is guarded. The
		// key is the message and the signature bytes: the node's answer depends
		// on nothing else (the contract's code aside, which a wallet changes
		// rarely; the TTL bounds how long a stale refusal lasts).
		key := lookupguard.Key(message, string(sig))
		if v.o.Guard.Refused(key, now) {
			return nil, &Error{Kind: KindSignature, Message: "the signature was not made by the message's address",
				Err: errors.New("refused by the contract moments ago (negative cache)")}
		}
		if !v.o.Guard.Allow(now) {
			return nil, &Error{Kind: KindThrottled, Message: "too many smart-contract wallet sign-ins are being verified right now; retry shortly"}
		}
		ok, err := v.o.Contracts.IsValidSignature(ctx, address, digest, sig)
		if err != nil {
			return nil, &Error{Kind: KindUnavailable, Message: "the chain could not be asked to verify the wallet's signature; retry", Err: err}
		}
		if !ok {
			v.o.Guard.Remember(key, now)
			return nil, &Error{Kind: KindSignature, Message: "the signature was not made by the message's address", Err: rerr}
		}
		contract = true
	}

	switch err := v.o.Store.Consume(ctx, m.Nonce, nonceExp); {
	case errors.Is(err, ErrNonceUsed):
		return nil, &Error{Kind: KindNonceUsed, Message: "this nonce was used already; get a new one from GET /token/wallet/nonce"}
	case err != nil:
		return nil, &Error{Kind: KindUnavailable, Message: "the nonce could not be recorded; get a new nonce and retry", Err: err}
	}
	return &Result{Message: m, Account: Account(v.o.ChainID, address), NotAfter: m.ExpirationTime, Contract: contract}, nil
}

// Account is the CAIP-10 account id of an EVM address on chainID:
// eip155:<chain>:<lower-case address> (https://chainagnostic.org/CAIPs/caip-10).
// Lower case, so one wallet has one subject whatever its spelling.
func Account(chainID int64, address string) string {
	return fmt.Sprintf("eip155:%d:%s", chainID, strings.ToLower(address))
}
