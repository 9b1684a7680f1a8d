package insforge

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/insforge/edge-functions-go/shared/internal/text"
)

// Sentinels for errors.Is. An *Error matches the sentinels its status and code imply,
// so callers branch on meaning, not on numbers:
//
//	if errors.Is(err, insforge.ErrUniqueViolation) { /* already recorded */ }
var (
	// ErrUniqueViolation: PostgreSQL 23505 (PostgREST answers 409).
	ErrUniqueViolation = errors.New("insforge: unique violation")
	// ErrForeignKey: PostgreSQL 23503 (409).
	ErrForeignKey = errors.New("insforge: foreign key violation")
	// ErrConflict: any 409.
	ErrConflict = errors.New("insforge: conflict")
	// ErrRLS: PostgreSQL 42501 — an RLS WITH CHECK failure, a missing grant or a
	// missing EXECUTE (PostgREST answers 403).
	ErrRLS = errors.New("insforge: insufficient privilege (42501)")
	// ErrForbidden: any 403 (42501, or InsForge's "Invalid user role claim").
	ErrForbidden = errors.New("insforge: forbidden")
	// ErrUnauthorized: 401 (missing, invalid or expired credential).
	ErrUnauthorized = errors.New("insforge: unauthorized")
	// ErrNotFound: 404 (unknown table or function).
	ErrNotFound = errors.New("insforge: not found")
	// ErrBadRequest: 400 (invalid input: 23502, 22P02, unsupported query, …).
	ErrBadRequest = errors.New("insforge: bad request")
	// ErrRateLimited: 429.
	ErrRateLimited = errors.New("insforge: rate limited")
	// ErrUnavailable: 5xx, or the server could not be reached.
	ErrUnavailable = errors.New("insforge: unavailable")
	// ErrResponseTooLarge: the response body exceeded the client's cap.
	ErrResponseTooLarge = errors.New("insforge: response body too large")
)

// Error is a non-2xx answer from InsForge. Database errors come through as
// PostgREST's {code,message,details,hint}; InsForge's own failures (auth, input
// validation) as its envelope {error,message,statusCode,nextActions}, whose error
// string lands in Code. Neither ever carries the credential that was sent.
type Error struct {
	Status      int
	Method      string
	Path        string // URL path only: query strings may carry user data
	Code        string // PostgREST/PostgreSQL code ("23505", "PGRST116") or InsForge code ("AUTH_UNAUTHORIZED")
	Message     string
	Details     string
	Hint        string
	NextActions string
	// Envelope is true when the body was InsForge's own envelope, not PostgREST's.
	Envelope bool
}

func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "insforge: %s %s: %d", e.Method, e.Path, e.Status)
	if e.Code != "" {
		fmt.Fprintf(&b, " %s", e.Code)
	}
	if e.Message != "" {
		fmt.Fprintf(&b, ": %s", e.Message)
	}
	if e.Details != "" {
		fmt.Fprintf(&b, " (%s)", e.Details)
	}
	return b.String()
}

// Is maps the error onto the package sentinels.
func (e *Error) Is(target error) bool {
	switch target {
	case ErrUniqueViolation:
		return e.Code == "23505"
	case ErrForeignKey:
		return e.Code == "23503"
	case ErrConflict:
		return e.Status == http.StatusConflict
	case ErrRLS:
		return e.Code == "42501"
	case ErrForbidden:
		return e.Status == http.StatusForbidden || e.Code == "42501"
	case ErrUnauthorized:
		return e.Status == http.StatusUnauthorized
	case ErrNotFound:
		return e.Status == http.StatusNotFound
	case ErrBadRequest:
		return e.Status == http.StatusBadRequest
	case ErrRateLimited:
		return e.Status == http.StatusTooManyRequests
	case ErrUnavailable:
		return e.Status >= 500
	}
	return false
}

// parseError builds an *Error from a failed response body (possibly empty or not JSON).
func parseError(method, path string, status int, body []byte) *Error {
	e := &Error{Status: status, Method: method, Path: path}
	var m map[string]any
	if json.Unmarshal(body, &m) != nil {
		e.Message = strings.TrimSpace(text.Clip(string(body), 300))
		if e.Message == "" {
			e.Message = http.StatusText(status)
		}
		return e
	}
	str := func(k string) string {
		switch v := m[k].(type) {
		case string:
			return v
		case nil:
			return ""
		default:
			b, _ := json.Marshal(v)
			return string(b)
		}
	}
	if _, ok := m["code"]; ok {
		e.Code, e.Message, e.Details, e.Hint = str("code"), str("message"), str("details"), str("hint")
		return e
	}
	if s, ok := m["error"].(string); ok {
		e.Envelope = true
		e.Code, e.Message, e.NextActions = s, str("message"), str("nextActions")
		return e
	}
	e.Message = text.Clip(string(body), 300)
	return e
}
