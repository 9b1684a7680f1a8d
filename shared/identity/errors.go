package identity

import (
	"fmt"
	"time"
)

// Kind says what went wrong with a credential check, in terms a caller can act on.
// The bridge maps each kind to an HTTP status and headers in one place.
type Kind int

// The kinds of Error. Each has one stable code (Kind.Code).
const (
	KindInvalid        Kind = iota + 1 // the credential is not acceptable
	KindExpired                        // expired, or less than MinRemaining left
	KindNotUserSession                 // genuine, but a machine, third-party or other app's token
	KindImpersonation                  // an act claim the operator has not allowed
	KindUnavailable                    // the provider (JWKS, discovery, session API) cannot be reached
	KindThrottled                      // this instance's budget of session lookups is used up
	KindMisconfigured                  // the bridge's configuration contradicts the provider
)

// Kinds lists every Kind (tests of the mapping iterate over it).
var Kinds = []Kind{KindInvalid, KindExpired, KindNotUserSession, KindImpersonation,
	KindUnavailable, KindThrottled, KindMisconfigured}

// Code is the stable snake_case code clients see for the kind; "" for an unknown kind.
func (k Kind) Code() string {
	switch k {
	case KindInvalid:
		return CodeInvalidToken
	case KindExpired:
		return CodeTokenExpired
	case KindNotUserSession:
		return CodeNotUserSession
	case KindImpersonation:
		return CodeImpersonationRefused
	case KindUnavailable:
		return CodeProviderUnavailable
	case KindThrottled:
		return CodeLookupThrottled
	case KindMisconfigured:
		return CodeMisconfigured
	}
	return ""
}

// String is the kind's code, or Kind(n) for an unknown kind.
func (k Kind) String() string {
	if c := k.Code(); c != "" {
		return c
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}

// Error is a failed credential check.
type Error struct {
	Kind Kind
	// Message is safe to show to the client: never a secret, a token or an internal detail.
	Message string
	// RetryAfter is how long the caller should wait before retrying; > 0 only for
	// kinds that heal by themselves (KindUnavailable, KindThrottled).
	RetryAfter time.Duration
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
