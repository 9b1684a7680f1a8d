package apigateway

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"time"
)

// Transport is an http.RoundTripper that sends each request to a function as the
// payload 2.0 event API Gateway would build, through Invoke (a runner pool, an
// Invoke API), and maps the function's answer back as API Gateway would: the
// client side of a route, for tools that drive a function with an HTTP client.
type Transport struct {
	RouteKey  string
	RequestID string // the event's requestContext.requestId
	Invoke    func(ctx context.Context, event []byte) (payload []byte, err error)
}

// RoundTrip implements http.RoundTripper.
func (t *Transport) RoundTrip(r *http.Request) (*http.Response, error) {
	in := r
	if r.Body == nil { // a client request without a body (a GET)
		in = r.Clone(r.Context())
		in.Body = http.NoBody
	}
	ev, err := Event(in, Match{RouteKey: t.RouteKey}, t.RequestID, time.Now())
	if err != nil {
		return nil, err
	}
	event, err := json.Marshal(ev)
	if err != nil {
		return nil, err
	}
	payload, err := t.Invoke(r.Context(), event)
	if err != nil {
		return nil, err
	}
	rec := httptest.NewRecorder()
	if err := WriteResponse(rec, payload); err != nil {
		return nil, err
	}
	res := rec.Result()
	res.ContentLength, res.Request = int64(rec.Body.Len()), r
	return res, nil
}
