// Package faultnet is an http.RoundTripper that injects the three ways an
// upstream call fails, so a client's real code path meets them: the request
// never reaches the server (Drop), the server acts and its answer is lost
// (LoseReply), or the call is slower than its deadline (Hang: the server acts
// only after the caller gave up, and the caller sees its deadline).
package faultnet

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"sync"
)

// Mode is how an armed fault fails a call.
type Mode int

// Modes.
const (
	// Drop fails the call before it is forwarded: the server never acts.
	Drop Mode = iota + 1
	// LoseReply forwards the call, lets the server answer, and drops the answer.
	LoseReply
	// Hang holds the call until the caller's deadline, then forwards it (the
	// server acts late) and fails it with the caller's context error.
	Hang
)

func (m Mode) String() string {
	switch m {
	case Drop:
		return "fails before the server acts"
	case LoseReply:
		return "server acts, reply lost"
	case Hang:
		return "slower than the deadline"
	}
	return "none"
}

// Modes lists every mode.
var Modes = []Mode{Drop, LoseReply, Hang}

// ErrInjected is the error of Drop and LoseReply.
var ErrInjected = errors.New("faultnet: connection reset (injected)")

// Match tells whether a call is the one to fail (body is the request body).
type Match func(r *http.Request, body []byte) bool

type fault struct {
	match Match
	mode  Mode
	left  int
	fired int
}

// Transport forwards to Base (http.DefaultTransport when nil), failing armed calls.
type Transport struct {
	Base http.RoundTripper

	mu     sync.Mutex
	faults map[string]*fault
}

// Arm fails the next times calls matching m with mode, under name.
func (t *Transport) Arm(name string, m Match, mode Mode, times int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.faults == nil {
		t.faults = map[string]*fault{}
	}
	t.faults[name] = &fault{match: m, mode: mode, left: times}
}

// Fired returns how many calls the fault named name failed.
func (t *Transport) Fired(name string) int {
	t.mu.Lock()
	defer t.mu.Unlock()
	if f := t.faults[name]; f != nil {
		return f.fired
	}
	return 0
}

// RoundTrip implements http.RoundTripper.
func (t *Transport) RoundTrip(r *http.Request) (*http.Response, error) {
	base := t.Base
	if base == nil {
		base = http.DefaultTransport
	}
	var body []byte
	if r.Body != nil {
		b, err := io.ReadAll(r.Body)
		_ = r.Body.Close()
		if err != nil {
			return nil, err
		}
		body = b
		r.Body = io.NopCloser(bytes.NewReader(b))
	}
	mode := t.pick(r, body)
	switch mode {
	case Drop:
		return nil, ErrInjected
	case LoseReply:
		res, err := base.RoundTrip(r)
		if err != nil {
			return nil, err
		}
		_, _ = io.Copy(io.Discard, res.Body)
		_ = res.Body.Close()
		return nil, ErrInjected
	case Hang:
		<-r.Context().Done()
		late := r.Clone(context.WithoutCancel(r.Context()))
		late.Body = io.NopCloser(bytes.NewReader(body))
		if res, err := base.RoundTrip(late); err == nil {
			_, _ = io.Copy(io.Discard, res.Body)
			_ = res.Body.Close()
		}
		return nil, r.Context().Err()
	}
	return base.RoundTrip(r)
}

func (t *Transport) pick(r *http.Request, body []byte) Mode {
	t.mu.Lock()
	armed := make([]*fault, 0, len(t.faults))
	for _, f := range t.faults {
		if f.left > 0 {
			armed = append(armed, f)
		}
	}
	t.mu.Unlock()
	// Matched without the lock: a Match may ask Fired.
	for _, f := range armed {
		if !f.match(r, body) {
			continue
		}
		t.mu.Lock()
		ok := f.left > 0
		if ok {
			f.left--
			f.fired++
		}
		t.mu.Unlock()
		if ok {
			return f.mode
		}
	}
	return 0
}
