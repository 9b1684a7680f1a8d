// Package siwe parses and verifies Sign-In with Ethereum messages (EIP-4361,
// https://eips.ethereum.org/EIPS/eip-4361): a strict parser of the message
// grammar, the checks a relying party must make (domain, URI, chain, version,
// times, nonce), EIP-191 signature recovery (secp256k1 + Keccak-256, without
// go-ethereum: token bridges stay small) and EIP-1271 contract-wallet checks over
// JSON-RPC. Failures are *Error values with a Kind; this package knows nothing of
// HTTP.
package siwe

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Message is a parsed EIP-4361 message.
type Message struct {
	// Scheme is the optional scheme before the domain ("https"), "" when absent.
	Scheme string
	// Domain is the RFC 3986 authority (host[:port]) requesting the sign-in.
	Domain string
	// Address is the EIP-55 checksummed account as written.
	Address   string
	Statement string
	URI       string
	Version   string
	ChainID   int64
	Nonce     string
	IssuedAt  time.Time
	// ExpirationTime and NotBefore are zero when absent.
	ExpirationTime time.Time
	NotBefore      time.Time
	RequestID      string
	Resources      []string
}

// MaxMessageBytes caps a message before parsing (a sign-in message is a few hundred bytes).
const MaxMessageBytes = 4 << 10

const (
	preamble   = " wants you to sign in with your Ethereum account:"
	tagURI     = "URI: "
	tagVersion = "Version: "
	tagChain   = "Chain ID: "
	tagNonce   = "Nonce: "
	tagIssued  = "Issued At: "
	tagExpires = "Expiration Time: "
	tagNotBef  = "Not Before: "
	tagRequest = "Request ID: "
	tagRes     = "Resources:"
)

// Parse reads msg by the EIP-4361 grammar, strictly: fields in the order the
// grammar gives, each at most once, LF line endings, nothing after the last
// field. The one latitude: without a statement, the blank line the ABNF asks
// for and the single blank line that viem and the reference implementation
// write are both accepted (neither is ambiguous).
func Parse(msg string) (*Message, error) {
	if len(msg) > MaxMessageBytes {
		return nil, malformed("the message is longer than %d bytes", MaxMessageBytes)
	}
	if !utf8.ValidString(msg) {
		return nil, malformed("the message is not UTF-8")
	}
	if strings.Contains(msg, "\r") {
		return nil, malformed("lines must end with LF, not CRLF")
	}
	lines := strings.Split(msg, "\n")
	m := &Message{}
	i := 0
	next := func() (string, bool) {
		if i >= len(lines) {
			return "", false
		}
		i++
		return lines[i-1], true
	}

	// Line 1: [ scheme "://" ] domain " wants you to sign in with your Ethereum account:"
	l, _ := next()
	head, ok := strings.CutSuffix(l, preamble)
	if !ok {
		return nil, malformed("the first line must end with %q", preamble)
	}
	if s, d, found := strings.Cut(head, "://"); found {
		if !validScheme(s) {
			return nil, malformed("the scheme before the domain is not an RFC 3986 scheme")
		}
		m.Scheme, head = s, d
	}
	if !validAuthority(head) {
		return nil, malformed("the domain is not an RFC 3986 authority (host[:port])")
	}
	m.Domain = head

	// Line 2: the address.
	l, ok = next()
	if !ok || !ChecksumValid(l) {
		return nil, malformed("the second line must be an EIP-55 checksummed address")
	}
	m.Address = l

	// A blank line, then an optional statement and a blank line.
	if l, ok = next(); !ok || l != "" {
		return nil, malformed("a blank line must follow the address")
	}
	l, ok = next()
	if !ok {
		return nil, malformed("the message ends after the address")
	}
	switch {
	case l == "":
		// The ABNF's form without a statement: address LF LF LF URI.
		l, ok = next()
	case !strings.HasPrefix(l, tagURI):
		if !validStatement(l) {
			return nil, malformed("the statement may hold printable characters and spaces only")
		}
		m.Statement = l
		if l, ok = next(); !ok || l != "" {
			return nil, malformed("a blank line must follow the statement")
		}
		l, ok = next()
	}
	// Required fields, in order.
	field := func(tag string) (string, error) {
		if !ok || !strings.HasPrefix(l, tag) {
			return "", malformed("expected the %q field here", strings.TrimSpace(tag))
		}
		v := strings.TrimPrefix(l, tag)
		l, ok = next()
		return v, nil
	}
	var err error
	if m.URI, err = field(tagURI); err != nil {
		return nil, err
	}
	if u, perr := url.Parse(m.URI); perr != nil || !u.IsAbs() || strings.ContainsAny(m.URI, " \t") {
		return nil, malformed("URI is not an absolute RFC 3986 URI")
	}
	if m.Version, err = field(tagVersion); err != nil {
		return nil, err
	}
	if m.Version != "1" {
		return nil, &Error{Kind: KindVersion, Message: "Version must be 1"}
	}
	chain, err := field(tagChain)
	if err != nil {
		return nil, err
	}
	if m.ChainID, err = parseChainID(chain); err != nil {
		return nil, err
	}
	if m.Nonce, err = field(tagNonce); err != nil {
		return nil, err
	}
	if !validNonce(m.Nonce) {
		return nil, malformed("Nonce must be at least 8 letters or digits")
	}
	issued, err := field(tagIssued)
	if err != nil {
		return nil, err
	}
	if m.IssuedAt, err = parseTime("Issued At", issued); err != nil {
		return nil, err
	}
	// Optional fields, each at most once, in the grammar's order.
	if ok && strings.HasPrefix(l, tagExpires) {
		v, _ := field(tagExpires)
		if m.ExpirationTime, err = parseTime("Expiration Time", v); err != nil {
			return nil, err
		}
	}
	if ok && strings.HasPrefix(l, tagNotBef) {
		v, _ := field(tagNotBef)
		if m.NotBefore, err = parseTime("Not Before", v); err != nil {
			return nil, err
		}
	}
	if ok && strings.HasPrefix(l, tagRequest) {
		v, _ := field(tagRequest)
		if !validPchars(v) {
			return nil, malformed("Request ID may hold RFC 3986 pchar characters only")
		}
		m.RequestID = v
	}
	if ok && l == tagRes {
		l, ok = next()
		for ok && strings.HasPrefix(l, "- ") {
			r := strings.TrimPrefix(l, "- ")
			if u, perr := url.Parse(r); perr != nil || !u.IsAbs() || strings.ContainsAny(r, " \t") {
				return nil, malformed("each resource must be an absolute RFC 3986 URI")
			}
			m.Resources = append(m.Resources, r)
			l, ok = next()
		}
	}
	if ok {
		return nil, malformed("unexpected line after the last field (fields out of order, repeated or unknown?)")
	}
	return m, nil
}

func malformed(format string, args ...any) *Error {
	return &Error{Kind: KindMalformed, Message: fmt.Sprintf(format, args...)}
}

// parseChainID reads chain-id = 1*DIGIT (EIP-155), no sign, no leading zero.
func parseChainID(s string) (int64, error) {
	if s == "" || len(s) > 18 || (len(s) > 1 && s[0] == '0') || strings.TrimLeft(s, "0123456789") != "" {
		return 0, malformed("Chain ID must be a decimal EIP-155 chain id")
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, malformed("Chain ID must be a decimal EIP-155 chain id")
	}
	return n, nil
}

// parseTime reads an RFC 3339 date-time (the grammar's ABNF is RFC 3339's):
// a "T" separator and an explicit offset are required.
func parseTime(name, s string) (time.Time, error) {
	if len(s) < 20 || s[10] != 'T' {
		return time.Time{}, malformed("%s must be an RFC 3339 date-time", name)
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, malformed("%s must be an RFC 3339 date-time", name)
	}
	return t, nil
}

func isAlnum(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

// validNonce: nonce = 8*( ALPHA / DIGIT ); capped at 128 characters.
func validNonce(s string) bool {
	if len(s) < 8 || len(s) > 128 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isAlnum(s[i]) {
			return false
		}
	}
	return true
}

// validScheme: ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ).
func validScheme(s string) bool {
	if s == "" || !(s[0] >= 'a' && s[0] <= 'z' || s[0] >= 'A' && s[0] <= 'Z') {
		return false
	}
	for i := 1; i < len(s); i++ {
		if c := s[i]; !isAlnum(c) && c != '+' && c != '-' && c != '.' {
			return false
		}
	}
	return true
}

// validAuthority accepts host[:port] with a reg-name, IPv4 or bracketed IPv6
// host. Userinfo ("user@host") is refused: it has no place in a sign-in
// request and only serves to disguise the domain.
func validAuthority(s string) bool {
	if s == "" || strings.ContainsAny(s, "@/?#\\ ") {
		return false
	}
	host, port := s, ""
	if strings.HasPrefix(s, "[") {
		end := strings.Index(s, "]")
		if end < 0 {
			return false
		}
		host, port = s[:end+1], strings.TrimPrefix(s[end+1:], ":")
		if s[end+1:] != "" && !strings.HasPrefix(s[end+1:], ":") {
			return false
		}
	} else if h, p, found := strings.Cut(s, ":"); found {
		host, port = h, p
		if port == "" {
			return false
		}
	}
	if strings.TrimLeft(port, "0123456789") != "" || len(port) > 5 {
		return false
	}
	if strings.HasPrefix(host, "[") {
		return len(host) > 2
	}
	if host == "" {
		return false
	}
	for i := 0; i < len(host); i++ {
		if c := host[i]; !isAlnum(c) && !strings.ContainsRune("-._~!$&'()*+,;=%", rune(c)) {
			return false
		}
	}
	return true
}

// validStatement: *( reserved / unreserved / " " ), i.e. printable ASCII and
// spaces without LF; a statement can never be mistaken for a field line.
func validStatement(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == ' ' || isAlnum(c) || strings.IndexByte(":/?#[]@!$&'()*+,;=-._~", c) >= 0 {
			continue
		}
		return false
	}
	return true
}

// validPchars: *pchar (unreserved / pct-encoded / sub-delims / ":" / "@").
func validPchars(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if isAlnum(c) || strings.IndexByte("-._~!$&'()*+,;=:@%", c) >= 0 {
			continue
		}
		return false
	}
	return true
}
