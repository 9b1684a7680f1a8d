package identity

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Claims are a verified token's payload, decoded once: one pass over the JSON
// finds every top-level claim, and the standard checks, the markers,
// email_verified and act all read from that index. Anything a bridge does not
// copy (role, permissions, organisation claims) is never copied into the
// InsForge token; markers and checks may read it through Raw.
type Claims struct {
	Issuer    string
	Subject   string
	Audience  []string
	ExpiresAt time.Time // zero: no exp
	NotBefore time.Time // zero: no nbf
	IssuedAt  time.Time // zero: no iat
	// Typ is the JOSE header's typ (RFC 9068 access tokens say at+jwt).
	Typ string

	members []member
	buf     [24]member // backing array of members: most tokens have fewer claims
}

// member is one top-level claim: its name and raw JSON value, both slices of the payload.
type member struct{ name, value []byte }

// maxClaims bounds the claims of one token (the payload is at most MaxCredentialBytes).
const maxClaims = 256

var errMalformed = errors.New("malformed JSON object")

// decodeClaims indexes payload (a JSON object) and reads the registered claims.
// Duplicate claim names are refused: which one a library keeps differs, so a token
// that names a claim twice is ambiguous.
func decodeClaims(payload []byte, c *Claims) error {
	c.members = c.buf[:0]
	if err := indexObject(payload, &c.members); err != nil {
		return err
	}
	var err error
	if c.Issuer, err = c.stringClaim("iss"); err != nil {
		return err
	}
	if c.Subject, err = c.stringClaim("sub"); err != nil {
		return err
	}
	if c.Audience, err = c.audience(); err != nil {
		return err
	}
	if c.ExpiresAt, err = c.dateClaim("exp"); err != nil {
		return err
	}
	if c.NotBefore, err = c.dateClaim("nbf"); err != nil {
		return err
	}
	c.IssuedAt, err = c.dateClaim("iat")
	return err
}

// indexObject appends the members of the JSON object p to out.
func indexObject(p []byte, out *[]member) error {
	if !json.Valid(p) {
		return errMalformed
	}
	if !utf8.Valid(p) {
		// RFC 8259 section 8.1: JSON exchanged between systems is UTF-8. Decoders
		// differ on what they make of invalid bytes, so a token with any is refused.
		return errors.New("not UTF-8")
	}
	i := skipSpace(p, 0)
	if i >= len(p) || p[i] != '{' {
		return errors.New("not a JSON object")
	}
	i = skipSpace(p, i+1)
	if i < len(p) && p[i] == '}' {
		return nil
	}
	for i < len(p) {
		end, escaped := scanString(p, i)
		name := p[i+1 : end-1]
		if escaped {
			var s string
			if err := json.Unmarshal(p[i:end], &s); err != nil {
				return err
			}
			name = []byte(s)
		}
		i = skipSpace(p, end)
		i = skipSpace(p, i+1) // ':'
		vend := skipValue(p, i)
		for _, m := range *out {
			if bytes.Equal(m.name, name) {
				return errors.New("claim " + strconv.Quote(string(name)) + " appears twice")
			}
		}
		if len(*out) == maxClaims {
			return errors.New("too many claims")
		}
		*out = append(*out, member{name: name, value: p[i:vend]})
		i = skipSpace(p, vend)
		if i < len(p) && p[i] == '}' {
			return nil
		}
		i = skipSpace(p, i+1) // ','
	}
	return errMalformed
}

func skipSpace(p []byte, i int) int {
	for i < len(p) && (p[i] == ' ' || p[i] == '\t' || p[i] == '\n' || p[i] == '\r') {
		i++
	}
	return i
}

// scanString returns the index after the string starting at p[i] (a quote) and
// whether it contains escapes. p is valid JSON.
func scanString(p []byte, i int) (int, bool) {
	escaped := false
	for j := i + 1; j < len(p); j++ {
		switch p[j] {
		case '\\':
			escaped = true
			j++
		case '"':
			return j + 1, escaped
		}
	}
	return len(p), escaped
}

// skipValue returns the index after the value starting at p[i]. p is valid JSON.
func skipValue(p []byte, i int) int {
	if i >= len(p) {
		return i
	}
	switch p[i] {
	case '"':
		end, _ := scanString(p, i)
		return end
	case '{', '[':
		depth := 0
		for j := i; j < len(p); j++ {
			switch p[j] {
			case '"':
				end, _ := scanString(p, j)
				j = end - 1
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return j + 1
				}
			}
		}
		return len(p)
	}
	j := i
	for j < len(p) {
		switch p[j] {
		case ',', '}', ']', ' ', '\t', '\r', '\n':
			return j
		}
		j++
	}
	return j
}

// Raw returns a claim as sent, and whether it was present (null counts as absent).
func (c *Claims) Raw(name string) (json.RawMessage, bool) {
	for _, m := range c.members {
		if string(m.name) == name {
			if string(m.value) == "null" {
				return nil, false
			}
			return m.value, true
		}
	}
	return nil, false
}

// String returns a claim that is a JSON string; ok is false when it is absent or
// of another type.
func (c *Claims) String(name string) (string, bool) {
	raw, ok := c.Raw(name)
	if !ok {
		return "", false
	}
	return unquote(raw)
}

// stringClaim is a registered string claim: absent is "", another type is malformed.
func (c *Claims) stringClaim(name string) (string, error) {
	raw, ok := c.Raw(name)
	if !ok {
		return "", nil
	}
	s, ok := unquote(raw)
	if !ok {
		return "", errors.New("claim " + name + " is not a string")
	}
	return s, nil
}

// audience reads aud: a string or an array of strings (RFC 7519 section 4.1.3).
func (c *Claims) audience() ([]string, error) {
	raw, ok := c.Raw("aud")
	if !ok {
		return nil, nil
	}
	if s, ok := unquote(raw); ok {
		return []string{s}, nil
	}
	var out []string
	if !eachString(raw, func(v []byte) bool {
		s, ok := unquote(v)
		out = append(out, s)
		return ok
	}) {
		return nil, errors.New("claim aud is neither a string nor an array of strings")
	}
	return out, nil
}

// dateClaim is a NumericDate (RFC 7519 section 2): seconds since the epoch,
// possibly fractional.
func (c *Claims) dateClaim(name string) (time.Time, error) {
	raw, ok := c.Raw(name)
	if !ok {
		return time.Time{}, nil
	}
	if n, ok := digits(raw); ok {
		return time.Unix(n, 0), nil
	}
	f, err := strconv.ParseFloat(string(raw), 64)
	if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
		return time.Time{}, errors.New("claim " + name + " is not a number")
	}
	sec, frac := math.Modf(f)
	return time.Unix(int64(sec), int64(frac*1e9)).Truncate(time.Second), nil
}

// digits parses a plain non-negative integer of at most 15 digits.
func digits(b []byte) (int64, bool) {
	if len(b) == 0 || len(b) > 15 {
		return 0, false
	}
	var n int64
	for _, ch := range b {
		if ch < '0' || ch > '9' {
			return 0, false
		}
		n = n*10 + int64(ch-'0')
	}
	return n, true
}

// unquote returns the Go string of a raw JSON string value.
func unquote(raw []byte) (string, bool) {
	if len(raw) < 2 || raw[0] != '"' {
		return "", false
	}
	inner := raw[1 : len(raw)-1]
	if bytes.IndexByte(inner, '\\') < 0 {
		return string(inner), true
	}
	var s string
	return s, json.Unmarshal(raw, &s) == nil
}

// eachString calls f on every element of the JSON array raw (as raw values) and
// reports whether raw is an array of strings and f accepted every element.
func eachString(raw []byte, f func([]byte) bool) bool {
	if len(raw) < 2 || raw[0] != '[' {
		return false
	}
	i := skipSpace(raw, 1)
	if raw[i] == ']' {
		return true
	}
	for i < len(raw) {
		if raw[i] != '"' {
			return false
		}
		end, _ := scanString(raw, i)
		if !f(raw[i:end]) {
			return false
		}
		i = skipSpace(raw, end)
		if i < len(raw) && raw[i] == ']' {
			return true
		}
		i = skipSpace(raw, i+1)
	}
	return false
}

// stringEquals reports whether the raw JSON string value equals s, without
// allocating when it has no escapes.
func stringEquals(raw []byte, s string) bool {
	if len(raw) >= 2 && raw[0] == '"' && bytes.IndexByte(raw, '\\') < 0 {
		return string(raw[1:len(raw)-1]) == s
	}
	v, ok := unquote(raw)
	return ok && v == s
}

// isTrue reports whether claim is present and exactly the JSON literal true:
// a missing claim, null, "true", 1 or "yes" are not an assertion.
func (c *Claims) isTrue(name string) bool {
	v, ok := c.Raw(name)
	return ok && string(v) == "true"
}

// email returns the email claim only when verifiedClaim is exactly true.
func (c *Claims) email(verifiedClaim string) string {
	if !c.isTrue(verifiedClaim) {
		return ""
	}
	e, ok := c.String("email")
	if !ok || !utf8.ValidString(e) {
		return ""
	}
	return strings.TrimSpace(e)
}

// actor returns act.sub (RFC 8693 section 4.1), or a short description of an act
// claim without one, and whether act is present.
func (c *Claims) actor() (string, bool) {
	v, ok := c.Raw("act")
	if !ok {
		return "", false
	}
	var act []member
	if v[0] == '{' && indexObject(v, &act) == nil {
		for _, m := range act {
			if string(m.name) == "sub" {
				if s, ok := unquote(m.value); ok && strings.TrimSpace(s) != "" {
					return strings.TrimSpace(s), true
				}
			}
		}
	}
	return "(act without sub)", true
}
