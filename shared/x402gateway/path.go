package x402gateway

import (
	"net/http"
	"path"
	"strings"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// The gateway prices the decoded, cleaned path, while an upstream framework may
// see the same bytes differently: Tomcat and Spring drop ";…" path parameters
// ("/files/..;/admin" is "/files/../admin" to them), some servers decode twice
// ("%252e" → "%2e" → "."), treat "\" as "/", fold Unicode compatibility forms
// ("．" U+FF0E → "."), or accept overlong UTF-8 ("%c0%ae" → "."). A path is
// forwarded only when every such reading of it is the path that was priced:
// canonicalPath refuses anything that could read otherwise, and the path sent
// upstream is re-encoded from the decoded one, so the upstream sees one
// spelling of exactly what was priced.
// References: RFC 3986 §2.3 and §6.2.2 (https://www.rfc-editor.org/rfc/rfc3986),
// Tomcat's path parameter handling (https://tomcat.apache.org/tomcat-10.1-doc/config/http.html,
// "allowBackslash", "encodedSolidusHandling"), UAX #15 (https://unicode.org/reports/tr15/).

// pathError says why a path is refused; the message is safe to show.
type pathError string

func (e pathError) Error() string { return string(e) }

// canonicalPath returns the path after Prefix decoded (what routes match) and
// the escaped form forwarded upstream. found is false when the request is not
// under Prefix (no route can match); err is set when the path is under Prefix
// but could be read differently by an upstream.
func canonicalPath(r *http.Request) (decoded, forward string, found bool, err error) {
	d, ok := strings.CutPrefix(r.URL.Path, Prefix)
	e, eok := strings.CutPrefix(r.URL.EscapedPath(), Prefix)
	if !ok || !eok || !strings.HasPrefix(d, "/") || !strings.HasPrefix(e, "/") {
		return "", "", false, nil
	}
	if err := checkEscapes(e); err != nil {
		return "", "", true, err
	}
	if err := checkDecoded(d); err != nil {
		return "", "", true, err
	}
	// The same rules once Unicode compatibility forms are folded (NFKC), with
	// no "/" appearing from a look-alike (U+FF0F, U+2100 "a/c", …).
	if n := norm.NFKC.String(d); n != d {
		if strings.Count(n, "/") != strings.Count(d, "/") {
			return "", "", true, pathError("the path has a character that folds into a slash")
		}
		if err := checkDecoded(n); err != nil {
			return "", "", true, err
		}
	}
	return d, encodePath(d), true, nil
}

// checkEscapes refuses malformed escapes, escaped "/" (which would split
// differently here and upstream) and escapes of unreserved characters
// ("%2e", "%41"), which RFC 3986 §6.2.2.2 says must not be escaped: a second
// spelling of a character is the usual vehicle for reading a path two ways.
func checkEscapes(e string) error {
	for i := 0; i < len(e); i++ {
		if e[i] != '%' {
			continue
		}
		if i+2 >= len(e) || !isHex(e[i+1]) || !isHex(e[i+2]) {
			return pathError("the path has a malformed percent escape")
		}
		b := unhex(e[i+1])<<4 | unhex(e[i+2])
		switch {
		case b == '/':
			return pathError("the path has an escaped slash (%2F)")
		case unreserved(b):
			return pathError("the path escapes a character that must not be escaped")
		}
		i += 2
	}
	return nil
}

// checkDecoded refuses, in the decoded path: ";" (path parameters, stripped by
// Tomcat/Spring), "\" (a separator to some servers), "%" (a second decoding),
// control characters and NUL, invalid UTF-8 (overlong forms of "." and "/"),
// empty segments ("//", a trailing slash) and any segment made only of dots
// and spaces ("." and "..", and "..." or ".. " which Windows trims into them).
func checkDecoded(d string) error {
	if !utf8.ValidString(d) {
		return pathError("the path is not valid UTF-8 once decoded")
	}
	for i := 0; i < len(d); i++ {
		switch c := d[i]; {
		case c == ';':
			return pathError(`the path has a ";" (a path parameter)`)
		case c == '\\':
			return pathError(`the path has a "\"`)
		case c == '%':
			return pathError(`the path has a "%" once decoded (an escaped escape)`)
		case c < 0x20 || c == 0x7f:
			return pathError("the path has a control character")
		}
	}
	if d == "/" {
		return nil
	}
	for _, seg := range strings.Split(d[1:], "/") {
		if seg == "" {
			return pathError("the path has an empty segment (// or a trailing slash)")
		}
		if strings.Trim(seg, ". \t") == "" {
			return pathError("the path has a segment made only of dots or spaces")
		}
	}
	if path.Clean(d) != d { // unreachable after the checks above; kept as the invariant
		return pathError("the path is not clean")
	}
	return nil
}

// encodePath escapes the decoded path the one way the gateway forwards it:
// RFC 3986 pchar characters other than ";" stay as they are, everything else
// (space, "?", "#", non-ASCII, …) becomes %XX with upper-case hex.
func encodePath(d string) string {
	var b strings.Builder
	b.Grow(len(d) + 16)
	for i := 0; i < len(d); i++ {
		c := d[i]
		if c == '/' || pchar(c) {
			b.WriteByte(c)
			continue
		}
		const hex = "0123456789ABCDEF"
		b.WriteByte('%')
		b.WriteByte(hex[c>>4])
		b.WriteByte(hex[c&15])
	}
	return b.String()
}

// unreserved is RFC 3986 §2.3: ALPHA / DIGIT / "-" / "." / "_" / "~".
func unreserved(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~'
}

// pchar is RFC 3986 §3.3's pchar without ";" and without pct-encoded:
// unreserved / "!" "$" "&" "'" "(" ")" "*" "+" "," "=" / ":" / "@".
func pchar(c byte) bool {
	return unreserved(c) || strings.IndexByte("!$&'()*+,=:@", c) >= 0
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case c <= '9':
		return c - '0'
	case c <= 'F':
		return c - 'A' + 10
	}
	return c - 'a' + 10
}
