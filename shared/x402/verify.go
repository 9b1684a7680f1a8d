package x402

import (
	"encoding/hex"
	"math/big"
	"strings"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"

	"github.com/insforge/edge-functions-go/shared/internal/text"
)

// MinValidity is the margin validBefore must leave: the settlement transaction
// has to be mined before the authorization expires (coinbase uses 6 s).
const MinValidity = 6 * time.Second

// DefaultSkew tolerates payer clocks running ahead on the validBefore cap.
const DefaultSkew = 30 * time.Second

// Verifier runs the exact-EVM checks that need no chain state. Anything that does
// (balance, nonce already used on-chain, smart-wallet signatures) is left to the
// facilitator; ERC-1271/6492 smart-wallet payers are therefore refused here.
type Verifier struct {
	Offer *Offer
	Now   func() time.Time // injectable clock; nil = time.Now
	Skew  time.Duration    // allowance on the validBefore upper bound; 0 = DefaultSkew
}

// Verified is a payment that passed every local check, with parsed values.
type Verified struct {
	Style   Style
	Payload *PaymentPayload
	Msg     TransferMessage
	// Sig is the 65-byte signature with v normalised to 27 or 28.
	Sig []byte
	// Accepted is the offer's own requirement for the asset paid with (never
	// the client's echo): what the facilitator and the ledger are given.
	Accepted Requirements
}

// Canonical is the authorization as parsed, in one spelling: what is forwarded to
// the facilitator instead of the client's strings (0X prefixes, leading zeros,
// v = 0/1, upper-case hex all collapse to the same payload).
func (v *Verified) Canonical() ExactPayload {
	m := v.Msg
	return ExactPayload{
		Signature: "0x" + hex.EncodeToString(v.Sig),
		Authorization: Authorization{
			From: m.From.Hex(), To: m.To.Hex(), Value: m.Value.String(),
			ValidAfter: m.ValidAfter.String(), ValidBefore: m.ValidBefore.String(),
			Nonce: "0x" + hex.EncodeToString(m.Nonce[:]),
		},
	}
}

// Verify checks p, received in style, against the offer. Each failure is a
// *CheckError carrying the x402 reason for that check.
func (v *Verifier) Verify(style Style, p *PaymentPayload) (*Verified, error) {
	o := v.Offer
	now := time.Now()
	if v.Now != nil {
		now = v.Now()
	}
	skew := v.Skew
	if skew == 0 {
		skew = DefaultSkew
	}

	// Version must match the transport the payment came in.
	switch {
	case style == StyleV2 && p.X402Version == 2,
		style == StyleV1 && p.X402Version == 1,
		style == StyleHybrid && (p.X402Version == 1 || p.X402Version == 2):
	default:
		return nil, fail(ReasonInvalidVersion, "x402Version %d is not accepted for a %s payment", p.X402Version, style)
	}

	// Scheme and network: v2 reads them from accepted, v1 and the hybrid from the top level.
	scheme, network := p.Scheme, p.Network
	if style == StyleV2 {
		if p.Accepted == nil {
			return nil, fail(ReasonInvalidPayload, "accepted is missing")
		}
		scheme, network = p.Accepted.Scheme, p.Accepted.Network
	}
	if scheme != SchemeExact {
		return nil, fail(ReasonUnsupportedScheme, "scheme %q is not supported; use exact", clip(scheme))
	}
	primary := o.accepts[0].req
	if network != primary.Network {
		return nil, fail(ReasonInvalidNetwork, "network %q is not %s", clip(network), primary.Network)
	}

	// v2 names the asset it pays with: it must be one we offered, and the rest
	// of accepted must be our requirement for it. We still verify against our
	// copy. v1 and the hybrid name no asset: the signature decides (below).
	candidates := o.accepts
	if style == StyleV2 {
		a := p.Accepted
		c := o.find(a.Asset)
		if c == nil {
			return nil, fail(ReasonInvalidRequirements, "accepted asset %q is not one this offer lists", clip(a.Asset))
		}
		if !strings.EqualFold(a.PayTo, c.req.PayTo) {
			return nil, fail(ReasonRecipientMismatch, "accepted payTo is not %s", c.req.PayTo)
		}
		if a.Amount != c.req.Amount {
			return nil, fail(ReasonValueMismatch, "accepted amount is not %s", c.req.Amount)
		}
		candidates = []accepted{*c}
	}

	auth := p.Payload.Authorization
	var m TransferMessage
	var ok bool
	if m.From, ok = parseAddress(auth.From); !ok {
		return nil, fail(ReasonInvalidPayload, "authorization.from is not an address")
	}
	if m.To, ok = parseAddress(auth.To); !ok {
		return nil, fail(ReasonInvalidPayload, "authorization.to is not an address")
	}
	if m.To != o.payTo {
		return nil, fail(ReasonRecipientMismatch, "authorization.to is not %s", primary.PayTo)
	}
	if m.Value, ok = parseUint(auth.Value); !ok {
		return nil, fail(ReasonInvalidPayload, "authorization.value is not a decimal integer")
	}
	// Only assets priced at exactly this value remain.
	priced := candidates[:0:0]
	for _, c := range candidates {
		if m.Value.Cmp(c.price) == 0 {
			priced = append(priced, c)
		}
	}
	if len(priced) == 0 {
		reason := ReasonValueMismatch
		if p.X402Version == 1 {
			reason = ReasonValueV1
		}
		return nil, fail(reason, "authorization.value must equal the price %s", candidates[0].req.Amount)
	}
	if m.ValidAfter, ok = parseUint(auth.ValidAfter); !ok {
		return nil, fail(ReasonInvalidPayload, "authorization.validAfter is not a decimal integer")
	}
	if m.ValidBefore, ok = parseUint(auth.ValidBefore); !ok {
		return nil, fail(ReasonInvalidPayload, "authorization.validBefore is not a decimal integer")
	}
	unix := big.NewInt(now.Unix())
	if m.ValidAfter.Cmp(unix) > 0 {
		return nil, fail(ReasonValidAfter, "authorization is not valid yet")
	}
	if m.ValidBefore.Cmp(new(big.Int).Add(unix, big.NewInt(int64(MinValidity/time.Second)))) < 0 {
		return nil, fail(ReasonValidBefore, "authorization expires in less than %d seconds", int(MinValidity/time.Second))
	}
	maxBefore := new(big.Int).Add(unix, big.NewInt(int64(primary.MaxTimeoutSeconds)+int64(skew/time.Second)))
	if m.ValidBefore.Cmp(maxBefore) > 0 {
		return nil, fail(ReasonValidBefore, "authorization is valid for longer than maxTimeoutSeconds (%d)", primary.MaxTimeoutSeconds)
	}
	nonce, ok := decodeHex(auth.Nonce)
	if !ok || len(nonce) != 32 {
		return nil, fail(ReasonInvalidPayload, "authorization.nonce must be 32 bytes of 0x hex")
	}
	m.Nonce = common.BytesToHash(nonce)

	sig, ok := decodeHex(p.Payload.Signature)
	if !ok || len(sig) != 65 {
		return nil, fail(ReasonSignature, "signature must be 65 bytes of 0x hex (smart-wallet signatures are not accepted)")
	}
	recID := sig[64]
	if recID >= 27 {
		recID -= 27
	}
	if recID > 1 {
		return nil, fail(ReasonSignature, "signature v must be 27, 28, 0 or 1")
	}
	r, s := new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:64])
	// SigToPub accepts high-s; malleable signatures are refused here (x402 #2386).
	if !crypto.ValidateSignatureValues(recID, r, s, true) {
		return nil, fail(ReasonSignature, "signature is not canonical (high s or out of range)")
	}
	rsv := make([]byte, 65)
	copy(rsv, sig[:64])
	rsv[64] = recID
	// The domain binds the token (verifyingContract): a signature recovers
	// authorization.from under exactly one asset's domain, which is the asset
	// paid with. Several candidates remain only for v1/hybrid at equal prices.
	for i := range priced {
		c := &priced[i]
		digest, err := TransferDigest(o.domain(c), m)
		if err != nil {
			return nil, fail(ReasonInvalidPayload, "authorization cannot be hashed")
		}
		if pub, err := crypto.SigToPub(digest, rsv); err == nil && crypto.PubkeyToAddress(*pub) == m.From {
			canon := append(sig[:64:64], recID+27)
			return &Verified{Style: style, Payload: p, Msg: m, Sig: canon, Accepted: c.copyReq()}, nil
		}
	}
	return nil, fail(ReasonSignature, "signature was not made by authorization.from for this token domain")
}

// parseAddress accepts a 0x-prefixed 20-byte hex address in any case.
func parseAddress(s string) (common.Address, bool) {
	if !strings.HasPrefix(s, "0x") && !strings.HasPrefix(s, "0X") || !common.IsHexAddress(s) {
		return common.Address{}, false
	}
	return common.HexToAddress(s), true
}

func decodeHex(s string) ([]byte, bool) {
	if !strings.HasPrefix(s, "0x") && !strings.HasPrefix(s, "0X") {
		return nil, false
	}
	b, err := hex.DecodeString(s[2:])
	return b, err == nil
}

// clip keeps client-supplied text short before it is echoed in a message.
func clip(s string) string {
	return text.Printable(text.Clip(s, 64))
}
