package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"

	"github.com/insforge/edge-functions-go/shared/httpapi"
)

// ResponsePayloadSize is the exact size of what the Lambda runtime posts back:
// the handler run through aws-lambda-go's own handler wrapper (the one
// lambda.Start uses), for text bodies that JSON escapes grow, bodies that go
// out in base64, and headers and cookies.
func TestResponsePayloadSizeIsWhatLambdaReceives(t *testing.T) {
	invalidUTF8 := []byte("caf\xe9")
	cases := []struct {
		name   string
		status int
		header http.Header
		body   []byte
	}{
		{"empty", 0, http.Header{}, nil},
		{"json", 200, http.Header{"Content-Type": {"application/json"}}, []byte(`{"a":"<b>&"}`)},
		{"escapes", 201, http.Header{"Content-Type": {"text/plain"}, "Location": {"/items/1"}},
			[]byte("quote \" backslash \\ newline \n tab \t control \x01\x1f del \x7f html <&> line sep \u2028 é")},
		{"invalid utf-8 text goes base64", 200, http.Header{"Content-Type": {"text/plain"}}, invalidUTF8},
		{"binary", 206, http.Header{"Content-Type": {"application/octet-stream"}, "Content-Range": {"bytes 0-2/9"}}, []byte{0, 1, 2}},
		{"cookies", 200, http.Header{"Set-Cookie": {"a=1", "b=2"}, "X-Multi": {"1", "2"}}, []byte("ok")},
		{"large control characters", 200, http.Header{"Content-Type": {"text/plain"}}, bytes.Repeat([]byte{1}, 100000)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				for k, vs := range tc.header {
					w.Header()[k] = vs
				}
				if tc.status != 0 {
					w.WriteHeader(tc.status)
				}
				_, _ = w.Write(tc.body)
			})
			ev, err := json.Marshal(events.APIGatewayV2HTTPRequest{RawPath: "/", RequestContext: events.APIGatewayV2HTTPRequestContext{
				HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{Method: http.MethodGet}}})
			if err != nil {
				t.Fatal(err)
			}
			payload, err := lambda.NewHandler(httpapi.LambdaHandler(h)).Invoke(context.Background(), ev)
			if err != nil {
				t.Fatal(err)
			}
			if got := httpapi.ResponsePayloadSize(tc.status, tc.header, tc.body); got != len(payload) {
				t.Fatalf("ResponsePayloadSize = %d, Lambda receives %d bytes: %s", got, len(payload), clip(payload))
			}
		})
	}
}

// A text body under 4 MiB can exceed the 6 MB payload once escaped: the
// reason the size is measured encoded, not raw.
func TestResponsePayloadSizeCountsEscapes(t *testing.T) {
	body := bytes.Repeat([]byte{1}, 1<<20+100<<10) // 1.1 MiB, each byte "\u0001" in JSON
	if n := httpapi.ResponsePayloadSize(200, http.Header{"Content-Type": {"text/plain"}}, body); n <= httpapi.MaxResponsePayloadBytes {
		t.Fatalf("size %d, want over %d", n, httpapi.MaxResponsePayloadBytes)
	}
	bin := bytes.Repeat([]byte{0xff}, 4<<20) // 4 MiB binary: 5.6 MB in base64, under the limit
	if n := httpapi.ResponsePayloadSize(200, http.Header{"Content-Type": {"application/octet-stream"}}, bin); n > httpapi.MaxResponsePayloadBytes || n < 4<<20*4/3 {
		t.Fatalf("size %d", n)
	}
	if httpapi.MaxResponsePayloadBytes != 6291456 {
		t.Fatalf("limit %d, want 6 MiB", httpapi.MaxResponsePayloadBytes)
	}
}

func clip(b []byte) string {
	s := string(b)
	if len(s) > 200 {
		return s[:200] + "…"
	}
	return strings.TrimSpace(s)
}
