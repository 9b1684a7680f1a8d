package paywall

import (
	"bytes"
	"errors"
	"net/http"
)

// DefaultMaxResponseBytes bounds a buffered paid response (Lambda's synchronous
// response limit is 6 MB).
const DefaultMaxResponseBytes = 6 << 20

// errResponseTooLarge is returned to a handler writing past the buffer's bound.
var errResponseTooLarge = errors.New("paywall: paid response exceeds the buffer bound")

// buffer holds the paid handler's response until the payment settles: nothing
// reaches the client before the money moved, and nothing is charged for a
// response that is not delivered.
type buffer struct {
	header   http.Header
	status   int
	body     bytes.Buffer
	max      int
	overflow bool
}

func newBuffer(max int) *buffer { return &buffer{header: http.Header{}, max: max} }

func (b *buffer) Header() http.Header { return b.header }

func (b *buffer) WriteHeader(status int) {
	if b.status == 0 {
		b.status = status
	}
}

func (b *buffer) Write(p []byte) (int, error) {
	if b.status == 0 {
		b.status = http.StatusOK
	}
	if b.body.Len()+len(p) > b.max {
		b.overflow = true
		return 0, errResponseTooLarge
	}
	return b.body.Write(p)
}

// code is the status the handler produced (200 when it only wrote a body).
func (b *buffer) code() int {
	if b.status == 0 {
		return http.StatusOK
	}
	return b.status
}

// succeeded reports a complete 2xx response: only that is worth a payment.
func (b *buffer) succeeded() bool { return !b.overflow && b.code() >= 200 && b.code() < 300 }

// flush writes the buffered response to w, keeping headers already set on w
// (the settlement receipt).
func (b *buffer) flush(w http.ResponseWriter) {
	for k, vs := range b.header {
		for _, v := range vs {
			w.Header().Add(k, v)
		}
	}
	w.WriteHeader(b.code())
	_, _ = w.Write(b.body.Bytes())
}
