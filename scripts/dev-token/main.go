// Command dev-token prints a provider-shaped credential from the dev identity
// issuer that `make dev` runs, for use against the local bridges:
//
//	TOKEN=$(go run ./scripts/dev-token clerk user_2dev)
//	go run ./scripts/dev-token stytch user-test-1 --kind session   # opaque session_token
//	go run ./scripts/dev-token better-auth alice --kind cookie      # better-auth.session_token=…
package main

import (
	"cmp"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/insforge/edge-functions-go/shared/localidentity/devserver"
)

func main() {
	issuer := flag.String("issuer", cmp.Or(os.Getenv("DEV_ISSUER_URL"), "http://127.0.0.1:3001"), "dev issuer URL (printed by make dev)")
	kind := flag.String("kind", "jwt", "jwt (all providers), session (stytch, better-auth) or cookie (better-auth)")
	ttl := flag.Duration("ttl", devserver.DefaultTTL, "credential lifetime")
	flag.Usage = func() {
		fmt.Fprintf(os.Stderr, "usage: dev-token <%s> <user-id> [--kind jwt|session|cookie] [--ttl 10m]\n", strings.Join(devserver.Providers, "|"))
		flag.PrintDefaults()
	}
	// Accept flags before or after the positional arguments.
	var pos []string
	args := os.Args[1:]
	for len(args) > 0 {
		if err := flag.CommandLine.Parse(args); err != nil {
			os.Exit(2)
		}
		args = flag.Args()
		if len(args) > 0 {
			pos, args = append(pos, args[0]), args[1:]
		}
	}
	if len(pos) != 2 {
		flag.Usage()
		os.Exit(2)
	}
	q := url.Values{"provider": {pos[0]}, "sub": {pos[1]}, "kind": {*kind}, "ttl": {ttl.String()}}
	c := &http.Client{Timeout: 5 * time.Second}
	res, err := c.Get(strings.TrimRight(*issuer, "/") + "/dev/token?" + q.Encode())
	if err != nil {
		fmt.Fprintf(os.Stderr, "dev-token: cannot reach the dev issuer at %s (is `make dev` running?): %v\n", *issuer, err)
		os.Exit(1)
	}
	defer res.Body.Close()
	var body struct{ Credential, Message string }
	raw, _ := io.ReadAll(io.LimitReader(res.Body, 1<<20))
	if err := json.Unmarshal(raw, &body); err != nil || res.StatusCode != http.StatusOK {
		fmt.Fprintf(os.Stderr, "dev-token: %s %s\n", res.Status, body.Message)
		os.Exit(1)
	}
	fmt.Println(body.Credential)
}
