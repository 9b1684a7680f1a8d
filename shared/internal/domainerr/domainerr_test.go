package domainerr

import (
	"errors"
	"io"
	"testing"
)

type kind string

const (
	refused kind = "refused"
	down    kind = "down"
)

func TestErrorSaysItsCodeMatchesOnKindAndUnwraps(t *testing.T) {
	bare := &Error[kind]{Kind: refused, Message: "no"}
	caused := &Error[kind]{Kind: down, Message: "try later", Err: io.ErrUnexpectedEOF}
	for _, c := range []struct {
		name string
		got  string
		want string
	}{
		{"without a cause", bare.Error(), "refused: no"},
		{"with its cause", caused.Error(), "down: try later: unexpected EOF"},
	} {
		if c.got != c.want {
			t.Errorf("%s: %q, want %q", c.name, c.got, c.want)
		}
	}
	if !errors.Is(caused, &Error[kind]{Kind: down}) || errors.Is(caused, &Error[kind]{Kind: refused}) {
		t.Error("errors.Is must match on the kind alone")
	}
	if !errors.Is(caused, io.ErrUnexpectedEOF) {
		t.Error("the cause must unwrap")
	}
	var e *Error[kind]
	if !errors.As(error(bare), &e) || e.Kind != refused {
		t.Error("errors.As must find the error")
	}
}
