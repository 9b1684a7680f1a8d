package apigateway_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/insforge/edge-functions-go/scripts/runner/apigateway"
	"github.com/insforge/edge-functions-go/scripts/runner/bootstraptest"
	"github.com/insforge/edge-functions-go/scripts/runner/runtimeapi"
	"github.com/insforge/edge-functions-go/scripts/runner/testfn"
	"github.com/insforge/edge-functions-go/shared/httpapi"
)

func newPool(t *testing.T, mod func(*runtimeapi.Spec)) *runtimeapi.Pool {
	t.Helper()
	spec := runtimeapi.Spec{
		Name:    "EchoFunction",
		Binary:  echoBinary,
		Dir:     t.TempDir(),
		Env:     map[string]string{"ECHO_SECRET": "0123456789abcdef", "LOG_LEVEL": "ERROR"},
		Timeout: 10 * time.Second,
		Logs:    io.Discard,
	}
	if mod != nil {
		mod(&spec)
	}
	p := runtimeapi.NewPool(spec)
	t.Cleanup(p.Close)
	return p
}

// echoBinary is the runner's test function, built once for all tests exactly like a
// function: a real bootstrap that talks to the Runtime API.
var echoBinary string

func TestMain(m *testing.M) { bootstraptest.Main(m, &echoBinary, "../testfn/testdata/echofn") }

func newServer(t *testing.T, p *runtimeapi.Pool) *httptest.Server {
	t.Helper()
	h := &apigateway.Handler{
		Router:    apigateway.NewRouter([]apigateway.Route{{Method: "ANY", Path: "/{proxy+}", Function: "EchoFunction"}}),
		Functions: map[string]apigateway.Invoker{"EchoFunction": p},
		Log:       slog.New(slog.DiscardHandler),
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}

func invoke(t *testing.T, p *runtimeapi.Pool, ev events.APIGatewayV2HTTPRequest) (runtimeapi.Result, events.APIGatewayV2HTTPResponse) {
	t.Helper()
	payload, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	res, err := p.Invoke(context.Background(), payload)
	if err != nil {
		t.Fatalf("invoke: %v", err)
	}
	return res, response(t, res)
}

// response decodes a successful invocation's API Gateway response (zero for a function error).
func response(t *testing.T, res runtimeapi.Result) events.APIGatewayV2HTTPResponse {
	t.Helper()
	var out events.APIGatewayV2HTTPResponse
	if res.Err == nil {
		if err := json.Unmarshal(res.Payload, &out); err != nil {
			t.Fatalf("response %q: %v", res.Payload, err)
		}
	}
	return out
}

func event(method, path, query string, headers map[string]string, cookies []string, body []byte, b64 bool) events.APIGatewayV2HTTPRequest {
	ev := events.APIGatewayV2HTTPRequest{
		Version: "2.0", RouteKey: "ANY /{proxy+}", RawPath: path, RawQueryString: query,
		Headers: headers, Cookies: cookies,
		RequestContext: events.APIGatewayV2HTTPRequestContext{
			RequestID: "req-1", Stage: "$default", DomainName: "127.0.0.1",
			HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{Method: method, Path: path, Protocol: "HTTP/1.1", SourceIP: "127.0.0.1"},
		},
	}
	if b64 {
		ev.Body, ev.IsBase64Encoded = encodeB64(body), true
	} else {
		ev.Body = string(body)
	}
	return ev
}

func TestRuntimeAPIPathMatchesInProcessHandler(t *testing.T) {
	p := newPool(t, nil)
	// The in-process handler runs in this process: give it the name Lambda gives the child.
	t.Setenv("AWS_LAMBDA_FUNCTION_NAME", "EchoFunction")
	inproc := testfn.New(slog.New(slog.DiscardHandler))
	bin := []byte{0, 1, 2, 0xff, 0xfe, 'a'}
	cases := []struct {
		name string
		ev   events.APIGatewayV2HTTPRequest
	}{
		{"get with query and cookies", event("GET", "/echo", "a=1&b=two", map[string]string{"x-test": "yes"}, []string{"c1=v1", "c2=v2"}, nil, false)},
		{"post json", event("POST", "/echo", "", map[string]string{"content-type": "application/json"}, nil, []byte(`{"k":"v"}`), false)},
		{"binary body", event("POST", "/binary", "", map[string]string{"content-type": "application/octet-stream"}, nil, bin, true)},
		{"handler error", event("GET", "/sleep", "ms=nope", nil, nil, nil, false)},
		{"not found", event("GET", "/nowhere", "", nil, nil, nil, false)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res, got := invoke(t, p, tc.ev)
			if res.Err != nil {
				t.Fatalf("function error: %v", res.Err)
			}
			want := httpapi.Serve(context.Background(), inproc, tc.ev)
			// The request id comes from the Lambda context on the Runtime API path.
			if got.Headers["X-Request-Id"] != res.RequestID {
				t.Errorf("X-Request-Id = %q, want the Lambda request id %q", got.Headers["X-Request-Id"], res.RequestID)
			}
			delete(got.Headers, "X-Request-Id")
			delete(want.Headers, "X-Request-Id")
			g, _ := json.Marshal(got)
			w, _ := json.Marshal(want)
			if !bytes.Equal(g, w) {
				t.Errorf("runtime API path differs from in-process handler:\n got  %s\n want %s", g, w)
			}
		})
	}
}

func TestInitFailureIsReportedAsLambdaWould(t *testing.T) {
	p := newPool(t, func(s *runtimeapi.Spec) { delete(s.Env, "ECHO_SECRET") })
	res, _ := invoke(t, p, event("GET", "/echo", "", nil, nil, nil, false))
	if res.Err == nil {
		t.Fatal("expected an init error")
	}
	if res.Err.Phase != "init" || res.Err.Type != "Runtime.ConfigError" || !strings.Contains(res.Err.Message, "ECHO_SECRET") {
		t.Fatalf("init error = %+v, want phase init, Runtime.ConfigError naming ECHO_SECRET", res.Err)
	}
	if !res.ColdStart || p.Processes() != 0 {
		t.Fatalf("cold start %v, processes %d: a failed init must leave no process", res.ColdStart, p.Processes())
	}

	srv := newServer(t, p)
	resp, err := http.Get(srv.URL + "/echo")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body map[string]string
	_ = json.NewDecoder(resp.Body).Decode(&body)
	if resp.StatusCode != http.StatusBadGateway || body["error"] != "function_init_error" || !strings.Contains(body["message"], "ECHO_SECRET") {
		t.Fatalf("HTTP %d %v, want 502 function_init_error naming ECHO_SECRET", resp.StatusCode, body)
	}
}

func TestCookiesAndBase64BodiesRoundTrip(t *testing.T) {
	srv := newServer(t, newPool(t, nil))

	req, _ := http.NewRequest("GET", srv.URL+"/echo?x=1&x=2", nil)
	req.Header.Add("Cookie", "a=1; b=2")
	req.Header.Add("Cookie", "c=3")
	req.Header.Set("X-Mixed-Case", "v")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var e testfn.Echo
	_ = json.NewDecoder(resp.Body).Decode(&e)
	resp.Body.Close()
	if got := strings.Join(e.Cookies, ";"); got != "a=1;b=2;c=3" {
		t.Errorf("cookies seen by the function = %q, want a=1;b=2;c=3", got)
	}
	if e.Headers["X-Mixed-Case"] != "v" || e.Query != "x=1&x=2" {
		t.Errorf("headers/query not passed: %+v", e)
	}
	setCookies := resp.Header.Values("Set-Cookie")
	if len(setCookies) != 2 || !strings.HasPrefix(setCookies[0], "session=abc") || !strings.HasPrefix(setCookies[1], "theme=dark") {
		t.Errorf("Set-Cookie = %q, want the two cookies the function set", setCookies)
	}

	bin := make([]byte, 4096)
	_, _ = rand.Read(bin)
	resp, err = http.Post(srv.URL+"/binary", "application/octet-stream", bytes.NewReader(bin))
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !bytes.Equal(got, bin) || resp.Header.Get("Content-Type") != "application/octet-stream" {
		t.Fatalf("binary round trip: status %d, %d bytes (equal=%v), content-type %q", resp.StatusCode, len(got), bytes.Equal(got, bin), resp.Header.Get("Content-Type"))
	}
}

func pid(t *testing.T, res runtimeapi.Result, out events.APIGatewayV2HTTPResponse) int {
	t.Helper()
	if res.Err != nil {
		t.Fatalf("function error: %v", res.Err)
	}
	var v struct{ Pid int }
	if err := json.Unmarshal([]byte(out.Body), &v); err != nil || v.Pid == 0 {
		t.Fatalf("no pid in %q", out.Body)
	}
	return v.Pid
}

func TestWarmProcessIsReused(t *testing.T) {
	p := newPool(t, nil)
	ev := event("GET", "/sleep", "ms=0", nil, nil, nil, false)
	r1, o1 := invoke(t, p, ev)
	r2, o2 := invoke(t, p, ev)
	if !r1.ColdStart || r2.ColdStart {
		t.Errorf("cold starts = %v, %v; want true, false", r1.ColdStart, r2.ColdStart)
	}
	if pid(t, r1, o1) != pid(t, r2, o2) || p.Processes() != 1 {
		t.Errorf("second invocation ran on another process (processes=%d)", p.Processes())
	}
}

func TestBusyProcessMeansANewProcess(t *testing.T) {
	for _, tc := range []struct {
		name     string
		max      int
		wantProc int
	}{
		{"two processes when both are busy", 10, 2},
		{"one process when capped at one", 1, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := newPool(t, func(s *runtimeapi.Spec) { s.MaxProcesses = tc.max })
			payload, err := json.Marshal(event("GET", "/sleep", "ms=700", nil, nil, nil, false))
			if err != nil {
				t.Fatal(err)
			}
			// The goroutines only invoke; every assertion runs on the test goroutine after Wait
			// (t.Fatal from another goroutine would not stop the test).
			var wg sync.WaitGroup
			results := make([]runtimeapi.Result, 2)
			errs := make([]error, 2)
			for i := range results {
				wg.Add(1)
				go func() {
					defer wg.Done()
					results[i], errs[i] = p.Invoke(context.Background(), payload)
				}()
			}
			wg.Wait()
			pids := make([]int, len(results))
			for i, r := range results {
				if errs[i] != nil {
					t.Fatalf("invoke %d: %v", i, errs[i])
				}
				pids[i] = pid(t, r, response(t, r))
			}
			distinct := 1
			if pids[0] != pids[1] {
				distinct = 2
			}
			if distinct != tc.wantProc || p.Processes() != tc.wantProc {
				t.Fatalf("pids %v, processes %d; want %d", pids, p.Processes(), tc.wantProc)
			}
		})
	}
}

func TestTimeoutKillsTheProcess(t *testing.T) {
	p := newPool(t, func(s *runtimeapi.Spec) { s.Timeout = 300 * time.Millisecond })
	srv := newServer(t, p)
	resp, err := http.Get(srv.URL + "/sleep?ms=5000")
	if err != nil {
		t.Fatal(err)
	}
	var body map[string]string
	_ = json.NewDecoder(resp.Body).Decode(&body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusGatewayTimeout || body["error"] != "function_timeout" {
		t.Fatalf("HTTP %d %v, want 504 function_timeout", resp.StatusCode, body)
	}
	if p.Processes() != 0 {
		t.Fatalf("processes = %d after a timeout, want 0 (Lambda stops the environment)", p.Processes())
	}
	r, o := invoke(t, p, event("GET", "/sleep", "ms=0", nil, nil, nil, false))
	if !r.ColdStart {
		t.Error("the invocation after a timeout must cold-start")
	}
	pid(t, r, o)
}

func TestCrashIsAnExitError(t *testing.T) {
	p := newPool(t, nil)
	res, _ := invoke(t, p, event("GET", "/crash", "", nil, nil, nil, false))
	if res.Err == nil || res.Err.Type != "Runtime.ExitError" || res.Err.Phase != "invoke" {
		t.Fatalf("err = %+v, want invoke Runtime.ExitError", res.Err)
	}
	r, o := invoke(t, p, event("GET", "/sleep", "ms=0", nil, nil, nil, false))
	if !r.ColdStart {
		t.Error("the invocation after a crash must cold-start")
	}
	pid(t, r, o)
}

func TestProcessSeesOnlyDeclaredAndLambdaVariables(t *testing.T) {
	t.Setenv("RUNNER_TEST_HOST_ONLY", "leak")
	p := newPool(t, nil)
	for _, tc := range []struct {
		name, value string
		set         bool
	}{
		{"RUNNER_TEST_HOST_ONLY", "", false},
		{"ECHO_SECRET", "0123456789abcdef", true},
		{"AWS_LAMBDA_FUNCTION_NAME", "EchoFunction", true},
		{"AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128", true},
	} {
		_, o := invoke(t, p, event("GET", "/env", "name="+tc.name, nil, nil, nil, false))
		var v struct {
			Value string
			Set   bool
		}
		_ = json.Unmarshal([]byte(o.Body), &v)
		if v.Set != tc.set || v.Value != tc.value {
			t.Errorf("%s = %q (set %v), want %q (set %v)", tc.name, v.Value, v.Set, tc.value, tc.set)
		}
	}
}

func TestUnknownRouteIs404(t *testing.T) {
	// F is routed but not running (the runner was started with a subset): 501, not 404.
	h := &apigateway.Handler{Router: apigateway.NewRouter([]apigateway.Route{{Method: "ANY", Path: "/token/workos", Function: "F"}})}
	srv := httptest.NewServer(h)
	defer srv.Close()
	for path, want := range map[string]int{"/nope": 404, "/token/workos": 501, "/token/workos/extra": 404} {
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("GET %s = %d, want %d", path, resp.StatusCode, want)
		}
	}
}

func encodeB64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }
