// Command token-doctor explains why InsForge would accept or reject a token:
//
//	INSFORGE_JWT_SECRET=… go run ./scripts/token-doctor <jwt>
//	pbpaste | go run ./scripts/token-doctor -
//
// It exits 0 when InsForge would accept the token, 1 when it would not, 2 on
// usage errors. The secret is read from the environment only and never printed.
package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/insforge/edge-functions-go/shared/signer"
)

func main() {
	os.Exit(run(os.Args[1:], os.Getenv("INSFORGE_JWT_SECRET"), os.Stdin, os.Stdout, time.Now()))
}

func run(args []string, secret string, stdin io.Reader, out io.Writer, now time.Time) int {
	if len(args) != 1 || args[0] == "-h" || args[0] == "--help" {
		fmt.Fprintln(out, "usage: INSFORGE_JWT_SECRET=<secret> go run ./scripts/token-doctor <jwt | ->")
		return 2
	}
	token := args[0]
	if token == "-" {
		b, err := io.ReadAll(io.LimitReader(stdin, 1<<20))
		if err != nil {
			fmt.Fprintln(out, "reading stdin:", err)
			return 2
		}
		token = strings.TrimSpace(string(b))
	}
	d := signer.Diagnose(token, []byte(secret), now)
	fmt.Fprint(out, d)
	if !d.Accepted {
		return 1
	}
	return 0
}
