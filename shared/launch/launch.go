// Package launch is the cold-start wiring every function's main.go calls: set up
// JSON logging and the metrics recorder (the Runtime), build the handler from
// configuration, and hand it to Lambda. A build
// error (bad configuration) is logged naming the variable, reported to the Lambda
// Runtime API as an init error, and the process exits, so bad configuration fails
// at cold start rather than at the first request.
package launch

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"time"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/insforge/edge-functions-go/shared/httpapi"
	"github.com/insforge/edge-functions-go/shared/metrics"
)

// Runtime is what the cold start hands every function's build: the one place the
// logger, the metrics recorder and the clock are created, so applications do not
// each repeat the prologue.
type Runtime struct {
	// Function is the function's name (functions/<name>); it is the logger's
	// "function" attribute and the metrics' dimension.
	Function string
	// Logger writes JSON lines to stdout.
	Logger *slog.Logger
	// Metrics writes CloudWatch EMF to stdout; nil (tests) records nothing.
	Metrics *metrics.Recorder
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Clock returns rt.Now, or time.Now when it is nil.
func (rt Runtime) Clock() func() time.Time {
	if rt.Now == nil {
		return time.Now
	}
	return rt.Now
}

// Log returns rt.Logger, or slog.Default() when it is nil.
func (rt Runtime) Log() *slog.Logger {
	if rt.Logger == nil {
		return slog.Default()
	}
	return rt.Logger
}

// HTTP starts an API Gateway (payload 2.0) function serving the handler build returns.
func HTTP(function string, build func(Runtime) (http.Handler, error)) {
	rt := setup(function)
	h, err := build(rt)
	if err != nil {
		fail(rt.Logger, err)
	}
	lambda.Start(httpapi.LambdaHandler(h))
}

// Task starts a function that is invoked without an HTTP request (e.g. on a schedule).
func Task(function string, build func(Runtime) (func(context.Context) error, error)) {
	rt := setup(function)
	run, err := build(rt)
	if err != nil {
		fail(rt.Logger, err)
	}
	lambda.Start(func(ctx context.Context, _ json.RawMessage) error { return run(ctx) })
}

func setup(function string) Runtime {
	log := httpapi.NewLogger(os.Stdout).With(slog.String("function", function))
	slog.SetDefault(log)
	return Runtime{Function: function, Logger: log, Metrics: metrics.New(os.Stdout, function), Now: time.Now}
}

// fail reports an init error the way Lambda expects (POST /runtime/init/error) and
// exits. Outside Lambda it only logs and exits.
func fail(log *slog.Logger, err error) {
	log.Error("init failed", slog.String("error", err.Error()))
	if api := os.Getenv("AWS_LAMBDA_RUNTIME_API"); api != "" {
		body, _ := json.Marshal(map[string]any{"errorMessage": err.Error(), "errorType": "Runtime.ConfigError"})
		req, rerr := http.NewRequest(http.MethodPost, "http://"+api+"/2018-06-01/runtime/init/error", bytes.NewReader(body))
		if rerr == nil {
			req.Header.Set("Lambda-Runtime-Function-Error-Type", "Runtime.ConfigError")
			req.Header.Set("Content-Type", "application/json")
			c := &http.Client{Timeout: 2 * time.Second}
			if res, derr := c.Do(req); derr == nil {
				res.Body.Close()
			}
		}
	}
	fmt.Fprintln(os.Stderr, "init failed:", err)
	os.Exit(1)
}
