package siwe_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/insforge/edge-functions-go/shared/siwe"
)

// A message with every field, in the layout of the EIP-4361 examples
// (https://eips.ethereum.org/EIPS/eip-4361#example-message).
const full = "https://example.com wants you to sign in with your Ethereum account:\n" +
	"0xC02aaA39b223FE8D0A0e5C4F27eAD9083C756Cc2\n\n" +
	"I accept the ExampleOrg Terms of Service: https://example.com/tos\n\n" +
	"URI: https://example.com/login\nVersion: 1\nChain ID: 196\nNonce: 32891756abcdef\n" +
	"Issued At: 2021-09-30T16:25:24Z\nExpiration Time: 2021-09-30T16:35:24.000Z\nNot Before: 2021-09-30T16:25:24+00:00\n" +
	"Request ID: req-1:a@b\nResources:\n- ipfs://bafybeiemxf5abjwjbikoz4mc3a3dla6ual3jsgpdr4cjr3oz3evfyavhwq/\n- https://example.com/my-web2-claim.json"

func TestParseReadsEveryField(t *testing.T) {
	m, err := siwe.Parse(full)
	if err != nil {
		t.Fatal(err)
	}
	if m.Scheme != "https" || m.Domain != "example.com" || m.Address != "0xC02aaA39b223FE8D0A0e5C4F27eAD9083C756Cc2" ||
		m.Statement != "I accept the ExampleOrg Terms of Service: https://example.com/tos" || m.URI != "https://example.com/login" ||
		m.Version != "1" || m.ChainID != 196 || m.Nonce != "32891756abcdef" || m.RequestID != "req-1:a@b" || len(m.Resources) != 2 {
		t.Fatalf("parsed %+v", m)
	}
	if !m.IssuedAt.Equal(time.Date(2021, 9, 30, 16, 25, 24, 0, time.UTC)) || !m.ExpirationTime.Equal(m.IssuedAt.Add(10*time.Minute)) ||
		!m.NotBefore.Equal(m.IssuedAt) {
		t.Fatalf("times %v %v %v", m.IssuedAt, m.ExpirationTime, m.NotBefore)
	}
}

func TestParseAcceptsBothLayoutsWithoutStatement(t *testing.T) {
	tail := "URI: https://example.com\nVersion: 1\nChain ID: 196\nNonce: abcdefgh1\nIssued At: 2021-09-30T16:25:24Z"
	head := "example.com wants you to sign in with your Ethereum account:\n0xC02aaA39b223FE8D0A0e5C4F27eAD9083C756Cc2\n"
	for name, msg := range map[string]string{"viem": head + "\n" + tail, "abnf": head + "\n\n" + tail} {
		m, err := siwe.Parse(msg)
		if err != nil || m.Statement != "" || m.URI != "https://example.com" {
			t.Errorf("%s: %v %+v", name, err, m)
		}
	}
}

func TestParseRefusesWhatTheGrammarForbids(t *testing.T) {
	swap := func(a, b string) string { return strings.Replace(full, a, b, 1) }
	cases := map[string]string{
		"empty":                    "",
		"crlf":                     strings.ReplaceAll(full, "\n", "\r\n"),
		"trailing newline":         full + "\n",
		"extra line at the end":    full + "\nFoo: bar",
		"unknown field":            swap("Request ID: req-1:a@b\n", "Request ID: req-1:a@b\nFoo: bar\n"),
		"reordered version, uri":   swap("URI: https://example.com/login\nVersion: 1", "Version: 1\nURI: https://example.com/login"),
		"reordered optional":       swap("Expiration Time: 2021-09-30T16:35:24.000Z\nNot Before: 2021-09-30T16:25:24+00:00", "Not Before: 2021-09-30T16:25:24+00:00\nExpiration Time: 2021-09-30T16:35:24.000Z"),
		"repeated nonce":           swap("Nonce: 32891756abcdef\n", "Nonce: 32891756abcdef\nNonce: 32891756abcdef\n"),
		"repeated expiration":      swap("Expiration Time: 2021-09-30T16:35:24.000Z\n", "Expiration Time: 2021-09-30T16:35:24.000Z\nExpiration Time: 2021-09-30T16:35:24.000Z\n"),
		"missing chain id":         swap("Chain ID: 196\n", ""),
		"lower-case address":       swap("0xC02aaA39b223FE8D0A0e5C4F27eAD9083C756Cc2", "0xc02aaa39b223fe8d0a0e5c4f27ead9083c756cc2"),
		"bad checksum":             swap("0xC02aaA39b223FE8D0A0e5C4F27eAD9083C756Cc2", "0xC02aaA39b223FE8D0A0e5C4F27eAD9083C756CC2"),
		"userinfo in domain":       swap("https://example.com wants", "https://evil@example.com wants"),
		"path in domain":           swap("https://example.com wants", "https://example.com/x wants"),
		"empty port":               swap("https://example.com wants", "https://example.com: wants"),
		"other preamble":           swap("wants you to sign in", "wants you to log in"),
		"no blank after address":   swap("Cc2\n\n", "Cc2\n"),
		"no blank after statement": swap("/tos\n\n", "/tos\n"),
		"multi-line statement":     swap("Terms of Service: https://example.com/tos", "Terms\nof Service"),
		"chain id leading zero":    swap("Chain ID: 196", "Chain ID: 0196"),
		"chain id sign":            swap("Chain ID: 196", "Chain ID: +196"),
		"short nonce":              swap("Nonce: 32891756abcdef", "Nonce: 1234567"),
		"nonce punctuation":        swap("Nonce: 32891756abcdef", "Nonce: 32891756-abcdef"),
		"date without offset":      swap("Issued At: 2021-09-30T16:25:24Z", "Issued At: 2021-09-30T16:25:24"),
		"date with space":          swap("Issued At: 2021-09-30T16:25:24Z", "Issued At: 2021-09-30 16:25:24Z"),
		"relative uri":             swap("URI: https://example.com/login", "URI: /login"),
		"resource not a list item": swap("- ipfs://", "ipfs://"),
		"not utf-8":                swap("Terms", "Te\xffrms"),
		"too long":                 swap("Terms", strings.Repeat("x", siwe.MaxMessageBytes)),
	}
	for name, msg := range cases {
		t.Run(name, func(t *testing.T) {
			if _, err := siwe.Parse(msg); !errors.Is(err, &siwe.Error{Kind: siwe.KindMalformed}) {
				t.Fatalf("got %v, want %s", err, siwe.CodeMalformed)
			}
		})
	}
}

func TestParseRefusesAnotherVersionWithItsOwnCode(t *testing.T) {
	_, err := siwe.Parse(strings.Replace(full, "Version: 1", "Version: 2", 1))
	if !errors.Is(err, &siwe.Error{Kind: siwe.KindVersion}) {
		t.Fatalf("got %v", err)
	}
}

func TestEveryKindHasACode(t *testing.T) {
	seen := map[string]bool{}
	for _, k := range siwe.Kinds {
		c := k.Code()
		if c == "" || seen[c] {
			t.Errorf("kind %q: code %q empty or repeated", k, c)
		}
		seen[c] = true
	}
}

func FuzzParse(f *testing.F) {
	f.Add(full)
	f.Fuzz(func(t *testing.T, s string) {
		m, err := siwe.Parse(s)
		if err == nil && (m.Domain == "" || m.Nonce == "" || m.IssuedAt.IsZero() || !siwe.ChecksumValid(m.Address)) {
			t.Fatalf("accepted an incomplete message: %+v", m)
		}
	})
}
