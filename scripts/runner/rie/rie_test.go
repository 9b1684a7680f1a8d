package rie_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/insforge/edge-functions-go/scripts/runner"
	"github.com/insforge/edge-functions-go/scripts/runner/apigateway"
	"github.com/insforge/edge-functions-go/scripts/runner/bootstraptest"
	"github.com/insforge/edge-functions-go/scripts/runner/parity"
	"github.com/insforge/edge-functions-go/scripts/runner/rie"
	"github.com/insforge/edge-functions-go/scripts/runner/runtimeapi"
	"github.com/insforge/edge-functions-go/shared/insforge/insforgetest"
	"github.com/insforge/edge-functions-go/shared/x402/payer"
)

const root = "../../.."

var (
	emulatorOnce sync.Once
	emulatorPath string
	emulatorErr  error
)

func emulator(t *testing.T) string {
	t.Helper()
	emulatorOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
		defer cancel()
		emulatorPath, emulatorErr = rie.Build(ctx)
	})
	if emulatorErr != nil {
		t.Fatalf("building the Runtime Interface Emulator: %v", emulatorErr)
	}
	return emulatorPath
}

// startEmulator runs the pool's bootstrap, with the pool's variables and timeout,
// under the emulator.
func startEmulator(t *testing.T, p *runtimeapi.Pool) (*rie.Emulator, *parity.Tail) {
	t.Helper()
	spec := p.Spec()
	logs := &parity.Tail{}
	e, err := rie.Start(context.Background(), rie.Options{
		Emulator: emulator(t), Bootstrap: spec.Binary, Dir: spec.Dir, Env: spec.Env,
		Name: spec.Name, Timeout: spec.Timeout, MemoryMB: spec.MemoryMB, Output: logs,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Close)
	return e, logs
}

// startFunctions builds every function of template.yaml for this host and
// prepares the zero-config development environment (dev issuer, local InsForge).
func startFunctions(t *testing.T) *runner.Runner {
	t.Helper()
	env, err := runner.Start(context.Background(), runner.Options{
		Template: filepath.Join(root, "template.yaml"), Dev: true, IssuerAddr: "127.0.0.1:0", MaxProcs: 1,
		Logs: io.Discard, Log: slog.New(slog.DiscardHandler), CacheDir: t.TempDir(),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(env.Close)
	insforgetest.RequireStarted(t, env.Insforge, env.InsforgeErr)
	return env
}

// front serves the runner's pools behind its API Gateway front, like make dev.
// Its pools are new ones of the same functions, so each side sees each request
// once (a bridge remembers an unknown key id for a while, as it should).
func front(t *testing.T, env *runner.Runner) *httptest.Server {
	t.Helper()
	var routes []apigateway.Route
	invokers := map[string]apigateway.Invoker{}
	for _, f := range env.Functions {
		for _, r := range f.Routes {
			routes = append(routes, apigateway.Route{Method: r.Method, Path: r.Path, Function: f.LogicalID})
		}
		p := runtimeapi.NewPool(env.Pools[f.LogicalID].Spec())
		t.Cleanup(p.Close)
		invokers[f.LogicalID] = p
	}
	srv := httptest.NewServer(&apigateway.Handler{Router: apigateway.NewRouter(routes), Functions: invokers,
		Log: slog.New(slog.DiscardHandler)})
	t.Cleanup(srv.Close)
	return srv
}

// Every sample event, sent to the real function bootstraps (built for this host),
// gets the same Lambda response from AWS's Runtime Interface Emulator as from the
// runner's Runtime API, and the runner's HTTP front answers the equivalent HTTP
// request exactly as API Gateway would map the emulator's response. Only what
// differs by nature is set aside: the Lambda request id (each side must echo its
// own) and the clock inside minted tokens.
func TestSampleEventsAnswerAlikeUnderTheEmulatorAndTheRunner(t *testing.T) {
	emulator(t)
	env := startFunctions(t)
	srv := front(t, env)
	samples, err := parity.Samples(filepath.Join(root, "events"), env.Functions)
	if err != nil {
		t.Fatal(err)
	}
	emulators := map[string]*rie.Emulator{}
	logs := map[string]*parity.Tail{}
	compared := map[string]int{}
	for _, sm := range samples {
		if sm.Paid {
			continue // signed per run: TestPaidRequestSettlesAlikeUnderTheEmulatorAndTheRunner
		}
		fn := sm.Function
		if emulators[fn] == nil {
			emulators[fn], logs[fn] = startEmulator(t, env.Pools[fn])
		}
		t.Run(sm.Name, func(t *testing.T) {
			event, err := runner.Fill(sm.Raw, env.Issuer)
			if err != nil {
				t.Fatal(err)
			}
			const emulatorRequestID = "0f3c2a6e-5b1d-4c8e-9a7f-2d4b6e8c0a1f"
			er, err := emulators[fn].Invoke(context.Background(), emulatorRequestID, event)
			if err != nil {
				t.Fatal(err)
			}
			if er.Status != http.StatusOK {
				t.Fatalf("emulator answered %d %s\n%s", er.Status, er.Body, logs[fn])
			}
			rr, err := env.Pools[fn].Invoke(context.Background(), event)
			if err != nil {
				t.Fatal(err)
			}
			if rr.Err != nil {
				t.Fatalf("runner: %v (emulator answered %s)", rr.Err, er.Body)
			}
			want, err := parity.LambdaView(er.Body, emulatorRequestID)
			if err != nil {
				t.Fatalf("emulator: %v", err)
			}
			got, err := parity.LambdaView(rr.Payload, rr.RequestID)
			if err != nil {
				t.Fatalf("runner: %v", err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("Lambda responses differ:\n runner   %s\n emulator %s", parity.JSON(got), parity.JSON(want))
			}
			compared[fn]++
			if !sm.HTTP {
				return
			}
			var ev events.APIGatewayV2HTTPRequest
			if err := json.Unmarshal(event, &ev); err != nil {
				t.Fatal(err)
			}
			rec := httptest.NewRecorder()
			if err := apigateway.WriteResponse(rec, er.Body); err != nil {
				t.Fatalf("mapping the emulator's response: %v", err)
			}
			resp := send(t, srv, ev)
			wantHTTP, err := parity.HTTPView(rec.Code, rec.Header(), rec.Body.Bytes())
			if err != nil {
				t.Fatalf("emulator: %v", err)
			}
			gotHTTP, err := parity.HTTPView(resp.status, resp.header, resp.body)
			if err != nil {
				t.Fatalf("runner front: %v", err)
			}
			if !reflect.DeepEqual(gotHTTP, wantHTTP) {
				t.Errorf("HTTP responses differ:\n runner front %s\n emulator     %s", parity.JSON(gotHTTP), parity.JSON(wantHTTP))
			}
		})
	}
	for _, f := range env.Functions {
		if compared[f.LogicalID] == 0 {
			t.Errorf("%s: no sample event was compared", f.LogicalID)
		}
	}
}

type httpResponse struct {
	status int
	header http.Header
	body   []byte
}

// send turns a payload 2.0 sample event back into the HTTP request it describes
// and sends it to the runner's front.
func send(t *testing.T, srv *httptest.Server, ev events.APIGatewayV2HTTPRequest) httpResponse {
	t.Helper()
	body := []byte(ev.Body)
	if ev.IsBase64Encoded {
		var err error
		if body, err = base64.StdEncoding.DecodeString(ev.Body); err != nil {
			t.Fatal(err)
		}
	}
	u := srv.URL + ev.RawPath
	if ev.RawQueryString != "" {
		u += "?" + ev.RawQueryString
	}
	req, err := http.NewRequest(ev.RequestContext.HTTP.Method, u, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range ev.Headers {
		switch k {
		case "host":
			req.Host = v // the function builds absolute URLs (x402 resource) from it
		case "content-length", "x-forwarded-for", "x-forwarded-port", "x-forwarded-proto":
		default:
			req.Header.Set(k, v)
		}
	}
	if len(ev.Cookies) > 0 {
		req.Header.Set("Cookie", strings.Join(ev.Cookies, "; "))
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return httpResponse{status: resp.StatusCode, header: resp.Header, body: b}
}

// hostTransport sends requests to the runner's front while keeping the Host the
// sample event names (the x402 resource URL is built from it).
type hostTransport struct{ front *url.URL }

func (h hostTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Host = r.URL.Host
	r.URL.Scheme, r.URL.Host = h.front.Scheme, h.front.Host
	return http.DefaultTransport.RoundTrip(r)
}

// The paid request of the sample events (402 challenge → EIP-3009 signature →
// paid retry, settled through the mock facilitator into the local ledger) ends the
// same under the emulator, the runner's Runtime API and the runner's HTTP front.
func TestPaidRequestSettlesAlikeUnderTheEmulatorAndTheRunner(t *testing.T) {
	emulator(t)
	env := startFunctions(t)
	srv := front(t, env)
	frontURL, _ := url.Parse(srv.URL)
	event, err := os.ReadFile(filepath.Join(root, "events", "x402-report-paid.json"))
	if err != nil {
		t.Fatal(err)
	}
	const fn = "X402ReportFunction"
	pool := env.Pools[fn]
	if pool == nil {
		t.Fatalf("%s is not in template.yaml", fn)
	}
	e, logs := startEmulator(t, pool)
	key, _, err := payer.LoadKey("")
	if err != nil {
		t.Fatal(err)
	}
	routeKey := parity.RouteKey(event)
	worlds := []struct {
		name string
		rt   http.RoundTripper
	}{
		{"emulator", &apigateway.Transport{RouteKey: routeKey, RequestID: "paid-request", Invoke: func(ctx context.Context, event []byte) ([]byte, error) {
			r, err := e.Invoke(ctx, "5d6c1e2a-8f3b-4a7d-9c0e-1b2a3c4d5e6f", event)
			if err != nil {
				return nil, err
			}
			if r.Status != http.StatusOK {
				return nil, fmt.Errorf("emulator %d %s\n%s", r.Status, r.Body, logs)
			}
			return r.Body, nil
		}}},
		{"runner", &apigateway.Transport{RouteKey: routeKey, RequestID: "paid-request", Invoke: func(ctx context.Context, event []byte) ([]byte, error) {
			r, err := pool.Invoke(ctx, event)
			if err != nil {
				return nil, err
			}
			if r.Err != nil {
				return nil, r.Err
			}
			return r.Payload, nil
		}}},
		{"runner front", hostTransport{front: frontURL}},
	}
	var views []any
	for _, w := range worlds {
		v, err := parity.Pay(context.Background(), w.rt, key, event)
		if err != nil {
			t.Fatalf("%s: %v", w.name, err)
		}
		views = append(views, v)
	}
	for i := 1; i < len(views); i++ {
		if !reflect.DeepEqual(views[i], views[0]) {
			t.Errorf("paid request differs:\n %s %s\n %s %s", worlds[i].name, parity.JSON(views[i]), worlds[0].name, parity.JSON(views[0]))
		}
	}
}

// outcome is what a caller of Lambda's Invoke API learns from one invocation.
type outcome struct {
	Kind      string // response, error, timeout
	ErrorType string
	Message   string
	Body      any
	Pid       int // the process that answered (testfn's /sleep reports it)
}

func emulatorOutcome(t *testing.T, r rie.Response, requestID string) outcome {
	t.Helper()
	switch {
	case r.Status == http.StatusOK && bytes.HasPrefix(r.Body, []byte("Task timed out after")):
		return outcome{Kind: "timeout", Message: string(r.Body)}
	case r.Status == http.StatusBadGateway:
		return errorOutcome(t, "emulator", r.Body)
	case r.Status == http.StatusOK:
		if bytes.Contains(r.Body, []byte(`"errorType"`)) && !bytes.Contains(r.Body, []byte(`"statusCode"`)) {
			return errorOutcome(t, "emulator", r.Body)
		}
		return responseOutcome(t, "emulator", r.Body, requestID)
	}
	t.Fatalf("emulator: unexpected %d %s", r.Status, r.Body)
	return outcome{}
}

func runnerOutcome(t *testing.T, r runtimeapi.Result) outcome {
	t.Helper()
	switch {
	case r.Err != nil && r.Err.Timeout:
		return outcome{Kind: "timeout", Message: r.Err.Message}
	case r.Err != nil:
		// The emulator names its own request id in exit errors; use the same here.
		return outcome{Kind: "error", ErrorType: r.Err.Type, Message: strings.ReplaceAll(r.Err.Message, r.RequestID, "<request id>")}
	}
	return responseOutcome(t, "runner", r.Payload, r.RequestID)
}

func errorOutcome(t *testing.T, who string, body []byte) outcome {
	t.Helper()
	var e struct{ ErrorType, ErrorMessage string }
	if err := json.Unmarshal(body, &e); err != nil || e.ErrorType == "" {
		t.Fatalf("%s: error body %q is not a Lambda error", who, body)
	}
	return outcome{Kind: "error", ErrorType: e.ErrorType, Message: e.ErrorMessage}
}

func responseOutcome(t *testing.T, who string, payload []byte, requestID string) outcome {
	t.Helper()
	v, err := parity.LambdaView(payload, requestID)
	if err != nil {
		t.Fatalf("%s: %v", who, err)
	}
	o := outcome{Kind: "response", Body: v}
	if m, ok := v.(map[string]any); ok {
		if b, ok := m["body"].(map[string]any); ok {
			if pid, ok := b["pid"].(float64); ok {
				o.Pid = int(pid)
				delete(b, "pid")
			}
		}
	}
	return o
}

// The execution-environment lifecycle matches the emulator step by step: a failed
// init is reported with the function's own error and retried on the next
// invocation, a warm process is reused, a timeout ends the environment with
// Lambda's message (the next invocation starts a new process), a crash is a
// Runtime.ExitError naming the request, and an event the handler cannot decode
// is the runtime client's own error.
func TestLifecycleMatchesTheEmulator(t *testing.T) {
	bin := bootstraptest.Build(t, "../testfn/testdata/echofn") // the runner's test function
	sleep := func(ms int) string {
		return fmt.Sprintf(`{"version":"2.0","rawPath":"/sleep","rawQueryString":"ms=%d","requestContext":{"http":{"method":"GET","path":"/sleep"}}}`, ms)
	}
	type step struct {
		name  string
		event string
		// process: "same" or "new" compared with the previous answer; "" for either.
		process string
	}
	cases := []struct {
		name  string
		env   map[string]string
		steps []step
	}{
		{"init error, retried", map[string]string{}, []step{
			{"first invocation", sleep(0), ""},
			{"second invocation", sleep(0), ""},
		}},
		{"warm, timeout, crash", map[string]string{"ECHO_SECRET": "0123456789abcdef"}, []step{
			{"cold", sleep(0), ""},
			{"warm", sleep(0), "same"},
			{"timeout", sleep(3000), ""},
			{"after the timeout", sleep(0), "new"},
			{"crash", `{"version":"2.0","rawPath":"/crash","requestContext":{"http":{"method":"GET","path":"/crash"}}}`, ""},
			{"after the crash", sleep(0), "new"},
			{"event of the wrong shape", `"not an object"`, ""},
			{"after a handler error", sleep(0), "same"},
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := runtimeapi.NewPool(runtimeapi.Spec{Name: "EchoFunction", Binary: bin, Dir: filepath.Dir(bin),
				Env: tc.env, Timeout: time.Second, Logs: io.Discard})
			t.Cleanup(p.Close)
			e, logs := startEmulator(t, p)
			var lastE, lastR int
			for _, s := range tc.steps {
				const id = "7e0b5c1d-2f3a-4b6c-8d9e-0a1b2c3d4e5f"
				er, err := e.Invoke(context.Background(), id, []byte(s.event))
				if err != nil {
					t.Fatal(err)
				}
				rr, err := p.Invoke(context.Background(), []byte(s.event))
				if err != nil {
					t.Fatal(err)
				}
				eo, ro := emulatorOutcome(t, er, id), runnerOutcome(t, rr)
				eo.Message = strings.ReplaceAll(eo.Message, id, "<request id>")
				for _, w := range []struct {
					who       string
					pid, last int
				}{{"emulator", eo.Pid, lastE}, {"runner", ro.Pid, lastR}} {
					if (s.process == "same" && w.pid != w.last) || (s.process == "new" && (w.pid == 0 || w.pid == w.last)) {
						t.Errorf("%s: %s answered from pid %d after pid %d, want the %s process", s.name, w.who, w.pid, w.last, s.process)
					}
				}
				if eo.Pid != 0 {
					lastE, lastR = eo.Pid, ro.Pid
				}
				eo.Pid, ro.Pid = 0, 0
				if !reflect.DeepEqual(ro, eo) {
					t.Errorf("%s:\n runner   %+v\n emulator %+v\n%s", s.name, ro, eo, logs)
				}
			}
		})
	}
}
