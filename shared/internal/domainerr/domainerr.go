// Package domainerr is the one error type of the domain packages that refuse a
// caller (shared/identity refuses credentials, shared/siwe sign-ins): a kind whose
// value is the stable code clients see, a message safe to show, and the cause for
// the logs. Each domain declares its own kinds; the HTTP edge maps a code to a
// status once (shared/tokenedge), so no domain knows statuses.
package domainerr

import (
	"fmt"
	"time"
)

// Error is a refusal of kind K (a string type whose values are the codes).
type Error[K ~string] struct {
	Kind K
	// Message is safe to show to the client: never a secret, a token, a
	// signature or an internal detail.
	Message string
	// RetryAfter is how long the caller should wait before retrying; > 0 only for
	// kinds that heal by themselves.
	RetryAfter time.Duration
	// Err is the cause, for the logs only.
	Err error
}

func (e *Error[K]) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%s: %s: %v", e.Kind, e.Message, e.Err)
	}
	return string(e.Kind) + ": " + e.Message
}

func (e *Error[K]) Unwrap() error { return e.Err }

// Is makes errors.Is(err, &Error[K]{Kind: k}) match on the kind alone.
func (e *Error[K]) Is(target error) bool {
	t, ok := target.(*Error[K])
	return ok && t.Kind == e.Kind
}
