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
	// OneOf: when non-empty, the claim must be present and (every element) one of these.
	OneOf []string
	// Refused values and suffixes: the claim must not equal (or end with) any of them.
	Refused         []string
	RefusedSuffixes []string
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
	case !m.Required && len(m.OneOf) == 0 && len(m.Refused) == 0 && len(m.RefusedSuffixes) == 0:
		return fmt.Errorf("marker on %q checks nothing", m.Claim)
	}
	return nil
}

// apply checks the marker against verified claims.
func (m Marker) apply(provider string, c *Claims) error {
	raw, present := c.Raw(m.Claim)
	values, isStrings := stringValues(raw)
	fail := func(why string) error {
		return NotUserSession("the "+provider+" token is not a user session: "+m.Reason, fmt.Errorf("claim %s: %s", m.Claim, why))
	}
	if m.Required && (!present || empty(raw)) {
		return fail("missing or empty")
	}
	if len(m.OneOf) > 0 {
		if !present || !isStrings || len(values) == 0 {
			return fail("missing or not a string")
		}
		for _, v := range values {
			if !slices.Contains(m.OneOf, v) {
				return fail("value not allowed")
			}
		}
	}
	if !present || !isStrings {
		// Refusal rules match strings: a refusable claim of another type (a
		// number, an object) is not what the provider documents, so it is refused.
		if present && (len(m.Refused) > 0 || len(m.RefusedSuffixes) > 0) {
			return fail("unexpected type")
		}
		return nil
	}
	for _, v := range values {
		if slices.Contains(m.Refused, v) {
			return fail("refused value")
		}
		for _, s := range m.RefusedSuffixes {
			if strings.HasSuffix(v, s) {
				return fail("refused suffix")
			}
		}
	}
	return nil
}

// stringValues reads a claim that is a string or an array of strings.
func stringValues(raw json.RawMessage) ([]string, bool) {
	if len(raw) == 0 {
		return nil, false
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return []string{s}, true
	}
	var a []string
	if json.Unmarshal(raw, &a) == nil {
		return a, true
	}
	return nil, false
}

func empty(raw json.RawMessage) bool {
	switch string(bytes.TrimSpace(raw)) {
	case "", "null", `""`, "{}", "[]":
		return true
	}
	return false
}
