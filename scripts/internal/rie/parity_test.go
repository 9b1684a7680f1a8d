package rie_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/insforge/edge-functions-go/scripts/internal/devenv"
	"github.com/insforge/edge-functions-go/scripts/internal/gateway"
	"github.com/insforge/edge-functions-go/scripts/internal/rie"
	"github.com/insforge/edge-functions-go/scripts/internal/runtimeapi"
	"github.com/insforge/edge-functions-go/shared/x402/payer"
)

const root = "../../.."

// x402PaymentPlaceholder marks the paid-retry event: each run signs its own payment.
const x402PaymentPlaceholder = "{{x402-payment}}"

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

// logBuffer keeps the emulator's output for failure messages.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	s := l.b.String()
	if len(s) > 3000 {
		s = "…" + s[len(s)-3000:]
	}
	return s
}

// startEmulator runs the pool's bootstrap, with the pool's variables and timeout,
// under the emulator.
func startEmulator(t *testing.T, p *runtimeapi.Pool) (*rie.Emulator, *logBuffer) {
	t.Helper()
	spec := p.Spec()
	logs := &logBuffer{}
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
func startFunctions(t *testing.T) *devenv.Env {
	t.Helper()
	env, err := devenv.Start(context.Background(), devenv.Options{
		Template: filepath.Join(root, "template.yaml"), Dev: true, IssuerAddr: "127.0.0.1:0", MaxProcs: 1,
		Logs: io.Discard, Log: slog.New(slog.NewTextHandler(io.Discard, nil)), CacheDir: t.TempDir(),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(env.Close)
	if len(env.Unavailable) > 0 {
		t.Fatalf("functions that cannot run: %v", env.Unavailable)
	}
	if env.Insforge == nil {
		t.Fatalf("the local InsForge stack did not start: %v", env.Notes)
	}
	return env
}

// front serves the runner's pools behind its API Gateway front, like make dev.
// Its pools are new ones of the same functions, so each side sees each request
// once (a bridge remembers an unknown key id for a while, as it should).
func front(t *testing.T, env *devenv.Env) *httptest.Server {
	t.Helper()
	var routes []gateway.Route
	invokers := map[string]gateway.Invoker{}
	for _, f := range env.Functions {
		for _, r := range f.Routes {
			routes = append(routes, gateway.Route{Method: r.Method, Path: r.Path, Function: f.LogicalID})
		}
		p := runtimeapi.NewPool(env.Pools[f.LogicalID].Spec())
		t.Cleanup(p.Close)
		invokers[f.LogicalID] = p
	}
	srv := httptest.NewServer(&gateway.Handler{Router: gateway.NewRouter(routes), Functions: invokers,
		Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	t.Cleanup(srv.Close)
	return srv
}

// sampleEvents maps every sample event file to its function: HTTP events by route,
// scheduled events to the scheduled function whose package the file name carries.
func sampleEvents(t *testing.T, env *devenv.Env) ([]string, map[string]string) {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(root, "events", "*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no sample events: %v", err)
	}
	sort.Strings(files)
	routes := map[string]string{}
	for _, f := range env.Functions {
		for _, r := range f.Routes {
			routes[r.Path] = f.LogicalID
		}
	}
	out := map[string]string{}
	for _, file := range files {
		raw, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		var probe struct {
			Source  string `json:"source"`
			RawPath string `json:"rawPath"`
		}
		if err := json.Unmarshal(raw, &probe); err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		fn := routes[probe.RawPath]
		if probe.Source == "aws.events" {
			for _, f := range env.Functions {
				if len(f.Schedules) > 0 && strings.Contains(filepath.Base(file), filepath.Base(f.Package)) {
					fn = f.LogicalID
				}
			}
		}
		if fn == "" {
			t.Fatalf("%s: no function of template.yaml takes this event", file)
		}
		out[file] = fn
	}
	return files, out
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
	files, byFile := sampleEvents(t, env)
	emulators := map[string]*rie.Emulator{}
	logs := map[string]*logBuffer{}
	compared := map[string]int{}
	for _, file := range files {
		fn := byFile[file]
		raw, _ := os.ReadFile(file)
		if bytes.Contains(raw, []byte(x402PaymentPlaceholder)) {
			continue // signed per run: TestPaidRequestSettlesAlikeUnderTheEmulatorAndTheRunner
		}
		if emulators[fn] == nil {
			emulators[fn], logs[fn] = startEmulator(t, env.Pools[fn])
		}
		t.Run(strings.TrimSuffix(filepath.Base(file), ".json"), func(t *testing.T) {
			event, err := devenv.Fill(raw, env.Issuer)
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
			want := lambdaView(t, "emulator", er.Body, emulatorRequestID)
			got := lambdaView(t, "runner", rr.Payload, rr.RequestID)
			if !reflect.DeepEqual(got, want) {
				t.Errorf("Lambda responses differ:\n runner   %s\n emulator %s", js(got), js(want))
			}
			compared[fn]++

			var ev events.APIGatewayV2HTTPRequest
			if err := json.Unmarshal(event, &ev); err != nil || ev.RequestContext.HTTP.Method == "" {
				return // not an HTTP event (a schedule)
			}
			rec := httptest.NewRecorder()
			if err := gateway.WriteResponse(rec, er.Body); err != nil {
				t.Fatalf("mapping the emulator's response: %v", err)
			}
			resp := send(t, srv, ev)
			wantHTTP := httpView(t, rec.Code, rec.Header(), rec.Body.Bytes())
			gotHTTP := httpView(t, resp.status, resp.header, resp.body)
			if !reflect.DeepEqual(gotHTTP, wantHTTP) {
				t.Errorf("HTTP responses differ:\n runner front %s\n emulator     %s", js(gotHTTP), js(wantHTTP))
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

// lambdaView is a function's Lambda response with the request id checked and set
// aside and the clock taken out of the body.
func lambdaView(t *testing.T, who string, payload []byte, requestID string) any {
	t.Helper()
	var v any
	if err := json.Unmarshal(payload, &v); err != nil {
		t.Fatalf("%s: response %q is not JSON: %v", who, payload, err)
	}
	m, ok := v.(map[string]any)
	if !ok || m["statusCode"] == nil {
		return v
	}
	if h, ok := m["headers"].(map[string]any); ok {
		if id, ok := h["X-Request-Id"]; ok && id != requestID {
			t.Errorf("%s: X-Request-Id %v, want the Lambda request id %s", who, id, requestID)
		}
		delete(h, "X-Request-Id")
	}
	if b, ok := m["body"].(string); ok && m["isBase64Encoded"] != true {
		m["body"] = bodyView(b)
	}
	return m
}

// httpView is an HTTP response without what the HTTP server adds by itself.
func httpView(t *testing.T, status int, h http.Header, body []byte) any {
	t.Helper()
	hv := map[string]string{}
	for k, vs := range h {
		switch k {
		case "Date", "Content-Length":
		case "X-Request-Id":
			if len(vs) != 1 || len(vs[0]) != 36 {
				t.Errorf("X-Request-Id %q is not one Lambda request id", vs)
			}
		default:
			hv[k] = strings.Join(vs, "\n")
		}
	}
	return map[string]any{"status": status, "headers": hv, "body": bodyView(string(body))}
}

// bodyView parses a JSON body and replaces time-dependent values: minted JWTs by
// their header and claims without iat/exp/nbf (plus their lifetime), and unix
// times by a marker. Anything else must match exactly.
func bodyView(b string) any {
	var v any
	if json.Unmarshal([]byte(b), &v) != nil {
		return b
	}
	return clockless(v, "")
}

func clockless(v any, key string) any {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			x[k] = clockless(e, k)
		}
		return x
	case []any:
		for i, e := range x {
			x[i] = clockless(e, "")
		}
		return x
	case float64:
		if key == "expires_at" || key == "iat" || key == "exp" || key == "nbf" {
			if d := time.Since(time.Unix(int64(x), 0)); d < 48*time.Hour && d > -48*time.Hour {
				return "<unix time near now>"
			}
		}
		return x
	case string:
		if jwt, ok := jwtView(x); ok {
			return jwt
		}
		if ts, err := time.Parse(time.RFC3339, x); err == nil && time.Since(ts).Abs() < 48*time.Hour {
			return "<time near now>"
		}
		if (key == "tx_hash" || key == "transaction") && strings.HasPrefix(x, "0x") && len(x) == 66 {
			return "<transaction hash>" // one per settled payment
		}
		return x
	}
	return v
}

func jwtView(s string) (any, bool) {
	parts := strings.Split(s, ".")
	if len(parts) != 3 {
		return nil, false
	}
	var header, claims map[string]any
	hb, err1 := base64.RawURLEncoding.DecodeString(parts[0])
	cb, err2 := base64.RawURLEncoding.DecodeString(parts[1])
	if err1 != nil || err2 != nil || json.Unmarshal(hb, &header) != nil || json.Unmarshal(cb, &claims) != nil || header["alg"] == nil {
		return nil, false
	}
	iat, _ := claims["iat"].(float64)
	exp, _ := claims["exp"].(float64)
	return map[string]any{"jwt_header": header, "jwt_claims": clockless(claims, ""), "jwt_lifetime_s": exp - iat}, true
}

func js(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// lambdaTransport sends HTTP requests to a function as payload 2.0 events through
// invoke (the emulator's Invoke API or the runner's pool), as API Gateway would.
type lambdaTransport struct {
	routeKey string
	invoke   func(ctx context.Context, event []byte) ([]byte, error)
}

func (lt *lambdaTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	ev, err := gateway.Event(r, gateway.Match{RouteKey: lt.routeKey}, "paid-request", time.Now())
	if err != nil {
		return nil, err
	}
	event, err := json.Marshal(ev)
	if err != nil {
		return nil, err
	}
	payload, err := lt.invoke(r.Context(), event)
	if err != nil {
		return nil, err
	}
	rec := httptest.NewRecorder()
	if err := gateway.WriteResponse(rec, payload); err != nil {
		return nil, err
	}
	out := rec.Result()
	out.Request = r
	return out, nil
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
	raw, err := os.ReadFile(filepath.Join(root, "events", "x402-report-paid.json"))
	if err != nil {
		t.Fatal(err)
	}
	var ev events.APIGatewayV2HTTPRequest
	if err := json.Unmarshal(raw, &ev); err != nil {
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
	target := "http://" + ev.Headers["host"] + ev.RawPath

	worlds := []struct {
		name string
		rt   http.RoundTripper
	}{
		{"emulator", &lambdaTransport{routeKey: ev.RouteKey, invoke: func(ctx context.Context, event []byte) ([]byte, error) {
			r, err := e.Invoke(ctx, "5d6c1e2a-8f3b-4a7d-9c0e-1b2a3c4d5e6f", event)
			if err != nil {
				return nil, err
			}
			if r.Status != http.StatusOK {
				return nil, fmt.Errorf("emulator %d %s\n%s", r.Status, r.Body, logs)
			}
			return r.Body, nil
		}}},
		{"runner", &lambdaTransport{routeKey: ev.RouteKey, invoke: func(ctx context.Context, event []byte) ([]byte, error) {
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
		c := &payer.Client{Key: key, MaxAmount: big.NewInt(1_000_000), HTTP: &http.Client{Transport: w.rt}}
		res, err := c.Pay(context.Background(), ev.RequestContext.HTTP.Method, target, []byte(ev.Body))
		if err != nil {
			t.Fatalf("%s: %v", w.name, err)
		}
		if res.Status != http.StatusOK || !res.Paid || res.Settlement == nil || !res.Settlement.Success {
			t.Fatalf("%s: status %d paid %v settlement %+v: %s", w.name, res.Status, res.Paid, res.Settlement, res.Body)
		}
		s := *res.Settlement
		if len(s.Transaction) != 66 {
			t.Errorf("%s: settlement transaction %q is not a transaction hash", w.name, s.Transaction)
		}
		s.Transaction = "" // one per payment
		views = append(views, map[string]any{"status": res.Status, "style": res.Style, "requirement": res.Requirement,
			"settlement": s, "body": bodyView(string(res.Body))})
	}
	for i := 1; i < len(views); i++ {
		if !reflect.DeepEqual(views[i], views[0]) {
			t.Errorf("paid request differs:\n %s %s\n %s %s", worlds[i].name, js(views[i]), worlds[0].name, js(views[0]))
		}
	}
}

// echoBootstrap builds the runner's test function (scripts/internal/testfn).
func echoBootstrap(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "bootstrap")
	cmd := exec.Command("go", "build", "-tags", "lambda.norpc", "-o", bin, "../testfn/testdata/echofn")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build echofn: %v\n%s", err, out)
	}
	return bin
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
	v := lambdaView(t, who, payload, requestID)
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
	bin := echoBootstrap(t)
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
