// Package httpapi holds what every HTTP function shares: typed errors written as
// {"error","message"} JSON, request limits, CORS, request-scoped logging and the
// adapter between API Gateway HTTP API (payload 2.0) events and plain net/http.
package httpapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
)

// Error is an error that knows how it is shown to a client. Packages return it (or
// wrap it) and the HTTP layer maps it to a status and a JSON body in one place.
type Error struct {
	Code    Code   // the code, which carries the HTTP status
	Message string // safe for clients: never a secret, a token or an internal detail
	Err     error  // cause, logged but never shown
	// Header is sent with the error response (e.g. WWW-Authenticate, Allow, Retry-After).
	Header http.Header
}

func (e *Error) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%s: %s: %v", e.Code.name, e.Message, e.Err)
	}
	return e.Code.name + ": " + e.Message
}

// Status is the HTTP status of the error's code.
func (e *Error) Status() int { return e.Code.status }

func (e *Error) Unwrap() error { return e.Err }

// Is makes errors.Is(err, &Error{Code: c}) match on the code alone.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Code == e.Code
}

// ErrorBody is the JSON shape of every error response.
type ErrorBody struct {
	Error   string `json:"error"`
	Message string `json:"message"`
}

// WriteJSON writes v as JSON with the given status.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		// Only reachable with a programming error (an unmarshalable type).
		status = http.StatusInternalServerError
		body = []byte(`{"error":"internal_error","message":"response could not be encoded"}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// WriteError writes err as {"error","message"}. Errors that are not *Error become a
// 500 with a generic message: internals never reach the client.
func WriteError(w http.ResponseWriter, r *http.Request, err error) {
	var e *Error
	if !errors.As(err, &e) || e.Code.status == 0 {
		// A zero Code is a programming error: answer as any unexpected error would.
		e = Internal.Cause(err)
	}
	log := Logger(r.Context())
	level := slog.LevelInfo
	if e.Status() >= 500 {
		level = slog.LevelError
	}
	attrs := []any{slog.Int("status", e.Status()), slog.String("code", e.Code.name)}
	if e.Err != nil {
		attrs = append(attrs, slog.String("cause", e.Err.Error()))
	}
	log.Log(r.Context(), level, "request failed", attrs...)
	for k, vs := range e.Header {
		for _, v := range vs {
			w.Header().Add(k, v)
		}
	}
	w.Header().Set("Cache-Control", "no-store")
	WriteJSON(w, e.Status(), ErrorBody{Error: e.Code.name, Message: e.Message})
}

// HandlerFunc is an http.HandlerFunc that returns an error; the error is written
// with WriteError so handlers read top to bottom without repeating the mapping.
type HandlerFunc func(w http.ResponseWriter, r *http.Request) error

func (f HandlerFunc) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if err := f(w, r); err != nil {
		WriteError(w, r, err)
	}
}
