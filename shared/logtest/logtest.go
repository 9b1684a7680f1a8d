// Package logtest holds what tests use to read logs written from other
// goroutines (a pool's processes, a background JWKS refresh, a handler).
package logtest

import (
	"strings"
	"sync"
)

// Buffer is a strings.Builder safe for concurrent writers and readers.
type Buffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *Buffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *Buffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
