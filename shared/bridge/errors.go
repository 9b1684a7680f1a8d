package bridge

import (
	"errors"

	"github.com/insforge/edge-functions-go/shared/identity"
	"github.com/insforge/edge-functions-go/shared/tokenedge"
)

// Headers sent with refused credentials (RFC 6750, section 3): clients that read
// WWW-Authenticate learn the token is bad, and whether it merely expired.
const (
	bearerInvalid = `Bearer error="invalid_token"`
	bearerExpired = `Bearer error="invalid_token", error_description="expired"`
)

// httpError maps an identity error to the HTTP answer clients see: the httpapi
// code of the kind's name, WWW-Authenticate for refused credentials, Retry-After
// for a provider that heals by itself. Every other error (nil, the bridge's own
// *httpapi.Error) passes through.
func httpError(err error) error {
	var ie *identity.Error
	if !errors.As(err, &ie) {
		return err
	}
	challenge := bearerInvalid
	if ie.Kind == identity.KindExpired {
		challenge = bearerExpired
	}
	if e, ok := tokenedge.Refusal(ie.Kind.Code(), ie.Message, ie.Err, challenge, ie.RetryAfter); ok {
		return e
	}
	// An unknown kind is a programming error: answer as any unexpected error
	// would (500 internal_error), keeping the cause for the logs.
	return err
}
