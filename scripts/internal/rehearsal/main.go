// Command rehearsal is the last step of `make deploy-rehearsal`: it boots every
// function with the configuration moto's Lambda holds after the stack was created
// (CONFIG_SECRETS = the secret ARNs the stack wired, no secret in plain text) and
// the moto endpoint for Secrets Manager, through the local runner's Runtime API.
// Init must succeed: config.Load reads the secrets by those ARNs. The request is
// one that needs no outbound call (a method the function refuses; the reconciler's
// run is allowed to fail after init, since its InsForge host does not resolve).
//
//	go run ./scripts/internal/rehearsal <functions.json> <moto-url>
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"time"

	"github.com/insforge/edge-functions-go/scripts/internal/samtemplate"
	"github.com/insforge/edge-functions-go/scripts/runner/runtimeapi"
)

const refusedMethod = `{"version":"2.0","routeKey":"$default","rawPath":"/","rawQueryString":"","headers":{"host":"localhost"},` +
	`"requestContext":{"http":{"method":"DELETE","path":"/","protocol":"HTTP/1.1","sourceIp":"127.0.0.1"},"requestId":"rehearsal","stage":"$default"},"isBase64Encoded":false}`

type deployed struct {
	Functions map[string]struct {
		Env map[string]string `json:"env"`
	} `json:"functions"`
}

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: rehearsal <functions.json> <moto-url>")
		os.Exit(2)
	}
	os.Exit(run(os.Args[1], os.Args[2]))
}

func run(path, moto string) int {
	raw, err := os.ReadFile(path)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	var d deployed
	if err := json.Unmarshal(raw, &d); err != nil || len(d.Functions) == 0 {
		fmt.Fprintln(os.Stderr, "no deployed functions in", path, err)
		return 2
	}
	_, fns, err := samtemplate.LoadFunctions("template.yaml")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	dir, err := os.MkdirTemp("", "rehearsal-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	defer os.RemoveAll(dir)

	ids := make([]string, 0, len(d.Functions))
	for id := range d.Functions {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	failed := 0
	fmt.Println("== boot every deployed function (init reads its secrets from moto by the stack's ARNs)")
	for _, id := range ids {
		var pkg string
		var timeout time.Duration
		for _, f := range fns {
			if f.LogicalID == id {
				pkg, timeout = f.Package, f.Timeout
			}
		}
		if pkg == "" {
			fmt.Printf("  FAIL  %s: not a function of template.yaml\n", id)
			failed++
			continue
		}
		bin := filepath.Join(dir, id)
		if out, err := exec.Command("go", "build", "-tags", "lambda.norpc", "-o", bin, pkg).CombinedOutput(); err != nil {
			fmt.Printf("  FAIL  %s: build: %v\n%s", id, err, out)
			failed++
			continue
		}
		env := map[string]string{}
		for k, v := range d.Functions[id].Env {
			env[k] = v
		}
		// What Lambda adds for the execution role, pointed at moto.
		env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"] = "testing", "testing"
		env["AWS_ENDPOINT_URL_SECRETS_MANAGER"] = moto
		p := runtimeapi.NewPool(runtimeapi.Spec{Name: id, Binary: bin, Dir: dir, Env: env, Timeout: timeout, MemoryMB: 128,
			MaxProcesses: 1, Logs: io.Discard, Region: "us-east-1"})
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		res, err := p.Invoke(ctx, []byte(refusedMethod))
		cancel()
		p.Close()
		switch {
		case err != nil:
			fmt.Printf("  FAIL  %s: %v\n", id, err)
			failed++
		case res.Err != nil && res.Err.Phase == "init":
			fmt.Printf("  FAIL  %s: init failed: %s\n", id, res.Err.Message)
			failed++
		case res.Err != nil:
			fmt.Printf("  ok    %s: init %.1f ms (secrets read); its run failed afterwards as expected: %.80s\n",
				id, float64(res.InitDuration.Microseconds())/1000, res.Err.Message)
		default:
			var r struct{ StatusCode int }
			_ = json.Unmarshal(res.Payload, &r)
			if r.StatusCode >= 500 {
				fmt.Printf("  FAIL  %s: status %d\n", id, r.StatusCode)
				failed++
				continue
			}
			fmt.Printf("  ok    %s: init %.1f ms (secrets read), first response %d\n", id,
				float64(res.InitDuration.Microseconds())/1000, r.StatusCode)
		}
	}
	if failed > 0 {
		fmt.Printf("rehearsal: %d function(s) failed to boot\n", failed)
		return 1
	}
	return 0
}
