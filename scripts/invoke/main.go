// Command invoke runs one function once with an event, like `sam local invoke`,
// through the same Runtime API path as `make dev`, and prints the response and the
// init/invoke durations:
//
//	go run ./scripts/invoke [--env-vars env.json] [--no-dev] <LogicalId> events/<file>.json
//
// Placeholders in the event are filled from the dev environment, so sample events
// stay valid: {{dev-token <provider> <user-id> [jwt|session|cookie]}} becomes a
// fresh credential from the dev identity issuer.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"regexp"
	"strings"
	"time"

	"github.com/insforge/edge-functions-go/scripts/internal/devenv"
	"github.com/insforge/edge-functions-go/scripts/internal/devissuer"
)

func main() {
	code, err := run()
	if err != nil {
		fmt.Fprintln(os.Stderr, "invoke:", err)
		os.Exit(1)
	}
	os.Exit(code)
}

func run() (int, error) {
	overrides := devenv.Overrides{}
	template := flag.String("template", "template.yaml", "SAM template")
	envVars := flag.String("env-vars", "", "SAM env-vars JSON file")
	flag.Var(overrides, "parameter-overrides", "CloudFormation parameter overrides, 'Name=Value ...'")
	noDev := flag.Bool("no-dev", false, "no development profile (template, shell and --env-vars only)")
	quiet := flag.Bool("quiet", false, "do not print the function's logs")
	flag.Parse()
	if flag.NArg() != 2 {
		return 2, fmt.Errorf("usage: invoke [flags] <LogicalId> <event.json>")
	}
	fn, eventPath := flag.Arg(0), flag.Arg(1)
	raw, err := os.ReadFile(eventPath)
	if err != nil {
		return 1, err
	}
	var logs io.Writer = os.Stderr
	if *quiet {
		logs = io.Discard
	}
	ctx := context.Background()
	env, err := devenv.Start(ctx, devenv.Options{
		Template: *template, EnvVarsFile: *envVars, ParameterOverrides: overrides, Dev: !*noDev,
		IssuerAddr: "127.0.0.1:0", Only: []string{fn}, MaxProcs: 1, Logs: logs,
		Log: slog.New(slog.NewTextHandler(os.Stderr, nil)),
	})
	if err != nil {
		return 1, err
	}
	defer env.Close()
	if why, bad := env.Unavailable[fn]; bad {
		return 1, fmt.Errorf("%s cannot run: %s", fn, why)
	}
	payload, err := fill(raw, env.Issuer)
	if err != nil {
		return 1, err
	}
	if !json.Valid(payload) {
		return 1, fmt.Errorf("%s is not valid JSON", eventPath)
	}
	res, err := env.Pools[fn].Invoke(ctx, payload)
	if err != nil {
		return 1, err
	}
	fmt.Fprintf(os.Stderr, "REPORT RequestId: %s\tInit Duration: %s\tDuration: %s\n",
		res.RequestID, fmtMS(res.InitDuration), fmtMS(res.Duration))
	out := res.Payload
	if res.Err != nil {
		// What Lambda's Invoke API returns for a failed invocation.
		out, _ = json.Marshal(res.Err)
	}
	var pretty bytes.Buffer
	if json.Indent(&pretty, out, "", "  ") == nil {
		out = pretty.Bytes()
	}
	fmt.Println(string(out))
	if res.Err != nil {
		return 1, nil
	}
	return 0, nil
}

var placeholder = regexp.MustCompile(`\{\{\s*dev-token\s+([a-z0-9-]+)\s+([^\s}]+)(?:\s+(jwt|session|cookie))?\s*\}\}`)

// fill replaces {{dev-token …}} placeholders with credentials from the dev issuer.
func fill(raw []byte, is *devissuer.Issuer) ([]byte, error) {
	var firstErr error
	out := placeholder.ReplaceAllFunc(raw, func(m []byte) []byte {
		if is == nil {
			firstErr = fmt.Errorf("the event needs the dev issuer (%s): drop --no-dev", m)
			return m
		}
		g := placeholder.FindSubmatch(m)
		cred, err := is.Credential(string(g[1]), string(g[2]), string(g[3]), devissuer.DefaultTTL)
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

func fmtMS(d time.Duration) string {
	return fmt.Sprintf("%.2f ms", float64(d.Microseconds())/1000)
}
