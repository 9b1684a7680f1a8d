package httpapi

import (
	"bytes"
	"context"
	"encoding/base64"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"
)

func TestLambdaAdapterRoundTrip(t *testing.T) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		c, err := r.Cookie("session")
		if err != nil {
			t.Errorf("cookie: %v", err)
			return
		}
		http.SetCookie(w, &http.Cookie{Name: "a", Value: "1"})
		http.SetCookie(w, &http.Cookie{Name: "b", Value: "2"})
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Header().Set("X-Echo", r.Method+" "+r.URL.Path+"?"+r.URL.RawQuery+" "+r.Header.Get("X-Custom")+" "+c.Value+" "+r.RemoteAddr)
		w.WriteHeader(201)
		w.Write(append(body, 0xff))
	})
	ev := events.APIGatewayV2HTTPRequest{
		RawPath:         "/x402/report",
		RawQueryString:  "a=1&b=two",
		Cookies:         []string{"session=abc", "other=z"},
		Headers:         map[string]string{"x-custom": "v", "host": "api.example"},
		Body:            base64.StdEncoding.EncodeToString([]byte{0, 1, 2}),
		IsBase64Encoded: true,
	}
	ev.RequestContext.HTTP.Method = "POST"
	ev.RequestContext.HTTP.SourceIP = "203.0.113.9"
	res := Serve(context.Background(), h, ev)
	if res.StatusCode != 201 {
		t.Fatalf("status %d", res.StatusCode)
	}
	if got := res.Headers["X-Echo"]; got != "POST /x402/report?a=1&b=two v abc 203.0.113.9" {
		t.Fatalf("echo = %q", got)
	}
	if len(res.Cookies) != 2 || res.Cookies[0] != "a=1" {
		t.Fatalf("cookies = %v", res.Cookies)
	}
	body, _ := base64.StdEncoding.DecodeString(res.Body)
	if !res.IsBase64Encoded || !bytes.Equal(body, []byte{0, 1, 2, 0xff}) {
		t.Fatalf("body = %q base64=%v", res.Body, res.IsBase64Encoded)
	}
}

func TestLambdaAdapterBadBase64Is400(t *testing.T) {
	ev := events.APIGatewayV2HTTPRequest{RawPath: "/", Body: "%%%", IsBase64Encoded: true}
	ev.RequestContext.HTTP.Method = "POST"
	res := Serve(context.Background(), ok(), ev)
	if res.StatusCode != 400 || res.IsBase64Encoded || !strings.Contains(res.Body, "invalid_request") {
		t.Fatalf("got %+v", res)
	}
}
