// Package rie builds and runs the AWS Lambda Runtime Interface Emulator
// (https://github.com/aws/aws-lambda-runtime-interface-emulator), the Runtime API
// implementation AWS ships in its Lambda base images, so the local runner can be
// checked against it. The emulator is built from its Go module at a pinned version
// into the user's cache directory; its code is never part of this repository.
package rie

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"
)

// Module and Version pin the emulator that is built.
const (
	Module  = "github.com/aws/aws-lambda-runtime-interface-emulator"
	Version = "v0.0.0-20261030222936-bef5c4ba774d"
)

// InvokePath is the emulator's Invoke API endpoint (Lambda's Invoke API shape).
const InvokePath = "/2015-03-31/functions/function/invocations"

// CacheDir is where built tools are kept: $EDGE_CACHE_DIR, else
// <user cache dir>/edge-functions-go (the same place scripts/sam-check uses).
func CacheDir() (string, error) {
	if d := os.Getenv("EDGE_CACHE_DIR"); d != "" {
		return d, nil
	}
	d, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("no cache directory: %w", err)
	}
	return filepath.Join(d, "edge-functions-go"), nil
}

// Build returns the path of the emulator binary for this host, building it with
// `go install <module>/cmd/aws-lambda-rie@<Version>` the first time. A file lock
// makes concurrent callers (test packages run in parallel) build it once.
func Build(ctx context.Context) (string, error) {
	cache, err := CacheDir()
	if err != nil {
		return "", err
	}
	dir := filepath.Join(cache, "rie", Version)
	bin := filepath.Join(dir, "aws-lambda-rie")
	if isExec(bin) {
		return bin, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	lock, err := os.OpenFile(filepath.Join(dir, ".lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return "", err
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		return "", fmt.Errorf("lock %s: %w", lock.Name(), err)
	}
	defer func() { _ = syscall.Flock(int(lock.Fd()), syscall.LOCK_UN) }()
	if isExec(bin) { // built by whoever held the lock before us
		return bin, nil
	}
	tmp, err := os.MkdirTemp(dir, "build-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(tmp)
	cmd := exec.CommandContext(ctx, "go", "install", Module+"/cmd/aws-lambda-rie@"+Version)
	cmd.Dir = tmp // outside this module: go install pkg@version ignores go.mod anyway
	cmd.Env = append(os.Environ(), "GOBIN="+tmp, "CGO_ENABLED=0", "GOWORK=off", "GOFLAGS=-buildvcs=false")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go install %s@%s: %w\n%s", Module, Version, err, out)
	}
	if err := os.Rename(filepath.Join(tmp, "aws-lambda-rie"), bin); err != nil {
		return "", err
	}
	return bin, nil
}

func isExec(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.Mode().IsRegular() && st.Mode()&0o111 != 0
}

// Options describe one emulated function.
type Options struct {
	Emulator  string            // path of aws-lambda-rie (Build)
	Bootstrap string            // the function's bootstrap binary
	Dir       string            // working directory (Lambda: /var/task)
	Env       map[string]string // the function's variables
	Name      string            // AWS_LAMBDA_FUNCTION_NAME
	Timeout   time.Duration     // whole seconds, as the emulator takes them
	MemoryMB  int
	Output    io.Writer // the emulator's and the function's logs (nil: discarded)
}

// Emulator is a running aws-lambda-rie process bound to loopback.
type Emulator struct {
	URL    string // http://127.0.0.1:<port>
	cmd    *exec.Cmd
	exited chan struct{}
	once   sync.Once
}

// Start runs the emulator with the bootstrap on free loopback ports. The emulator
// passes its own environment to the function, so that environment is exactly the
// function's variables plus what Lambda itself sets; nothing of the caller's leaks.
func Start(ctx context.Context, o Options) (*Emulator, error) {
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ { // a freed port can be taken before the emulator binds it
		e, err := start(ctx, o)
		if err == nil {
			return e, nil
		}
		lastErr = err
	}
	return nil, lastErr
}

func start(ctx context.Context, o Options) (*Emulator, error) {
	ports, err := freePorts(2)
	if err != nil {
		return nil, err
	}
	invokeAddr := "127.0.0.1:" + strconv.Itoa(ports[0])
	apiAddr := "127.0.0.1:" + strconv.Itoa(ports[1])
	secs := int(o.Timeout / time.Second)
	if secs < 1 {
		secs = 3
	}
	mem := o.MemoryMB
	if mem == 0 {
		mem = 128
	}
	env := []string{
		"PATH=/usr/local/bin:/usr/bin:/bin", "TZ=:UTC", "LANG=en_US.UTF-8",
		"AWS_REGION=us-east-1", "AWS_DEFAULT_REGION=us-east-1",
		"AWS_LAMBDA_FUNCTION_NAME=" + o.Name,
		"AWS_LAMBDA_FUNCTION_TIMEOUT=" + strconv.Itoa(secs),
		"AWS_LAMBDA_FUNCTION_MEMORY_SIZE=" + strconv.Itoa(mem),
		"_HANDLER=bootstrap",
	}
	for k, v := range o.Env {
		env = append(env, k+"="+v)
	}
	// --log-level on the command line: the functions' own LOG_LEVEL variable would
	// otherwise set the emulator's level too.
	cmd := exec.CommandContext(ctx, o.Emulator, "--log-level", "info",
		"--runtime-interface-emulator-address", invokeAddr, "--runtime-api-address", apiAddr, o.Bootstrap)
	cmd.Dir = o.Dir
	cmd.Env = env
	out := o.Output
	if out == nil {
		out = io.Discard
	}
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // the kill reaches the function too
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", o.Emulator, err)
	}
	e := &Emulator{URL: "http://" + invokeAddr, cmd: cmd, exited: make(chan struct{})}
	go func() { _ = cmd.Wait(); close(e.exited) }()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if c, err := net.DialTimeout("tcp", invokeAddr, 200*time.Millisecond); err == nil {
			_ = c.Close()
			return e, nil
		}
		select {
		case <-e.exited:
			return nil, fmt.Errorf("aws-lambda-rie exited before listening on %s", invokeAddr)
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			e.Close()
			return nil, errors.New("aws-lambda-rie did not listen within 10s")
		}
	}
}

func freePorts(n int) ([]int, error) {
	var ports []int
	var lns []net.Listener
	defer func() {
		for _, l := range lns {
			_ = l.Close()
		}
	}()
	for i := 0; i < n; i++ {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		lns = append(lns, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// Response is the emulator's answer to an Invoke call.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
}

// Invoke sends one event through the Invoke API, with requestID as the Lambda
// request id the function sees.
func (e *Emulator) Invoke(ctx context.Context, requestID string, event []byte) (Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, e.URL+InvokePath, bytes.NewReader(event))
	if err != nil {
		return Response{}, err
	}
	req.Header.Set("X-Amzn-RequestId", requestID)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return Response{}, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 7<<20))
	if err != nil {
		return Response{}, err
	}
	return Response{Status: resp.StatusCode, Header: resp.Header, Body: body}, nil
}

// Close stops the emulator and the function it runs.
func (e *Emulator) Close() {
	e.once.Do(func() {
		if e.cmd.Process != nil {
			_ = syscall.Kill(-e.cmd.Process.Pid, syscall.SIGKILL)
		}
		select {
		case <-e.exited:
		case <-time.After(5 * time.Second):
		}
	})
}
