package main

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/insforge/edge-functions-go/shared/signer"
)

func TestRunExitCodes(t *testing.T) {
	const secret = "doctor-cli-secret-0123456789abcdef0123"
	s, err := signer.New(signer.Config{Secret: secret, TTL: time.Hour}, signer.Options{})
	if err != nil {
		t.Fatal(err)
	}
	tok, _ := s.Mint("user_1", "")
	cases := []struct {
		name   string
		args   []string
		secret string
		stdin  string
		code   int
		says   string
	}{
		{"accepted token", []string{tok.Value}, secret, "", 0, "ACCEPTED"},
		{"token from stdin", []string{"-"}, secret, tok.Value + "\n", 0, "ACCEPTED"},
		{"wrong secret", []string{tok.Value}, "another-secret-0123456789abcdef0123456", "", 1, "REJECTED"},
		{"garbage", []string{"nope"}, secret, "", 1, "not a JWT"},
		{"no argument", nil, secret, "", 2, "usage"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var out bytes.Buffer
			code := run(c.args, c.secret, strings.NewReader(c.stdin), &out, time.Now())
			if code != c.code || !strings.Contains(out.String(), c.says) {
				t.Fatalf("exit %d, want %d; output:\n%s", code, c.code, out.String())
			}
			if strings.Contains(out.String(), secret) {
				t.Fatal("secret printed")
			}
		})
	}
}
