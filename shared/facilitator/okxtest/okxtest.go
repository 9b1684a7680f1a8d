// Package okxtest runs the OKX facilitator emulator (shared/localokx) on an
// httptest server for a test. The server closes when the test ends, and every
// request the emulator refused fails the test unless AllowRejections was called.
package okxtest

import (
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/insforge/edge-functions-go/shared/localokx"
)

// Credentials the emulator accepts.
const (
	Key        = localokx.Key
	Secret     = localokx.Secret
	Passphrase = localokx.Passphrase
)

// Call is one request the emulator received.
type Call = localokx.Call

// TxHash is the hash the emulator assigns to a settlement of (from, nonce).
var TxHash = localokx.TxHash

// Emulator is the emulator's type, named so that Server can embed it next to the
// httptest server.
type Emulator = localokx.Server

// Server is the emulator and the httptest server it runs on.
type Server struct {
	*Emulator
	*httptest.Server

	allowRejections atomic.Bool
}

// New starts an emulator for the API family ("v2" or "v1") and fails t at cleanup
// if any request was refused, unless AllowRejections was called.
func New(t testing.TB, api string) *Server {
	t.Helper()
	e := localokx.New(api)
	s := &Server{Emulator: e, Server: httptest.NewServer(e)}
	t.Cleanup(func() {
		s.Close()
		if s.allowRejections.Load() {
			return
		}
		for _, c := range e.Rejections() {
			t.Errorf("okxtest: %s %s was refused: %s", c.Method, c.Path, c.Rejected)
		}
	})
	return s
}

// AllowRejections lets a test send requests the emulator refuses (bad credentials).
func (s *Server) AllowRejections() { s.allowRejections.Store(true) }
