package ci

import "testing"

func TestRequiredOnlyForTrueOrOne(t *testing.T) {
	for _, tc := range []struct {
		value string
		want  bool
	}{
		{"true", true},
		{"1", true},
		{"", false},
		{"false", false},
		{"0", false},
		{"TRUE", false},
		{"yes", false},
		{" true", false},
	} {
		t.Run(tc.value, func(t *testing.T) {
			t.Setenv("CI", tc.value)
			if got := Required(); got != tc.want {
				t.Errorf("CI=%q: Required() = %v, want %v", tc.value, got, tc.want)
			}
		})
	}
}
