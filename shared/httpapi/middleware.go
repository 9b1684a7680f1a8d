package httpapi

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"runtime/debug"
	"slices"
	"strings"

	"github.com/insforge/edge-functions-go/shared/internal/text"
)

// Middleware wraps a handler.
type Middleware func(http.Handler) http.Handler

// Chain applies middleware so that the first one listed is the outermost.
func Chain(h http.Handler, mws ...Middleware) http.Handler {
	for i := len(mws) - 1; i >= 0; i-- {
		h = mws[i](h)
	}
	return h
}

// Default limits. A credential is a few KiB at most; x402 payment headers are ~1 KiB.
const (
	DefaultMaxHeaderBytes = 32 << 10
	DefaultMaxBodyBytes   = 64 << 10
)

// Recover turns a panic into a 500 JSON error and logs the stack; the client never
// sees a stack trace.
func Recover() Middleware {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			defer func() {
				if v := recover(); v != nil {
					if v == http.ErrAbortHandler {
						panic(v)
					}
					WriteError(w, r, Internal.Cause(fmt.Errorf("panic: %v\n%s", v, debug.Stack())))
				}
			}()
			next.ServeHTTP(w, r)
		})
	}
}

// Limits caps the total size of the request headers and of the body. Oversized
// requests get 413 before any handler logic (and so before any provider call) runs.
func Limits(maxHeaderBytes int, maxBodyBytes int64) Middleware {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if headerBytes(r) > maxHeaderBytes {
				WriteError(w, r, RequestTooLarge.New(fmt.Sprintf("request headers exceed %d bytes", maxHeaderBytes)))
				return
			}
			if r.ContentLength > maxBodyBytes {
				WriteError(w, r, bodyTooLarge(maxBodyBytes))
				return
			}
			if r.Body != nil {
				r.Body = http.MaxBytesReader(w, r.Body, maxBodyBytes)
			}
			next.ServeHTTP(w, r)
		})
	}
}

func bodyTooLarge(max int64) *Error {
	return RequestTooLarge.New(fmt.Sprintf("request body exceeds %d bytes", max))
}

func headerBytes(r *http.Request) int {
	n := len(r.Method) + len(r.URL.RequestURI())
	for k, vs := range r.Header {
		for _, v := range vs {
			n += len(k) + len(v) + 4
		}
	}
	return n
}

// ReadBody reads the (already size-limited) body, mapping an over-limit body to 413.
func ReadBody(r *http.Request) ([]byte, error) {
	if r.Body == nil {
		return nil, nil
	}
	b, err := io.ReadAll(r.Body)
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return nil, bodyTooLarge(mbe.Limit)
	}
	if err != nil {
		return nil, InvalidRequest.Cause(err)
	}
	return b, nil
}

// Methods answers 405 with an Allow header for any method not listed. OPTIONS is
// left to the CORS middleware, which must sit outside this one.
func Methods(allowed ...string) Middleware {
	allow := strings.Join(allowed, ", ")
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if !slices.Contains(allowed, r.Method) {
				e := MethodNotAllowed.New(fmt.Sprintf("method %s is not allowed; use %s", text.PrintableHead(r.Method, 16), allow))
				e.Header = http.Header{"Allow": {allow}}
				WriteError(w, r, e)
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}
