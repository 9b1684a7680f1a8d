package text

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestClip(t *testing.T) {
	tests := []struct {
		name string
		s    string
		n    int
		want string
	}{
		{"short", "abc", 5, "abc"},
		{"exact", "abcde", 5, "abcde"},
		{"long ascii", "abcdef", 5, "abcde…"},
		{"empty", "", 3, ""},
		{"zero limit", "abc", 0, "…"},
		{"negative limit", "abc", -1, "…"},
		// "é" is 2 bytes: a cut at 4 would split the second one.
		{"cut inside a rune backs off", "aéé", 4, "aé…"},
		{"cut on a rune boundary", "aéé", 3, "aé…"},
		// "😀" is 4 bytes.
		{"four-byte rune", "😀😀", 6, "😀…"},
		{"first rune too long", "😀", 2, "…"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Clip(tt.s, tt.n)
			if got != tt.want {
				t.Fatalf("Clip(%q, %d) = %q, want %q", tt.s, tt.n, got, tt.want)
			}
			if !utf8.ValidString(got) {
				t.Fatalf("Clip(%q, %d) = %q is not valid UTF-8", tt.s, tt.n, got)
			}
		})
	}
}

func TestClipNeverSplitsARune(t *testing.T) {
	s := strings.Repeat("aé😀ж", 20)
	for n := range len(s) + 2 {
		got := Clip(s, n)
		if !utf8.ValidString(got) {
			t.Fatalf("Clip(s, %d) = %q is not valid UTF-8", n, got)
		}
		body := strings.TrimSuffix(got, Ellipsis)
		if len(body) > n || !strings.HasPrefix(s, body) {
			t.Fatalf("Clip(s, %d) = %q: not a prefix of at most %d bytes", n, got, n)
		}
		if n >= len(s) && got != s {
			t.Fatalf("Clip(s, %d) shortened a string that fits", n)
		}
	}
}

func TestPrintable(t *testing.T) {
	tests := []struct{ in, want string }{
		{"exact", "exact"},
		{"a\nb\r\tc", "a?b??c"},
		{"\x1b[31mred\x7f", "?[31mred?"},
		{"ünïcode 😀", "ünïcode 😀"},
		{"bad\xffbyte", "bad\uFFFDbyte"},
	}
	for _, tt := range tests {
		if got := Printable(tt.in); got != tt.want {
			t.Errorf("Printable(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestPrintableHead(t *testing.T) {
	tests := []struct {
		in   string
		n    int
		want string
	}{
		{"GET", 8, "GET"},
		{"/items/1\n", 20, "/items/1?"},
		{"/a\r\nInjected: 1", 4, "/a??"},
		{"aé", 2, "a\uFFFD"},
	}
	for _, tt := range tests {
		if got := PrintableHead(tt.in, tt.n); got != tt.want {
			t.Errorf("PrintableHead(%q, %d) = %q, want %q", tt.in, tt.n, got, tt.want)
		}
	}
}
