package runner

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"

	"github.com/insforge/edge-functions-go/shared/localidentity/devserver"
)

var placeholder = regexp.MustCompile(`\{\{\s*dev-token\s+([a-z0-9-]+)\s+([^\s}]+)(?:\s+(jwt|session|cookie))?\s*\}\}`)

// Fill replaces {{dev-token …}} placeholders with credentials from the dev issuer.
func Fill(raw []byte, is *devserver.Server) ([]byte, error) {
	var firstErr error
	out := placeholder.ReplaceAllFunc(raw, func(m []byte) []byte {
		if is == nil {
			firstErr = fmt.Errorf("the event needs the dev issuer (%s): drop --no-dev", m)
			return m
		}
		g := placeholder.FindSubmatch(m)
		cred, err := is.Credential(string(g[1]), string(g[2]), string(g[3]), devserver.DefaultTTL)
		if err != nil && firstErr == nil {
			firstErr = err
		}
		b, _ := json.Marshal(cred)
		return b[1 : len(b)-1] // JSON-escaped, without the quotes
	})
	if firstErr == nil && bytes.Contains(out, []byte("{{")) && strings.Contains(string(out), "}}") {
		if m := regexp.MustCompile(`\{\{[^}]*\}\}`).Find(out); m != nil {
			firstErr = fmt.Errorf("unknown placeholder %s in the event", m)
		}
	}
	return out, firstErr
}
