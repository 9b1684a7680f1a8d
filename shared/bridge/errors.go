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

// httpError maps an identity error to the HTTP answer clients see: status, code,
// WWW-Authenticate for refused credentials, Retry-After for a provider that heals
// by itself. Every other error (nil, the bridge's own *httpapi.Error) passes through.
func httpError(err error) error {
	var ie *identity.Error
	if !errors.As(err, &ie) {
		return err
	}
	// Each case is a literal with constant status and code, so the codes table test
	// in shared/httpapi finds every code a bridge can answer with.
	var e *httpapi.Error
	switch ie.Kind {
	case identity.KindInvalid:
		e = &httpapi.Error{Status: http.StatusUnauthorized, Code: identity.CodeInvalidToken}
	case identity.KindExpired:
		e = &httpapi.Error{Status: http.StatusUnauthorized, Code: identity.CodeTokenExpired}
	case identity.KindNotUserSession:
		e = &httpapi.Error{Status: http.StatusUnauthorized, Code: identity.CodeNotUserSession}
	case identity.KindImpersonation:
		e = &httpapi.Error{Status: http.StatusUnauthorized, Code: identity.CodeImpersonationRefused}
	case identity.KindUnavailable:
		e = &httpapi.Error{Status: http.StatusServiceUnavailable, Code: identity.CodeProviderUnavailable}
	case identity.KindThrottled:
		e = &httpapi.Error{Status: http.StatusServiceUnavailable, Code: identity.CodeLookupThrottled}
	case identity.KindMisconfigured:
		e = &httpapi.Error{Status: http.StatusInternalServerError, Code: identity.CodeMisconfigured}
	default:
		// An unknown kind is a programming error: answer as any unexpected error
		// would (500 internal_error), keeping the cause for the logs.
		return err
	}
	e.Message, e.Err = ie.Message, ie.Err
	switch e.Status {
	case http.StatusUnauthorized:
		h := bearerInvalid
		if ie.Kind == identity.KindExpired {
			h = bearerExpired
		}
		e.Header = http.Header{"Www-Authenticate": {h}}
	case http.StatusServiceUnavailable:
		e.Header = http.Header{"Retry-After": {retryAfter(ie.RetryAfter)}}
	}
	return e
}

// retryAfter is d in whole seconds, rounded up, at least 1 (Retry-After takes
// delay-seconds; 0 would invite an immediate retry).
func retryAfter(d time.Duration) string {
	return strconv.Itoa(max(1, int(math.Ceil(d.Seconds()))))
}
