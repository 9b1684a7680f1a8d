package positive

import (
	"testing"
	"time"
)

func TestOrKeepsPositiveValuesAndDefaultsTheRest(t *testing.T) {
	for _, c := range []struct {
		name    string
		v, want time.Duration
	}{
		{"positive kept", 2 * time.Second, 2 * time.Second},
		{"zero defaulted", 0, 5 * time.Second},
		{"negative defaulted", -time.Second, 5 * time.Second},
		{"smallest positive kept", 1, 1},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := Or(c.v, 5*time.Second); got != c.want {
				t.Fatalf("Or(%v, 5s) = %v, want %v", c.v, got, c.want)
			}
		})
	}
	if got := Or(-1, 20); got != 20 {
		t.Fatalf("Or(-1, 20) = %d, want 20", got)
	}
	if got := Or(0.5, 10.0); got != 0.5 {
		t.Fatalf("Or(0.5, 10) = %v, want 0.5", got)
	}
	if got := Or(int64(-3), 4<<20); got != 4<<20 {
		t.Fatalf("Or(-3, 4 MiB) = %d, want %d", got, 4<<20)
	}
}
