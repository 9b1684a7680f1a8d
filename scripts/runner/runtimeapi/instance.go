// Package runtimeapi runs a function's real bootstrap binary the way Lambda does:
// as a child process talking to a local implementation of the Lambda Runtime API
// (https://docs.aws.amazon.com/lambda/latest/dg/runtimes-api.html). Each process
// (an "execution environment") gets its own Runtime API endpoint and handles one
// invocation at a time; a Pool reuses warm processes and starts a new one when all
// are busy, enforces the function timeout and reports init errors as Lambda does.
package runtimeapi

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

const apiPrefix = "/2018-06-01/runtime/"

// maxPayload mirrors Lambda's 6 MB synchronous payload limit.
const maxPayload = 6 << 20

// DefaultInitTimeout is Lambda's limit for the init phase of an on-demand function.
const DefaultInitTimeout = 10 * time.Second

// FunctionError is an error Lambda would report for an invocation. Type follows
// Lambda's errorType values (Runtime.ExitError, Sandbox.Timedout, or what the
// function posted, e.g. Runtime.ConfigError).
type FunctionError struct {
	Phase   string `json:"-"` // "init" or "invoke"
	Type    string `json:"errorType"`
	Message string `json:"errorMessage"`
	Timeout bool   `json:"-"`
	// Detail is what the runner adds for the developer (the last lines the process
	// wrote to stderr before it exited); Message stays what Lambda would report.
	Detail string `json:"-"`
}

func (e *FunctionError) Error() string {
	return fmt.Sprintf("%s error %s: %s", e.Phase, e.Type, e.Message)
}

// Result is the outcome of one invocation.
type Result struct {
	RequestID string
	Payload   []byte         // the function's response when Err is nil
	Err       *FunctionError // set when the function failed (init, invoke, crash, timeout)
	// InitDuration is the process-start → ready time when this invocation cold-started
	// a process (zero on a warm start); Duration is the invoke phase alone.
	InitDuration time.Duration
	Duration     time.Duration
	ColdStart    bool
}

type invocation struct {
	id       string
	payload  []byte
	deadline time.Time
	done     chan outcome // buffered(1)
}

type outcome struct {
	payload []byte
	err     *FunctionError
}

// instance is one execution environment: a process plus its Runtime API endpoint.
type instance struct {
	spec   *Spec
	ln     net.Listener
	srv    *http.Server
	cmd    *exec.Cmd
	assign chan *invocation // handed to the process's pending /next

	mu      sync.Mutex
	current *invocation
	ready   chan struct{} // closed at the first /next: init finished
	readyOn sync.Once
	initErr chan *FunctionError // buffered(1): /init/error
	exited  chan struct{}       // closed when the process has exited
	exitErr error
	stderr  *tail
}

func start(ctx context.Context, spec *Spec) (*instance, time.Duration, *FunctionError) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, 0, &FunctionError{Phase: "init", Type: "Runtime.Unknown", Message: "runtime API listener: " + err.Error()}
	}
	in := &instance{
		spec: spec, ln: ln,
		assign:  make(chan *invocation),
		ready:   make(chan struct{}),
		initErr: make(chan *FunctionError, 1),
		exited:  make(chan struct{}),
		stderr:  &tail{max: 20},
	}
	in.srv = &http.Server{Handler: in.routes(), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = in.srv.Serve(ln) }()

	cmd := spec.command()
	cmd.Dir = spec.Dir
	cmd.Env = append(spec.environ(), "AWS_LAMBDA_RUNTIME_API="+ln.Addr().String())
	// Own process group, so a timeout kill also reaches anything the function spawned.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	stdout, _ := cmd.StdoutPipe()
	stderr, _ := cmd.StderrPipe()
	began := time.Now()
	if err := cmd.Start(); err != nil {
		in.closeServer()
		return nil, 0, &FunctionError{Phase: "init", Type: "Runtime.InvalidEntrypoint", Message: err.Error()}
	}
	in.cmd = cmd
	var pipes sync.WaitGroup
	pipes.Add(2)
	go func() { defer pipes.Done(); copyLines(spec.logs(), spec.Name, stdout, nil) }()
	go func() { defer pipes.Done(); copyLines(spec.logs(), spec.Name, stderr, in.stderr) }()
	go func() {
		pipes.Wait() // Wait must not run before the pipes are drained
		in.exitErr = cmd.Wait()
		close(in.exited)
		in.closeServer()
	}()

	timer := time.NewTimer(spec.InitTimeout)
	defer timer.Stop()
	select {
	case <-in.ready:
		return in, time.Since(began), nil
	case fe := <-in.initErr:
		in.kill()
		<-in.exited
		fe.Phase = "init"
		return nil, time.Since(began), fe
	case <-in.exited:
		// Prefer a posted init error that raced with the exit.
		select {
		case fe := <-in.initErr:
			fe.Phase = "init"
			return nil, time.Since(began), fe
		default:
		}
		return nil, time.Since(began), in.exitError("init", "")
	case <-timer.C:
		in.kill()
		<-in.exited
		return nil, time.Since(began), &FunctionError{Phase: "init", Type: "Sandbox.Timedout",
			Message: fmt.Sprintf("init did not finish within %s", spec.InitTimeout), Timeout: true}
	case <-ctx.Done():
		in.kill()
		<-in.exited
		return nil, time.Since(began), &FunctionError{Phase: "init", Type: "Runtime.Cancelled", Message: ctx.Err().Error()}
	}
}

// invoke runs one invocation; the caller guarantees only one at a time.
func (in *instance) invoke(ctx context.Context, payload []byte) (string, []byte, *FunctionError) {
	inv := &invocation{
		id:       newRequestID(),
		payload:  payload,
		deadline: time.Now().Add(in.spec.Timeout),
		done:     make(chan outcome, 1),
	}
	timer := time.NewTimer(in.spec.Timeout)
	defer timer.Stop()
	timedOut := func() (string, []byte, *FunctionError) {
		// Lambda stops the whole environment on a timeout; the next invoke cold-starts.
		in.kill()
		<-in.exited
		return inv.id, nil, &FunctionError{Phase: "invoke", Type: "Sandbox.Timedout", Timeout: true,
			Message: fmt.Sprintf("Task timed out after %.2f seconds", in.spec.Timeout.Seconds())}
	}
	cancelled := func() (string, []byte, *FunctionError) {
		in.kill()
		return inv.id, nil, &FunctionError{Phase: "invoke", Type: "Runtime.Cancelled", Message: ctx.Err().Error()}
	}
	select {
	case in.assign <- inv:
	case <-in.exited:
		return inv.id, nil, in.exitError("invoke", inv.id)
	case <-timer.C:
		return timedOut()
	case <-ctx.Done():
		return cancelled()
	}
	select {
	case o := <-inv.done:
		return inv.id, o.payload, o.err
	case <-in.exited:
		select { // a response posted just before exiting still counts
		case o := <-inv.done:
			return inv.id, o.payload, o.err
		default:
		}
		return inv.id, nil, in.exitError("invoke", inv.id)
	case <-timer.C:
		return timedOut()
	case <-ctx.Done():
		return cancelled()
	}
}

func (in *instance) alive() bool {
	select {
	case <-in.exited:
		return false
	default:
		return true
	}
}

// exitError describes a process that exited instead of answering, in Lambda's
// words: "RequestId: <id> Error: Runtime exited with error: exit status 3" during an
// invocation (what the Runtime Interface Emulator and Lambda's Invoke API report).
func (in *instance) exitError(phase, requestID string) *FunctionError {
	msg := "Runtime exited without providing a reason"
	if in.exitErr != nil {
		msg = "Runtime exited with error: " + in.exitErr.Error()
	}
	if requestID != "" {
		msg = "RequestId: " + requestID + " Error: " + msg
	}
	return &FunctionError{Phase: phase, Type: "Runtime.ExitError", Message: msg, Detail: in.stderr.String()}
}

func (in *instance) kill() {
	if in.cmd != nil && in.cmd.Process != nil {
		_ = syscall.Kill(-in.cmd.Process.Pid, syscall.SIGKILL)
		_ = in.cmd.Process.Kill()
	}
}

func (in *instance) closeServer() {
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	_ = in.srv.Shutdown(ctx)
	_ = in.srv.Close()
}

// routes implements the Runtime API endpoints a runtime client calls.
func (in *instance) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+apiPrefix+"invocation/next", in.next)
	mux.HandleFunc("POST "+apiPrefix+"invocation/{id}/response", in.response)
	mux.HandleFunc("POST "+apiPrefix+"invocation/{id}/error", in.invokeError)
	mux.HandleFunc("POST "+apiPrefix+"init/error", in.initError)
	return mux
}

func (in *instance) next(w http.ResponseWriter, r *http.Request) {
	in.readyOn.Do(func() { close(in.ready) })
	select {
	case inv := <-in.assign:
		in.mu.Lock()
		in.current = inv
		in.mu.Unlock()
		h := w.Header()
		h.Set("Lambda-Runtime-Aws-Request-Id", inv.id)
		h.Set("Lambda-Runtime-Deadline-Ms", strconv.FormatInt(inv.deadline.UnixMilli(), 10))
		h.Set("Lambda-Runtime-Invoked-Function-Arn", in.spec.arn())
		h.Set("Lambda-Runtime-Trace-Id", traceID())
		h.Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(inv.payload)
	case <-r.Context().Done():
	}
}

func (in *instance) take(id string) *invocation {
	in.mu.Lock()
	defer in.mu.Unlock()
	inv := in.current
	if inv == nil || inv.id != id {
		return nil
	}
	in.current = nil
	return inv
}

func (in *instance) response(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxPayload+1))
	inv := in.take(r.PathValue("id"))
	switch {
	case inv == nil:
		writeAPIError(w, http.StatusBadRequest, "InvalidRequestID", "unknown or already answered request id")
	case err != nil:
		inv.done <- outcome{err: &FunctionError{Phase: "invoke", Type: "Runtime.Unknown", Message: "reading response: " + err.Error()}}
		writeAPIError(w, http.StatusBadRequest, "InvalidResponse", err.Error())
	case len(body) > maxPayload:
		inv.done <- outcome{err: &FunctionError{Phase: "invoke", Type: "Function.ResponseSizeTooLarge",
			Message: fmt.Sprintf("response payload exceeds %d bytes", maxPayload)}}
		writeAPIError(w, http.StatusRequestEntityTooLarge, "RequestEntityTooLarge", "payload too large")
	default:
		inv.done <- outcome{payload: body}
		writeAccepted(w)
	}
}

func (in *instance) invokeError(w http.ResponseWriter, r *http.Request) {
	fe := readError(r, "invoke")
	inv := in.take(r.PathValue("id"))
	if inv == nil {
		writeAPIError(w, http.StatusBadRequest, "InvalidRequestID", "unknown or already answered request id")
		return
	}
	inv.done <- outcome{err: fe}
	writeAccepted(w)
}

func (in *instance) initError(w http.ResponseWriter, r *http.Request) {
	fe := readError(r, "init")
	select {
	case in.initErr <- fe:
	default:
	}
	writeAccepted(w)
}

func readError(r *http.Request, phase string) *FunctionError {
	body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	fe := &FunctionError{Phase: phase}
	_ = json.Unmarshal(body, fe)
	if fe.Type == "" {
		fe.Type = r.Header.Get("Lambda-Runtime-Function-Error-Type")
	}
	if fe.Type == "" {
		fe.Type = "Runtime.Unknown"
	}
	if fe.Message == "" {
		fe.Message = strings.TrimSpace(string(body))
	}
	return fe
}

func writeAccepted(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusAccepted)
	_, _ = io.WriteString(w, `{"status":"OK"}`)
}

func writeAPIError(w http.ResponseWriter, status int, typ, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"errorType": typ, "errorMessage": msg})
}

// newRequestID returns a UUID-shaped id like Lambda's.
func newRequestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

func traceID() string {
	var a [12]byte
	var p [8]byte
	_, _ = rand.Read(a[:])
	_, _ = rand.Read(p[:])
	return fmt.Sprintf("Root=1-%08x-%s;Parent=%s;Sampled=0", time.Now().Unix(), hex.EncodeToString(a[:]), hex.EncodeToString(p[:]))
}

// copyLines forwards a process's output line by line to the runner's log with the
// function name, and keeps the last lines in t (for exit error messages).
func copyLines(w io.Writer, name string, r io.Reader, t *tail) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if t != nil {
			t.add(line)
		}
		if w != nil {
			fmt.Fprintf(w, "[%s] %s\n", name, line)
		}
	}
	_, _ = io.Copy(io.Discard, r)
}

// tail keeps the last max lines written.
type tail struct {
	mu    sync.Mutex
	max   int
	lines []string
}

func (t *tail) add(s string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.lines = append(t.lines, s)
	if len(t.lines) > t.max {
		t.lines = t.lines[len(t.lines)-t.max:]
	}
}

func (t *tail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return strings.TrimSpace(strings.Join(t.lines, "\n"))
}

var errClosed = errors.New("runtimeapi: pool closed")
