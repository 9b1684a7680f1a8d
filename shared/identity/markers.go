package identity

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// Marker is one rule, declared as data by a provider's configuration, that tells
// a user's session token from a machine (client-credentials), third-party or
// other app's token signed by the same keys. A token must pass every marker of its
// provider; a failure is KindNotUserSession with Reason as the message.
//
// A claim's value is compared as a string, or element by element when it is an
// array of strings (Kinde's gty is ["client_credentials"]).
type Marker struct {
	// Claim is the claim name, e.g. "gty", "sid", "https://stytch.com/session".
	Claim string
	// Required: the claim must be present and non-empty (not null, "", {} or []).
	Required bool
	// Forbidden: the claim must be absent (or null): its presence marks a machine token.
	Forbidden bool
	// OneOf: when non-empty, the claim must be present and (every element) one of
	// these; with AllowAbsent a token without the claim passes too.
	OneOf       []string
	AllowAbsent bool
	// Refused values, prefixes and suffixes: the claim must not equal (start or
	// end with) any of them.
	Refused         []string
	RefusedPrefixes []string
	RefusedSuffixes []string
	// NotEqual names another claim this one must differ from when both are
	// strings (Entra app-only tokens have sub equal to oid).
	NotEqual string
	// Reason is shown to the client when the rule fails. Where the rule could lock
	// out a real setup it says what to change.
	Reason string
}

func (m Marker) check() error {
	switch {
	case m.Claim == "":
		return errors.New("marker without a claim name")
	case m.Reason == "":
		return fmt.Errorf("marker on %q has no reason", m.Claim)
	case !m.Required && !m.Forbidden && len(m.OneOf) == 0 && len(m.Refused) == 0 && len(m.RefusedPrefixes) == 0 &&
		len(m.RefusedSuffixes) == 0 && m.NotEqual == "":
		return fmt.Errorf("marker on %q checks nothing", m.Claim)
	case m.AllowAbsent && len(m.OneOf) == 0:
		return fmt.Errorf("marker on %q: AllowAbsent without OneOf", m.Claim)
	}
	return nil
}

// apply checks the marker against verified claims. It reads the claim's raw
// value in place: no decoding, no allocation unless it fails.
func (m Marker) apply(provider string, c *Claims) error {
	raw, present := c.Raw(m.Claim)
	fail := func(why string) error {
		return NotUserSession("the "+provider+" token is not a user session: "+m.Reason, fmt.Errorf("claim %s: %s", m.Claim, why))
	}
	if m.Forbidden && present {
		return fail("present")
	}
	if m.Required && (!present || empty(raw)) {
		return fail("missing or empty")
	}
	isStrings := present && (raw[0] == '"' || eachString(raw, func([]byte) bool { return true }))
	if len(m.OneOf) > 0 && (present || !m.AllowAbsent) {
		if !isStrings || empty(raw) {
			return fail("missing or not a string")
		}
		if !allStrings(raw, func(v []byte) bool {
			return slices.ContainsFunc(m.OneOf, func(s string) bool { return stringEquals(v, s) })
		}) {
			return fail("value not allowed")
		}
	}
	if m.NotEqual != "" && present {
		if other, ok := c.Raw(m.NotEqual); ok && raw[0] == '"' && (bytes.Equal(raw, other) || sameString(raw, other)) {
			return fail("equals " + m.NotEqual)
		}
	}
	refuses := len(m.Refused) > 0 || len(m.RefusedPrefixes) > 0 || len(m.RefusedSuffixes) > 0
	if !present || !refuses {
		return nil
	}
	if !isStrings {
		// Refusal rules match strings: a refusable claim of another type (a
		// number, an object) is not what the provider documents, so it is refused.
		return fail("unexpected type")
	}
	refused := func(v []byte) bool {
		s, _ := unquote(v)
		return slices.Contains(m.Refused, s) ||
			slices.ContainsFunc(m.RefusedPrefixes, func(p string) bool { return strings.HasPrefix(s, p) }) ||
			slices.ContainsFunc(m.RefusedSuffixes, func(p string) bool { return strings.HasSuffix(s, p) })
	}
	if !allStrings(raw, func(v []byte) bool { return !refused(v) }) {
		return fail("refused value")
	}
	return nil
}

// sameString reports whether two raw JSON strings decode to the same value.
func sameString(a, b []byte) bool {
	if bytes.IndexByte(a, '\\') < 0 && bytes.IndexByte(b, '\\') < 0 {
		return false // equal bytes were compared already
	}
	x, okA := unquote(a)
	y, okB := unquote(b)
	return okA && okB && x == y
}

// allStrings reports whether f holds for the string raw, or for every element of
// the array of strings raw.
func allStrings(raw []byte, f func([]byte) bool) bool {
	if raw[0] == '"' {
		return f(raw)
	}
	return eachString(raw, f)
}

// empty reports whether raw is absent, null, "", or an empty object or array
// (whitespace inside the brackets included).
func empty(raw json.RawMessage) bool {
	raw = bytes.TrimSpace(raw)
	switch string(raw) {
	case "", "null", `""`:
		return true
	}
	if raw[0] == '{' || raw[0] == '[' {
		i := skipSpace(raw, 1)
		return i < len(raw) && (raw[i] == '}' || raw[i] == ']')
	}
	return false
}
