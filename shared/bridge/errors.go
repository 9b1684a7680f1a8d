package bridge

import (
	"errors"
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/insforge/edge-functions-go/shared/httpapi"
	"github.com/insforge/edge-functions-go/shared/identity"
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
	if e, ok := Refusal(ie.Kind.Code(), ie.Message, ie.Err, challenge, ie.RetryAfter); ok {
		return e
	}
	// An unknown kind is a programming error: answer as any unexpected error
	// would (500 internal_error), keeping the cause for the logs.
	return err
}

// Refusal is the HTTP answer to a refused credential of the wallet or a
// provider bridge. A domain kind's code (identity.Kind.Code, siwe.Kind.Code) is
// the name of the httpapi code it is answered with, which carries the status;
// message is shown, cause logged. A 401 carries challenge as WWW-Authenticate, a
// 503 retry as Retry-After. ok is false for a name httpapi does not declare.
func Refusal(code, message string, cause error, challenge string, retry time.Duration) (*httpapi.Error, bool) {
	c, ok := httpapi.CodeNamed(code)
	if !ok {
		return nil, false
	}
	e := c.Wrap(message, cause)
	switch e.Status() {
	case http.StatusUnauthorized:
		e.Header = http.Header{"Www-Authenticate": {challenge}}
	case http.StatusServiceUnavailable:
		e.Header = http.Header{"Retry-After": {retryAfter(retry)}}
	}
	return e, true
}

// retryAfter is d in whole seconds, rounded up, at least 1 (Retry-After takes
// delay-seconds; 0 would invite an immediate retry).
func retryAfter(d time.Duration) string {
	return strconv.Itoa(max(1, int(math.Ceil(d.Seconds()))))
}
