package runner

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"time"

	"github.com/insforge/edge-functions-go/scripts/runner/runtimeapi"
)

// InvokeOptions configures InvokeOnce (the `make invoke` command).
type InvokeOptions struct {
	Options            // how the runner is built; Only and MaxProcs are set by InvokeOnce
	Function    string // logical id
	Event       []byte // the event, placeholders included
	EventName   string // where Event came from, for messages
	Artifacts   string // run <Artifacts>/<LogicalId>/bootstrap instead of the host build
	ExecWrapper []string
}

// InvokeOnce runs one function once with an event, like `sam local invoke`, through
// the same Runtime API path as Serve; it prints the REPORT line and the response and
// returns the exit code (1 when the function failed). Placeholders are filled from the
// dev environment: {{dev-token …}} by Fill, a {{x402-payment}} header by paying the
// function's own 402 challenge (payAndInvoke).
func InvokeOnce(ctx context.Context, o InvokeOptions) (int, error) {
	o.Only, o.MaxProcs = []string{o.Function}, 1
	raw := o.Event
	env, err := Start(ctx, o.Options)
	if err != nil {
		return 1, err
	}
	defer env.Close()
	if err := runtimeapi.ReexecAll(env.Pools, o.Artifacts, o.ExecWrapper); err != nil {
		return 1, err
	}
	if bytes.Contains(raw, []byte(X402Placeholder)) {
		filled, err := Fill(bytes.ReplaceAll(raw, []byte(X402Placeholder), []byte("__X402_PAYMENT_PLACEHOLDER__")), env.Issuer)
		if err != nil {
			return 1, err
		}
		return payAndInvoke(ctx, env.Pools[o.Function], bytes.ReplaceAll(filled, []byte("__X402_PAYMENT_PLACEHOLDER__"), []byte(X402Placeholder)))
	}
	payload, err := Fill(raw, env.Issuer)
	if err != nil {
		return 1, err
	}
	if !json.Valid(payload) {
		return 1, fmt.Errorf("%s is not valid JSON", o.EventName)
	}
	res, err := env.Pools[o.Function].Invoke(ctx, payload)
	if err != nil {
		return 1, err
	}
	fmt.Fprintf(os.Stderr, "REPORT RequestId: %s\tInit Duration: %s\tDuration: %s\n",
		res.RequestID, fmtMS(res.InitDuration), fmtMS(res.Duration))
	out := res.Payload
	if res.Err != nil {
		if res.Err.Detail != "" {
			fmt.Fprintf(os.Stderr, "last output of the function:\n%s\n", res.Err.Detail)
		}
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

func fmtMS(d time.Duration) string {
	return fmt.Sprintf("%.2f ms", float64(d.Microseconds())/1000)
}
