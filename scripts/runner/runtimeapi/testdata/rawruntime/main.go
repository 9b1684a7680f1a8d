// Command rawruntime is a Lambda runtime written against the Runtime API by hand
// (no runtime library), so the runner's tests can make every call a runtime may
// make, right or wrong. MODE chooses the init behaviour; each event's "do" field
// chooses what the invocation does.
package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"
)

var api = "http://" + os.Getenv("AWS_LAMBDA_RUNTIME_API") + "/2018-06-01/runtime"

func post(path, body string, header map[string]string) int {
	req, _ := http.NewRequest(http.MethodPost, api+path, strings.NewReader(body))
	for k, v := range header {
		req.Header.Set(k, v)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return -1
	}
	_, _ = io.Copy(io.Discard, res.Body)
	res.Body.Close()
	return res.StatusCode
}

func main() {
	switch os.Getenv("MODE") {
	case "init-error":
		post("/init/error", `{"errorType":"Runtime.ConfigError","errorMessage":"MODE asks for an init error"}`, nil)
		os.Exit(1)
	case "init-exit":
		fmt.Fprintln(os.Stderr, "dying before the first next")
		os.Exit(2)
	case "init-hang":
		time.Sleep(time.Hour)
	}
	var notes []int // statuses the runner answered during the previous invocation
	for {
		res, err := http.Get(api + "/invocation/next")
		if err != nil {
			os.Exit(10)
		}
		event, _ := io.ReadAll(res.Body)
		res.Body.Close()
		id := res.Header.Get("Lambda-Runtime-Aws-Request-Id")
		var ev struct{ Do string }
		_ = json.Unmarshal(event, &ev)
		respond := func(body string) int { return post("/invocation/"+id+"/response", body, nil) }
		switch ev.Do {
		case "echo":
			out, _ := json.Marshal(map[string]any{
				"pid": os.Getpid(), "request_id": id, "event": json.RawMessage(event), "notes": notes,
				"deadline_ms": res.Header.Get("Lambda-Runtime-Deadline-Ms"),
				"arn":         res.Header.Get("Lambda-Runtime-Invoked-Function-Arn"),
				"trace":       res.Header.Get("Lambda-Runtime-Trace-Id"),
				"type":        res.Header.Get("Content-Type"),
				"env": map[string]string{"AWS_LAMBDA_FUNCTION_NAME": os.Getenv("AWS_LAMBDA_FUNCTION_NAME"),
					"WRAPPED": os.Getenv("WRAPPED"), "HOST_ONLY": os.Getenv("HOST_ONLY")},
			})
			notes = nil
			respond(string(out))
		case "double":
			notes = []int{respond(`"first"`), respond(`"second"`)}
		case "unknown-id":
			notes = []int{post("/invocation/not-"+id+"/response", `"stray"`, nil)}
			notes = append(notes, respond(`"answered"`))
		case "error-json":
			notes = []int{post("/invocation/"+id+"/error", `{"errorType":"Handler.Failed","errorMessage":"it failed"}`, nil)}
		case "error-header":
			notes = []int{post("/invocation/"+id+"/error", "plain text failure",
				map[string]string{"Lambda-Runtime-Function-Error-Type": "Custom.Failure"})}
		case "oversize":
			notes = []int{respond(`"` + string(bytes.Repeat([]byte("a"), 6<<20)) + `"`)}
		case "sleep":
			fmt.Println("busy") // tells a test the invocation is running
			time.Sleep(time.Hour)
		case "exit":
			fmt.Fprintln(os.Stderr, "last words")
			os.Exit(3)
		default:
			post("/invocation/"+id+"/error", `{"errorType":"Test.UnknownDo","errorMessage":"unknown do"}`, nil)
		}
	}
}
