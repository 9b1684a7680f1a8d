package runtimeapi_test

import (
	"context"
	"encoding/json"
	"errors"
	"os/exec"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/insforge/edge-functions-go/scripts/runner/bootstraptest"
	"github.com/insforge/edge-functions-go/scripts/runner/runtimeapi"
	"github.com/insforge/edge-functions-go/shared/logtest"
)

var rawRuntime string

func TestMain(m *testing.M) { bootstraptest.Main(m, &rawRuntime, "./testdata/rawruntime") }

// lines collects the processes' output.
type lines = logtest.Buffer

// signal closes seen once a written line contains word (the process announces a state).
type signal struct {
	word string
	seen chan struct{}
	once sync.Once
}

func (s *signal) Write(p []byte) (int, error) {
	if strings.Contains(string(p), s.word) {
		s.once.Do(func() { close(s.seen) })
	}
	return len(p), nil
}

func pool(t *testing.T, mode string, mod func(*runtimeapi.Spec)) (*runtimeapi.Pool, *lines) {
	t.Helper()
	logs := &lines{}
	spec := runtimeapi.Spec{Name: "RawFunction", Binary: rawRuntime, Dir: filepath.Dir(rawRuntime),
		Env: map[string]string{"MODE": mode}, Timeout: 5 * time.Second, Logs: logs}
	if mod != nil {
		mod(&spec)
	}
	p := runtimeapi.NewPool(spec)
	t.Cleanup(p.Close)
	return p, logs
}

func invoke(t *testing.T, p *runtimeapi.Pool, do string) runtimeapi.Result {
	t.Helper()
	res, err := p.Invoke(context.Background(), []byte(`{"do":"`+do+`"}`))
	if err != nil {
		t.Fatalf("invoke %s: %v", do, err)
	}
	return res
}

type echo struct {
	Pid        int               `json:"pid"`
	RequestID  string            `json:"request_id"`
	Event      json.RawMessage   `json:"event"`
	Notes      []int             `json:"notes"`
	DeadlineMS string            `json:"deadline_ms"`
	ARN        string            `json:"arn"`
	Trace      string            `json:"trace"`
	Type       string            `json:"type"`
	Env        map[string]string `json:"env"`
}

func echoOf(t *testing.T, res runtimeapi.Result) echo {
	t.Helper()
	if res.Err != nil {
		t.Fatalf("function error: %v", res.Err)
	}
	var e echo
	if err := json.Unmarshal(res.Payload, &e); err != nil {
		t.Fatalf("echo %q: %v", res.Payload, err)
	}
	return e
}

// /next hands the runtime the event and the invocation headers Lambda sends, and
// the process sees the function's variables and Lambda's, never the runner's own.
func TestNextCarriesTheInvocationAsLambdaDoes(t *testing.T) {
	t.Setenv("HOST_ONLY", "leak")
	p, _ := pool(t, "", func(s *runtimeapi.Spec) { s.Timeout = 7 * time.Second })
	before := time.Now()
	res := invoke(t, p, "echo")
	e := echoOf(t, res)
	if e.RequestID != res.RequestID || len(e.RequestID) != 36 {
		t.Errorf("request id %q seen by the runtime, %q reported", e.RequestID, res.RequestID)
	}
	if string(e.Event) != `{"do":"echo"}` || e.Type != "application/json" {
		t.Errorf("event %s (%s), want the payload as sent, application/json", e.Event, e.Type)
	}
	ms, _ := strconv.ParseInt(e.DeadlineMS, 10, 64)
	if d := time.UnixMilli(ms).Sub(before); d < 6*time.Second || d > 8*time.Second {
		t.Errorf("deadline %s after the invocation, want the function timeout (7s)", d)
	}
	if e.ARN != "arn:aws:lambda:us-east-1:123456789012:function:RawFunction" || !strings.HasPrefix(e.Trace, "Root=1-") {
		t.Errorf("arn %q trace %q", e.ARN, e.Trace)
	}
	if e.Env["AWS_LAMBDA_FUNCTION_NAME"] != "RawFunction" || e.Env["HOST_ONLY"] != "" {
		t.Errorf("environment %v: want the function name and nothing of the runner's own", e.Env)
	}
	if !res.ColdStart || res.InitDuration <= 0 {
		t.Errorf("first invocation: cold %v init %s", res.ColdStart, res.InitDuration)
	}
}

// A warm process serves the next invocation (no init), also after a handled error,
// as Lambda keeps the environment.
func TestWarmProcessServesTheNextInvocation(t *testing.T) {
	p, _ := pool(t, "", nil)
	first := invoke(t, p, "echo")
	failed := invoke(t, p, "error-json")
	second := invoke(t, p, "echo")
	if failed.Err == nil || failed.ColdStart || second.ColdStart || second.InitDuration != 0 {
		t.Fatalf("cold starts %v/%v/%v, init %s: want one cold start", first.ColdStart, failed.ColdStart, second.ColdStart, second.InitDuration)
	}
	if a, b := echoOf(t, first).Pid, echoOf(t, second).Pid; a != b || p.Processes() != 1 {
		t.Errorf("pids %d, %d with %d processes: want one warm process", a, b, p.Processes())
	}
}

// A request id is answered once: a second answer and an answer for an id that is
// not the current invocation are refused (400) and change nothing.
func TestAnInvocationIsAnsweredOnce(t *testing.T) {
	for _, tc := range []struct {
		do      string
		payload string
		notes   []int
	}{
		{"double", `"first"`, []int{202, 400}},
		{"unknown-id", `"answered"`, []int{400, 202}},
	} {
		t.Run(tc.do, func(t *testing.T) {
			p, _ := pool(t, "", nil)
			res := invoke(t, p, tc.do)
			if res.Err != nil || string(res.Payload) != tc.payload {
				t.Fatalf("payload %s err %v, want %s", res.Payload, res.Err, tc.payload)
			}
			if got := echoOf(t, invoke(t, p, "echo")).Notes; !reflect.DeepEqual(got, tc.notes) {
				t.Errorf("the runtime got %v, want %v", got, tc.notes)
			}
		})
	}
}

// /invocation/{id}/error becomes the invocation's error: the JSON body's type and
// message, or the Lambda-Runtime-Function-Error-Type header and the plain body.
func TestErrorPostsBecomeTheInvocationError(t *testing.T) {
	for _, tc := range []struct {
		do, typ, msg string
	}{
		{"error-json", "Handler.Failed", "it failed"},
		{"error-header", "Custom.Failure", "plain text failure"},
	} {
		t.Run(tc.do, func(t *testing.T) {
			p, _ := pool(t, "", nil)
			res := invoke(t, p, tc.do)
			want := &runtimeapi.FunctionError{Phase: "invoke", Type: tc.typ, Message: tc.msg}
			if !reflect.DeepEqual(res.Err, want) {
				t.Fatalf("error %+v, want %+v", res.Err, want)
			}
			if got := echoOf(t, invoke(t, p, "echo")).Notes; !reflect.DeepEqual(got, []int{202}) {
				t.Errorf("the runtime got %v for its error post, want [202]", got)
			}
		})
	}
}

// A response over Lambda's 6 MB limit is refused (413) and reported as
// Function.ResponseSizeTooLarge.
func TestOversizeResponseIsRefused(t *testing.T) {
	p, _ := pool(t, "", nil)
	res := invoke(t, p, "oversize")
	if res.Err == nil || res.Err.Type != "Function.ResponseSizeTooLarge" || res.Payload != nil {
		t.Fatalf("result %+v: want Function.ResponseSizeTooLarge and no payload", res.Err)
	}
	if got := echoOf(t, invoke(t, p, "echo")).Notes; !reflect.DeepEqual(got, []int{413}) {
		t.Errorf("the runtime got %v, want [413]", got)
	}
}

// A failed init leaves no process and is reported with what the function said,
// or how it died; the next invocation tries a fresh init.
func TestInitFailuresLeaveNoProcess(t *testing.T) {
	for _, tc := range []struct {
		mode, typ, msg, detail string
		timeout                bool
	}{
		{"init-error", "Runtime.ConfigError", "MODE asks for an init error", "", false},
		{"init-exit", "Runtime.ExitError", "Runtime exited with error: exit status 2", "dying before the first next", false},
		{"init-hang", "Sandbox.Timedout", "init did not finish within 300ms", "", true},
	} {
		t.Run(tc.mode, func(t *testing.T) {
			p, _ := pool(t, tc.mode, func(s *runtimeapi.Spec) { s.InitTimeout = 300 * time.Millisecond })
			for i := 0; i < 2; i++ {
				res := invoke(t, p, "echo")
				fe := res.Err
				if fe == nil || fe.Phase != "init" || fe.Type != tc.typ || fe.Message != tc.msg || fe.Timeout != tc.timeout ||
					!strings.Contains(fe.Detail, tc.detail) {
					t.Fatalf("attempt %d: %+v, want init %s %q (detail %q)", i+1, fe, tc.typ, tc.msg, tc.detail)
				}
				if !res.ColdStart || p.Processes() != 0 {
					t.Fatalf("attempt %d: cold %v, %d processes: want a fresh init and no process left", i+1, res.ColdStart, p.Processes())
				}
			}
		})
	}
}

// The function timeout stops the environment with Lambda's message; the next
// invocation starts a new process.
func TestTimeoutStopsTheEnvironment(t *testing.T) {
	p, _ := pool(t, "", func(s *runtimeapi.Spec) { s.Timeout = 300 * time.Millisecond })
	first := echoOf(t, invoke(t, p, "echo"))
	res := invoke(t, p, "sleep")
	want := &runtimeapi.FunctionError{Phase: "invoke", Type: "Sandbox.Timedout", Timeout: true,
		Message: "Task timed out after 0.30 seconds"}
	if !reflect.DeepEqual(res.Err, want) || p.Processes() != 0 {
		t.Fatalf("%+v with %d processes, want %+v and none", res.Err, p.Processes(), want)
	}
	next := invoke(t, p, "echo")
	if !next.ColdStart || echoOf(t, next).Pid == first.Pid {
		t.Errorf("after a timeout: cold %v, same pid %v", next.ColdStart, echoOf(t, next).Pid == first.Pid)
	}
}

// A process that exits during an invocation is a Runtime.ExitError naming the
// request, as Lambda reports it; its last output is kept apart as Detail.
func TestExitDuringAnInvocationNamesTheRequest(t *testing.T) {
	p, logs := pool(t, "", nil)
	res := invoke(t, p, "exit")
	if res.Err == nil || res.Err.Type != "Runtime.ExitError" ||
		res.Err.Message != "RequestId: "+res.RequestID+" Error: Runtime exited with error: exit status 3" ||
		res.Err.Detail != "last words" {
		t.Fatalf("%+v", res.Err)
	}
	if !strings.Contains(logs.String(), "[RawFunction] last words") {
		t.Errorf("the process's output was not forwarded with the function name: %q", logs.String())
	}
	if next := invoke(t, p, "echo"); !next.ColdStart || next.Err != nil {
		t.Errorf("after an exit: cold %v err %v", next.ColdStart, next.Err)
	}
}

// With every process busy and the cap reached, an invocation waits for a free one
// and gives up when its context ends; a closed pool refuses invocations.
func TestPoolLimitsAndClose(t *testing.T) {
	running := &signal{word: "busy", seen: make(chan struct{})}
	p, _ := pool(t, "", func(s *runtimeapi.Spec) { s.MaxProcesses = 1; s.Timeout = time.Second; s.Logs = running })
	busy := make(chan runtimeapi.Result, 1)
	go func() {
		res, _ := p.Invoke(context.Background(), []byte(`{"do":"sleep"}`))
		busy <- res
	}()
	select {
	case <-running.seen: // the only process is inside the sleeping invocation
	case <-time.After(30 * time.Second):
		t.Fatal("the sleeping invocation never started")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if _, err := p.Invoke(ctx, []byte(`{"do":"echo"}`)); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("waiting for a busy pool: %v, want the context's deadline", err)
	}
	if res := <-busy; res.Err == nil || !res.Err.Timeout {
		t.Errorf("the sleeping invocation: %+v, want its timeout", res.Err)
	}
	p.Close()
	if _, err := p.Invoke(context.Background(), []byte(`{"do":"echo"}`)); err == nil {
		t.Error("a closed pool ran an invocation")
	}
}

// ExecWrapper starts the bootstrap through another program (qemu-aarch64-static
// for the arm64 artifacts); env(1) stands in for it here.
func TestExecWrapperStartsTheBootstrapThroughIt(t *testing.T) {
	envPath, err := exec.LookPath("env")
	if err != nil {
		t.Fatal(err)
	}
	p, _ := pool(t, "", func(s *runtimeapi.Spec) { s.ExecWrapper = []string{envPath, "WRAPPED=yes"} })
	if e := echoOf(t, invoke(t, p, "echo")); e.Env["WRAPPED"] != "yes" {
		t.Errorf("WRAPPED=%q: the bootstrap did not run through the wrapper", e.Env["WRAPPED"])
	}
	direct, _ := pool(t, "", nil)
	if e := echoOf(t, invoke(t, direct, "echo")); e.Env["WRAPPED"] != "" {
		t.Errorf("WRAPPED=%q without a wrapper", e.Env["WRAPPED"])
	}
}
