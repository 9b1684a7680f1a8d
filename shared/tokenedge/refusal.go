package tokenedge

import (
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/insforge/edge-functions-go/shared/httpapi"
)

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
