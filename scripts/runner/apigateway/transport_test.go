package apigateway_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/insforge/edge-functions-go/scripts/runner/apigateway"
)

// A client request reaches the function as API Gateway's event on the route, and
// the function's payload comes back as the HTTP response API Gateway would send.
func TestTransportCarriesARequestToTheFunctionAndItsAnswerBack(t *testing.T) {
	var got events.APIGatewayV2HTTPRequest
	tr := &apigateway.Transport{RouteKey: "ANY /x402/report", RequestID: "req-1",
		Invoke: func(_ context.Context, event []byte) ([]byte, error) {
			if err := json.Unmarshal(event, &got); err != nil {
				return nil, err
			}
			return []byte(`{"statusCode":402,"headers":{"Payment-Required":"offer"},"cookies":["a=1"],"body":"{\"error\":\"payment_required\"}"}`), nil
		}}
	req, _ := http.NewRequest(http.MethodPost, "http://localhost:3000/x402/report?q=1", strings.NewReader(`{"n":1}`))
	req.Header.Set("X-Payment", "sig")
	res, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	if got.RouteKey != "ANY /x402/report" || got.RequestContext.RequestID != "req-1" || got.RawPath != "/x402/report" ||
		got.RawQueryString != "q=1" || got.Body != `{"n":1}` || got.Headers["x-payment"] != "sig" {
		t.Errorf("event = %+v", got)
	}
	if res.StatusCode != http.StatusPaymentRequired || res.Header.Get("Payment-Required") != "offer" ||
		res.Header.Get("Set-Cookie") != "a=1" || string(body) != `{"error":"payment_required"}` ||
		res.ContentLength != int64(len(body)) || res.Request != req {
		t.Errorf("response %d %v %q (length %d)", res.StatusCode, res.Header, body, res.ContentLength)
	}
}

// An invocation that fails, or answers what API Gateway would refuse, fails the
// round trip instead of becoming a response.
func TestTransportFailsWithTheInvocation(t *testing.T) {
	for name, invoke := range map[string]func(context.Context, []byte) ([]byte, error){
		"invoke error":   func(context.Context, []byte) ([]byte, error) { return nil, errors.New("Sandbox.Timedout") },
		"invalid status": func(context.Context, []byte) ([]byte, error) { return []byte(`{"statusCode":42}`), nil },
	} {
		tr := &apigateway.Transport{RouteKey: "ANY /x", RequestID: "r", Invoke: invoke}
		req, _ := http.NewRequest(http.MethodGet, "http://localhost:3000/x", nil)
		if res, err := tr.RoundTrip(req); err == nil {
			t.Errorf("%s: answered %d", name, res.StatusCode)
		}
	}
}
