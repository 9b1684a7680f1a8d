package runner

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/insforge/edge-functions-go/shared/localidentity/devserver"
)

func TestFillReplacesDevTokenPlaceholders(t *testing.T) {
	is, err := devserver.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer is.Close()
	cases := []struct {
		name, in string
		ok       bool
	}{
		{"jwt", `{"a":"Bearer {{dev-token clerk user_1}}"}`, true},
		{"cookie", `{"c":["{{dev-token better-auth u cookie}}"]}`, true},
		{"unknown provider", `{"a":"{{dev-token nope u}}"}`, false},
		{"unknown placeholder", `{"a":"{{something}}"}`, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			out, err := Fill([]byte(tc.in), is)
			if (err == nil) != tc.ok {
				t.Fatalf("err = %v, want ok=%v", err, tc.ok)
			}
			if tc.ok && (strings.Contains(string(out), "{{") || !json.Valid(out)) {
				t.Errorf("not filled: %s", out)
			}
		})
	}
}
