// Package text shortens and sanitises strings before they reach a message, a
// log line or a ledger row.
package text

import (
	"strings"
	"unicode/utf8"
)

// Ellipsis marks a string Clip shortened.
const Ellipsis = "…"

// Clip returns s if it is at most n bytes long; otherwise its longest prefix of
// at most n bytes that ends on a rune boundary, followed by Ellipsis. Cutting
// inside a multi-byte rune would leave invalid UTF-8 in a JSON body or log.
func Clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	n = max(n, 0)
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + Ellipsis
}

// Printable replaces every ASCII control character (including DEL) in s with
// '?', so client-supplied text echoed in a message cannot forge lines or
// terminal escapes. Invalid UTF-8 becomes U+FFFD.
func Printable(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return '?'
		}
		return r
	}, s)
}

// PrintableHead is Printable of the first n bytes of s: client-supplied text
// (a method, a path) echoed in an error message, short and unable to forge
// lines. A rune cut at n becomes U+FFFD.
func PrintableHead(s string, n int) string {
	if len(s) > n {
		s = s[:n]
	}
	return Printable(s)
}
