package runtimeapi

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"time"
)

// Spec describes a function to run.
type Spec struct {
	Name   string // logical id; also AWS_LAMBDA_FUNCTION_NAME
	Binary string // path of the bootstrap (built for this host, unless ExecWrapper runs it)
	// ExecWrapper runs the bootstrap through a program, e.g. {"qemu-aarch64-static"}
	// for the linux/arm64 binary that ships: the process is wrapper... Binary.
	ExecWrapper []string
	Dir         string // working directory of the process (Lambda: /var/task)
	Env         map[string]string
	Timeout     time.Duration
	// InitTimeout limits the init phase (DefaultInitTimeout when zero).
	InitTimeout time.Duration
	MemoryMB    int
	// MaxProcesses caps concurrent execution environments (like reserved concurrency).
	MaxProcesses int
	// Logs receives the processes' stdout/stderr, one prefixed line at a time.
	Logs io.Writer
	// Region is reported in AWS_REGION and the function ARN.
	Region string
}

func (s *Spec) logs() io.Writer {
	if s.Logs == nil {
		return nil
	}
	return s.Logs
}

func (s *Spec) region() string {
	if s.Region != "" {
		return s.Region
	}
	return "us-east-1"
}

func (s *Spec) arn() string {
	return fmt.Sprintf("arn:aws:lambda:%s:123456789012:function:%s", s.region(), s.Name)
}

// environ is the process environment: the function's variables plus the reserved
// variables Lambda sets. Nothing is inherited from the runner's own environment,
// so a function sees only what the template declares, as on Lambda.
func (s *Spec) environ() []string {
	env := map[string]string{}
	for k, v := range s.Env {
		env[k] = v
	}
	mem := s.MemoryMB
	if mem == 0 {
		mem = 128
	}
	reserved := map[string]string{
		"AWS_LAMBDA_FUNCTION_NAME":        s.Name,
		"AWS_LAMBDA_FUNCTION_VERSION":     "$LATEST",
		"AWS_LAMBDA_FUNCTION_MEMORY_SIZE": strconv.Itoa(mem),
		"AWS_LAMBDA_LOG_GROUP_NAME":       "/aws/lambda/" + s.Name,
		"AWS_LAMBDA_LOG_STREAM_NAME":      time.Now().UTC().Format("2006/01/02") + "/[$LATEST]" + newRequestID()[:8],
		"AWS_LAMBDA_INITIALIZATION_TYPE":  "on-demand",
		"AWS_EXECUTION_ENV":               "AWS_Lambda_provided.al2023",
		"AWS_REGION":                      s.region(),
		"AWS_DEFAULT_REGION":              s.region(),
		"LAMBDA_TASK_ROOT":                s.Dir,
		"LAMBDA_RUNTIME_DIR":              s.Dir,
		"_HANDLER":                        "bootstrap",
		"TZ":                              ":UTC",
		"LANG":                            "en_US.UTF-8",
		"PATH":                            "/usr/local/bin:/usr/bin:/bin",
	}
	for k, v := range reserved {
		env[k] = v // reserved variables cannot be overridden on Lambda either
	}
	out := make([]string, 0, len(env))
	for k, v := range env {
		out = append(out, k+"="+v)
	}
	return out
}

// command is the process a new execution environment starts.
func (s *Spec) command() *exec.Cmd {
	if len(s.ExecWrapper) == 0 {
		return exec.Command(s.Binary)
	}
	args := append(append([]string{}, s.ExecWrapper[1:]...), s.Binary)
	return exec.Command(s.ExecWrapper[0], args...)
}

// Pool runs invocations of one function on warm processes, starting a new one
// only when every process is busy (one in-flight invocation per process).
type Pool struct {
	spec  Spec
	slots chan struct{} // one token per allowed process

	mu     sync.Mutex
	idle   []*instance
	all    map[*instance]bool
	closed bool
}

// NewPool prepares a pool; no process starts before the first invocation.
func NewPool(spec Spec) *Pool {
	if spec.MaxProcesses <= 0 {
		spec.MaxProcesses = 10
	}
	if spec.Timeout <= 0 {
		spec.Timeout = 3 * time.Second
	}
	if spec.InitTimeout <= 0 {
		spec.InitTimeout = DefaultInitTimeout
	}
	if spec.Logs == nil {
		spec.Logs = os.Stderr
	}
	spec.Logs = &syncWriter{w: spec.Logs}
	return &Pool{spec: spec, slots: make(chan struct{}, spec.MaxProcesses), all: map[*instance]bool{}}
}

// Spec returns the pool's function description.
func (p *Pool) Spec() Spec { return p.spec }

// Invoke runs one invocation with the given event payload. It returns an error only
// when the pool itself cannot run it (closed, or ctx ended while waiting for a free
// process); function failures are reported in Result.Err, as Lambda reports them.
func (p *Pool) Invoke(ctx context.Context, payload []byte) (Result, error) {
	select {
	case p.slots <- struct{}{}:
	case <-ctx.Done():
		return Result{}, ctx.Err()
	}
	defer func() { <-p.slots }()

	var res Result
	in := p.takeIdle()
	if in == nil {
		p.mu.Lock()
		closed := p.closed
		p.mu.Unlock()
		if closed {
			return Result{}, errClosed
		}
		var fe *FunctionError
		in, res.InitDuration, fe = start(ctx, &p.spec)
		res.ColdStart = true
		if fe != nil {
			res.RequestID = newRequestID()
			res.Err = fe
			return res, nil
		}
		if !p.track(in) {
			in.kill()
			return Result{}, errClosed
		}
	}
	began := time.Now()
	res.RequestID, res.Payload, res.Err = in.invoke(ctx, payload)
	res.Duration = time.Since(began)
	p.release(in)
	return res, nil
}

func (p *Pool) takeIdle() *instance {
	p.mu.Lock()
	defer p.mu.Unlock()
	for len(p.idle) > 0 {
		in := p.idle[len(p.idle)-1]
		p.idle = p.idle[:len(p.idle)-1]
		if in.alive() {
			return in
		}
		delete(p.all, in)
	}
	return nil
}

func (p *Pool) track(in *instance) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return false
	}
	p.all[in] = true
	return true
}

func (p *Pool) release(in *instance) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !in.alive() || p.closed {
		delete(p.all, in)
		if p.closed {
			in.kill()
		}
		return
	}
	p.idle = append(p.idle, in)
}

// Processes reports how many processes are running (idle or busy).
func (p *Pool) Processes() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for in := range p.all {
		if in.alive() {
			n++
		}
	}
	return n
}

// Close stops every process of the pool.
func (p *Pool) Close() {
	p.mu.Lock()
	p.closed = true
	all := make([]*instance, 0, len(p.all))
	for in := range p.all {
		all = append(all, in)
	}
	p.idle = nil
	p.mu.Unlock()
	for _, in := range all {
		in.kill()
		<-in.exited
	}
}

type syncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *syncWriter) Write(b []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(b)
}

// Reexec returns a pool of the same function that starts binary (when not empty)
// through wrapper (when not empty) instead, e.g. the linux/arm64 artifact that
// `sam build` produced under qemu-aarch64-static. p is closed.
func (p *Pool) Reexec(binary string, wrapper []string) *Pool {
	p.Close()
	spec := p.Spec()
	if binary != "" {
		spec.Binary = binary
	}
	if len(wrapper) > 0 {
		spec.ExecWrapper = append([]string(nil), wrapper...)
	}
	return NewPool(spec)
}

// ReexecAll points every pool (by logical id) at artifacts/<LogicalId>/bootstrap
// when artifacts is set (the layout of `sam build`'s .aws-sam/build) and runs it
// through wrapper when set. A missing artifact is an error naming it.
func ReexecAll(pools map[string]*Pool, artifacts string, wrapper []string) error {
	if artifacts == "" && len(wrapper) == 0 {
		return nil
	}
	for id, p := range pools {
		bin := ""
		if artifacts != "" {
			abs, err := filepath.Abs(filepath.Join(artifacts, id, "bootstrap"))
			if err != nil {
				return err
			}
			if st, err := os.Stat(abs); err != nil || st.Mode()&0o111 == 0 {
				return fmt.Errorf("%s: no executable %s (sam build / make sam-check makes it)", id, abs)
			}
			bin = abs
		}
		pools[id] = p.Reexec(bin, wrapper)
	}
	return nil
}
