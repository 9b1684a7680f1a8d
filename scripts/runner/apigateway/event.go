// Package apigateway plays API Gateway HTTP API in front of the local runner: it
// matches routes from template.yaml, turns an HTTP request into a payload format
// 2.0 event and maps the function's response back to HTTP.
package apigateway

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-lambda-go/events"
)

// MaxBodyBytes is API Gateway HTTP API's payload limit.
const MaxBodyBytes = 10 << 20

// Event builds the payload 2.0 event API Gateway would send for r on route.
// Header names are lower-cased, repeated headers comma-joined, cookies moved to
// the cookies array, and a body that is not text is base64-encoded.
func Event(r *http.Request, route Match, requestID string, now time.Time) (events.APIGatewayV2HTTPRequest, error) {
	body, err := io.ReadAll(io.LimitReader(r.Body, MaxBodyBytes+1))
	if err != nil {
		return events.APIGatewayV2HTTPRequest{}, fmt.Errorf("read body: %w", err)
	}
	if len(body) > MaxBodyBytes {
		return events.APIGatewayV2HTTPRequest{}, errTooLarge
	}
	ev := events.APIGatewayV2HTTPRequest{
		Version:        "2.0",
		RouteKey:       route.RouteKey,
		RawPath:        r.URL.EscapedPath(),
		RawQueryString: r.URL.RawQuery,
		Headers:        map[string]string{},
		PathParameters: route.Params,
	}
	names := make([]string, 0, len(r.Header))
	for k := range r.Header {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		lk := strings.ToLower(k)
		if lk == "cookie" {
			for _, line := range r.Header[k] {
				for _, c := range strings.Split(line, ";") {
					if c = strings.TrimSpace(c); c != "" {
						ev.Cookies = append(ev.Cookies, c)
					}
				}
			}
			continue
		}
		ev.Headers[lk] = strings.Join(r.Header[k], ",")
	}
	if r.Host != "" {
		ev.Headers["host"] = r.Host
	}
	if ev.Headers["content-length"] == "" && len(body) > 0 {
		ev.Headers["content-length"] = fmt.Sprint(len(body))
	}
	ev.Headers["x-forwarded-proto"] = "http"
	if q := r.URL.Query(); len(q) > 0 {
		ev.QueryStringParameters = map[string]string{}
		for k, vs := range q {
			ev.QueryStringParameters[k] = strings.Join(vs, ",")
		}
	}
	host := r.Host
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	sourceIP := r.RemoteAddr
	if h, _, err := net.SplitHostPort(sourceIP); err == nil {
		sourceIP = h
	}
	ev.Headers["x-forwarded-for"] = sourceIP
	ev.RequestContext = events.APIGatewayV2HTTPRequestContext{
		RouteKey:     route.RouteKey,
		AccountID:    "123456789012",
		Stage:        "$default",
		RequestID:    requestID,
		APIID:        "local",
		DomainName:   host,
		DomainPrefix: strings.SplitN(host, ".", 2)[0],
		Time:         now.UTC().Format("02/Jan/2006:15:04:05 -0700"),
		TimeEpoch:    now.UnixMilli(),
		HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{
			Method:    r.Method,
			Path:      r.URL.EscapedPath(),
			Protocol:  r.Proto,
			SourceIP:  sourceIP,
			UserAgent: r.UserAgent(),
		},
	}
	if len(body) > 0 {
		if isText(r.Header.Get("Content-Type"), body) {
			ev.Body = string(body)
		} else {
			ev.Body = base64.StdEncoding.EncodeToString(body)
			ev.IsBase64Encoded = true
		}
	}
	return ev, nil
}

var errTooLarge = fmt.Errorf("request body exceeds %d bytes", MaxBodyBytes)

// isText decides whether a body travels as text: a textual content type (or none)
// and valid UTF-8. Everything else is base64, so binary bodies survive the JSON event.
func isText(contentType string, b []byte) bool {
	ct := strings.ToLower(contentType)
	textual := ct == "" || strings.HasPrefix(ct, "text/") || strings.Contains(ct, "json") ||
		strings.Contains(ct, "xml") || strings.Contains(ct, "javascript") ||
		strings.Contains(ct, "x-www-form-urlencoded")
	return textual && utf8.Valid(b)
}

// WriteResponse maps a function's payload 2.0 response to HTTP. As in API Gateway,
// a payload that is not an object with statusCode is sent as a 200 JSON body.
func WriteResponse(w http.ResponseWriter, payload []byte) error {
	var probe map[string]json.RawMessage
	if err := json.Unmarshal(payload, &probe); err != nil || probe["statusCode"] == nil {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusOK)
		_, err := w.Write(payload)
		return err
	}
	var res events.APIGatewayV2HTTPResponse
	if err := json.Unmarshal(payload, &res); err != nil {
		return fmt.Errorf("malformed function response: %w", err)
	}
	body := []byte(res.Body)
	if res.IsBase64Encoded {
		b, err := base64.StdEncoding.DecodeString(res.Body)
		if err != nil {
			return fmt.Errorf("function response body is not valid base64: %w", err)
		}
		body = b
	}
	if res.StatusCode < 100 || res.StatusCode > 599 {
		return fmt.Errorf("function returned invalid status code %d", res.StatusCode)
	}
	h := w.Header()
	for k, v := range res.Headers {
		h.Set(k, v)
	}
	for k, vs := range res.MultiValueHeaders {
		h.Del(k)
		for _, v := range vs {
			h.Add(k, v)
		}
	}
	for _, c := range res.Cookies {
		h.Add("Set-Cookie", c)
	}
	if h.Get("Content-Type") == "" && len(body) > 0 {
		h.Set("Content-Type", "application/json")
	}
	w.WriteHeader(res.StatusCode)
	if len(body) == 0 {
		return nil // a 204 or 304 must not even get an empty write (http.ErrBodyNotAllowed)
	}
	_, err := w.Write(body)
	return err
}

// WriteError writes the project's JSON error shape.
func WriteError(w http.ResponseWriter, status int, code, message string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": code, "message": message})
}

// pathEscape is used by the router to compare decoded paths.
func pathUnescape(p string) string {
	if u, err := url.PathUnescape(p); err == nil {
		return u
	}
	return p
}
