// Package launch is the cold-start wiring every function's main.go calls: set up
// JSON logging, build the handler from configuration, and hand it to Lambda. A build
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
)

// HTTP starts an API Gateway (payload 2.0) function serving the handler build returns.
func HTTP(function string, build func(log *slog.Logger) (http.Handler, error)) {
	log := setup(function)
	h, err := build(log)
	if err != nil {
		fail(log, err)
	}
	lambda.Start(httpapi.LambdaHandler(h))
}

// Task starts a function that is invoked without an HTTP request (e.g. on a schedule).
func Task(function string, build func(log *slog.Logger) (func(context.Context) error, error)) {
	log := setup(function)
	run, err := build(log)
	if err != nil {
		fail(log, err)
	}
	lambda.Start(func(ctx context.Context, _ json.RawMessage) error { return run(ctx) })
}

func setup(function string) *slog.Logger {
	log := httpapi.NewLogger(os.Stdout).With(slog.String("function", function))
	slog.SetDefault(log)
	return log
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
