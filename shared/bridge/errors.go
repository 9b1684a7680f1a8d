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
	var e *httpapi.Error
	switch ie.Kind {
	case identity.KindInvalid:
		e = httpapi.InvalidToken.New(ie.Message)
	case identity.KindExpired:
		e = httpapi.TokenExpired.New(ie.Message)
	case identity.KindNotUserSession:
		e = httpapi.NotUserSession.New(ie.Message)
	case identity.KindImpersonation:
		e = httpapi.ImpersonationRefused.New(ie.Message)
	case identity.KindUnavailable:
		e = httpapi.ProviderUnavailable.New(ie.Message)
	case identity.KindThrottled:
		e = httpapi.SessionLookupThrottled.New(ie.Message)
	case identity.KindMisconfigured:
		e = httpapi.BridgeMisconfigured.New(ie.Message)
	default:
		// An unknown kind is a programming error: answer as any unexpected error
		// would (500 internal_error), keeping the cause for the logs.
		return err
	}
	e.Err = ie.Err
	switch e.Status() {
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
