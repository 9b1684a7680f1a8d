package httpapi

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"unicode/utf8"

	"github.com/aws/aws-lambda-go/events"
)

// LambdaHandler adapts an http.Handler to API Gateway HTTP API (payload format 2.0)
// events, so the same handler serves Lambda, the local runner and the tests.
func LambdaHandler(h http.Handler) func(context.Context, events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
	return func(ctx context.Context, ev events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
		return Serve(ctx, h, ev), nil
	}
}

// Serve runs one event through h and returns the API Gateway response. It never
// returns an error: a malformed event becomes a 400 JSON response, like any bad input.
func Serve(ctx context.Context, h http.Handler, ev events.APIGatewayV2HTTPRequest) events.APIGatewayV2HTTPResponse {
	rec := newRecorder()
	req, err := RequestFromEvent(ctx, ev)
	if err != nil {
		r, _ := http.NewRequestWithContext(ctx, http.MethodGet, "/", nil)
		WriteError(rec, r, err)
	} else {
		h.ServeHTTP(rec, req)
	}
	return rec.response()
}

// RequestFromEvent builds the *http.Request an event describes.
func RequestFromEvent(ctx context.Context, ev events.APIGatewayV2HTTPRequest) (*http.Request, error) {
	body := []byte(ev.Body)
	if ev.IsBase64Encoded {
		b, err := base64.StdEncoding.DecodeString(ev.Body)
		if err != nil {
			return nil, InvalidRequest.Wrap("request body is not valid base64", err)
		}
		body = b
	}
	method := ev.RequestContext.HTTP.Method
	if method == "" {
		method = http.MethodGet
	}
	path := ev.RawPath
	if path == "" {
		path = ev.RequestContext.HTTP.Path
	}
	if path == "" {
		path = "/"
	}
	u := &url.URL{Path: path, RawQuery: ev.RawQueryString}
	if p, err := url.PathUnescape(path); err == nil {
		u.Path, u.RawPath = p, path
	}
	req, err := http.NewRequestWithContext(ctx, method, u.String(), bytes.NewReader(body))
	if err != nil {
		return nil, InvalidRequest.Wrap("request line is invalid", err)
	}
	for k, v := range ev.Headers {
		req.Header.Set(k, v)
	}
	if len(ev.Cookies) > 0 {
		req.Header.Set("Cookie", strings.Join(ev.Cookies, "; "))
	}
	req.Host = req.Header.Get("Host")
	if req.Host == "" {
		req.Host = ev.RequestContext.DomainName
	}
	req.URL.Host = req.Host
	req.RemoteAddr = ev.RequestContext.HTTP.SourceIP
	req.RequestURI = u.RequestURI()
	req.ContentLength = int64(len(body))
	return req, nil
}

// recorder is a minimal buffered http.ResponseWriter.
type recorder struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func newRecorder() *recorder { return &recorder{header: http.Header{}} }

func (r *recorder) Header() http.Header { return r.header }

func (r *recorder) WriteHeader(status int) {
	if r.status == 0 {
		r.status = status
	}
}

func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.body.Write(b)
}

func (r *recorder) response() events.APIGatewayV2HTTPResponse {
	return lambdaResponse(r.status, r.header, r.body.Bytes())
}

// lambdaResponse is the API Gateway response of a handler that answered status,
// header and body: text bodies as they are, anything else base64-encoded.
func lambdaResponse(status int, header http.Header, b []byte) events.APIGatewayV2HTTPResponse {
	if status == 0 {
		status = http.StatusOK
	}
	res := events.APIGatewayV2HTTPResponse{StatusCode: status, Headers: map[string]string{}}
	for k, vs := range header {
		if http.CanonicalHeaderKey(k) == "Set-Cookie" {
			res.Cookies = append(res.Cookies, vs...)
			continue
		}
		res.Headers[k] = strings.Join(vs, ", ")
	}
	if isText(header.Get("Content-Type"), b) {
		res.Body = string(b)
	} else {
		res.Body = base64.StdEncoding.EncodeToString(b)
		res.IsBase64Encoded = true
	}
	return res
}

// MaxResponsePayloadBytes is Lambda's limit on a synchronous invocation's
// response payload, 6 MB ("Invocation payload (request and response)",
// https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html),
// counted here as 6 MiB, the local runner's figure.
const MaxResponsePayloadBytes = 6 << 20

// ResponsePayloadSize is the size of the payload LambdaHandler returns to
// Lambda for a handler that answered status, header and body: the JSON of the
// API Gateway response as aws-lambda-go encodes it (json.Encoder with HTML
// escaping off, its trailing newline stripped), so a text body counts with its
// JSON escapes and a binary one in base64.
func ResponsePayloadSize(status int, header http.Header, body []byte) int {
	var n countingWriter
	enc := json.NewEncoder(&n)
	enc.SetEscapeHTML(false) // aws-lambda-go's default (lambda.WithSetEscapeHTML)
	if err := enc.Encode(lambdaResponse(status, header, body)); err != nil {
		return MaxResponsePayloadBytes + 1 // cannot be encoded: cannot be answered either
	}
	return int(n) - 1 // the encoder's newline, which aws-lambda-go strips
}

type countingWriter int64

func (c *countingWriter) Write(p []byte) (int, error) {
	*c += countingWriter(len(p))
	return len(p), nil
}

func isText(contentType string, b []byte) bool {
	ct := strings.ToLower(contentType)
	switch {
	case strings.HasPrefix(ct, "text/"), strings.Contains(ct, "json"), strings.Contains(ct, "xml"),
		strings.Contains(ct, "javascript"):
		return utf8.Valid(b)
	case ct == "":
		return utf8.Valid(b)
	}
	return false
}
