package identity

import (
	"regexp"
	"strings"
	"testing"
)

// TestValidIDMatchesThePattern pins validID to the pattern it replaced.
func TestValidIDMatchesThePattern(t *testing.T) {
	pattern := regexp.MustCompile(`^[A-Za-z0-9_-]{1,128}$`)
	cases := []string{"", "a", "project-test-6a1e8c2d-0000-4000-8000-000000000001", "client_01HTEST",
		strings.Repeat("a", 128), strings.Repeat("a", 129), "a b", "a/b", "../x", "a%2F", "é", "a\n", "a.b", "A-Z_0-9"}
	for _, c := range cases {
		if got, want := validID(c), pattern.MatchString(c); got != want {
			t.Errorf("validID(%q) = %v, want %v", c, got, want)
		}
	}
}
