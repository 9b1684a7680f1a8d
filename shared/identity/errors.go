package identity

import "github.com/insforge/edge-functions-go/shared/internal/domainerr"

// Kind says what went wrong with a credential check, in terms a caller can act on:
// its value is the stable code clients see. The bridge maps each code to an HTTP
// status and headers in one place (shared/tokenedge).
type Kind string

// The kinds of Error.
const (
	KindInvalid        Kind = CodeInvalidToken         // the credential is not acceptable
	KindExpired        Kind = CodeTokenExpired         // expired, or less than MinRemaining left
	KindNotUserSession Kind = CodeNotUserSession       // genuine, but a machine, third-party or other app's token
	KindImpersonation  Kind = CodeImpersonationRefused // an act claim the operator has not allowed
	KindUnavailable    Kind = CodeProviderUnavailable  // the provider (JWKS, discovery, session API) cannot be reached
	KindThrottled      Kind = CodeLookupThrottled      // this instance's budget of session lookups is used up
	KindMisconfigured  Kind = CodeMisconfigured        // the bridge's configuration contradicts the provider
)

// Kinds lists every Kind (tests of the mapping iterate over it).
var Kinds = []Kind{KindInvalid, KindExpired, KindNotUserSession, KindImpersonation,
	KindUnavailable, KindThrottled, KindMisconfigured}

// Code is the stable snake_case code clients see for the kind.
func (k Kind) Code() string { return string(k) }

// Error is a failed credential check. RetryAfter is > 0 only for kinds that heal
// by themselves (KindUnavailable, KindThrottled).
type Error = domainerr.Error[Kind]
