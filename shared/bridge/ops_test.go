package bridge_test

import (
	"bufio"
	"encoding/base64"
	"encoding/json"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/insforge/edge-functions-go/shared/bridge"
	"github.com/insforge/edge-functions-go/shared/identity/identitytest"
	"github.com/insforge/edge-functions-go/shared/identity/providertest"
	"github.com/insforge/edge-functions-go/shared/metrics"
	"github.com/insforge/edge-functions-go/shared/tokenedge"
)

// opsBridge rebuilds e's bridge with DEBUG logging into e.Logs and EMF metrics into m.
func opsBridge(e *env, m *syncBuffer) {
	e.T.Helper()
	if e.Provider == nil {
		e.build()
	}
	e.h = bridge.New(bridge.Config{AllowedOrigins: []string{appOrigin}}, bridge.Deps{Provider: e.Provider, Signer: e.signer, Timeout: 3 * time.Second,
		Logger:  slog.New(slog.NewJSONHandler(e.Logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Metrics: metrics.New(m, "token-"+e.Spec.Name)})
}

type emfLine struct {
	AWS struct {
		CloudWatchMetrics []struct {
			Namespace  string
			Dimensions [][]string
			Metrics    []struct{ Name, Unit string }
		}
	} `json:"_aws"`
	Function, Provider, Code string
	Minted                   float64 `json:"TokensMinted"`
	Refused                  float64 `json:"TokensRefused"`
}

func emfLines(t *testing.T, s string) []emfLine {
	t.Helper()
	var out []emfLine
	sc := bufio.NewScanner(strings.NewReader(s))
	for sc.Scan() {
		var l emfLine
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatalf("metric line is not JSON: %q", sc.Text())
		}
		out = append(out, l)
	}
	return out
}

func TestMetricsCountMintedAndRefusedPerProviderWithTheErrorCode(t *testing.T) {
	for _, sp := range []string{"clerk", "better-auth"} {
		t.Run(sp, func(t *testing.T) {
			e := newEnv(t, specNamed(sp))
			m := &syncBuffer{}
			opsBridge(e, m)
			reqs := []struct {
				req    *http.Request
				status int
			}{
				{okRequest(e), 200},
				{okRequest(e), 200},
				{e.bearer(e.Token(func(c jwt.MapClaims) { c["exp"] = time.Now().Add(-time.Hour).Unix() })), 401},
				{e.bearer(e.Token(nil) + "x"), 401},
				{httpRequest(http.MethodPost, "/token"), 401},
			}
			for _, r := range reqs {
				if w := e.serve(r.req); w.Code != r.status {
					t.Fatalf("status %d, want %d: %s", w.Code, r.status, w.Body)
				}
			}
			got := map[string]int{}
			for _, l := range emfLines(t, m.String()) {
				if len(l.AWS.CloudWatchMetrics) != 1 || l.AWS.CloudWatchMetrics[0].Namespace != metrics.Namespace {
					t.Fatalf("envelope = %+v", l.AWS)
				}
				cw := l.AWS.CloudWatchMetrics[0]
				if l.Function != "token-"+sp || l.Provider != sp {
					t.Fatalf("function/provider = %q/%q", l.Function, l.Provider)
				}
				switch name := cw.Metrics[0].Name; name {
				case tokenedge.MetricMinted:
					if l.Minted != 1 || l.Code != "" || strings.Join(cw.Dimensions[0], ",") != "function,provider" {
						t.Fatalf("minted line = %+v", l)
					}
					got["minted"]++
				case tokenedge.MetricRefused:
					if l.Refused != 1 || strings.Join(cw.Dimensions[0], ",") != "function,code,provider" {
						t.Fatalf("refused line = %+v", l)
					}
					got[l.Code]++
				default:
					t.Fatalf("unexpected metric %q", name)
				}
			}
			want := map[string]int{"minted": 2, "token_expired": 1, "invalid_token": 1, "missing_credential": 1}
			if len(got) != len(want) {
				t.Fatalf("metrics = %v, want %v", got, want)
			}
			for k, v := range want {
				if got[k] != v {
					t.Fatalf("metrics = %v, want %v", got, want)
				}
			}
		})
	}
}

// TestProviderOutageIsCountedAsProviderUnavailable: the 503 path is a refusal with its own code.
func TestProviderOutageIsCountedAsProviderUnavailable(t *testing.T) {
	e := newEnv(t, specNamed("kinde"))
	e.Issuer.SetDown(true)
	m := &syncBuffer{}
	opsBridge(e, m)
	expectError(t, e.serve(okRequest(e)), 503, "provider_unavailable")
	ls := emfLines(t, m.String())
	if len(ls) != 1 || ls[0].Code != "provider_unavailable" || ls[0].Refused != 1 || ls[0].Provider != "kinde" {
		t.Fatalf("metrics = %+v", ls)
	}
}

func httpRequest(method, path string) *http.Request {
	r, _ := http.NewRequest(method, "http://localhost"+path, nil)
	return r
}

// secretsIn lists what must never appear in any log or metric line: the signing
// secret, provider API secrets (and their Basic form), every credential sent and
// every token minted, whole or as their signature segment.
func secretsIn(e *env, minted []string) map[string]string {
	s := map[string]string{"INSFORGE_JWT_SECRET": testSecret}
	if v := e.Vars["STYTCH_SECRET"]; v != "" {
		s["STYTCH_SECRET"] = v
		s["Stytch Basic auth"] = base64.StdEncoding.EncodeToString([]byte(providertest.StytchProject + ":" + v))
	}
	add := func(kind, tok string) {
		tok = strings.TrimPrefix(tok, "Bearer ")
		s[kind+" "+tok] = tok
		if parts := strings.Split(tok, "."); len(parts) == 3 && len(parts[2]) >= 16 {
			s[kind+" signature "+parts[2]] = parts[2]
		} else if len(tok) >= 24 {
			s[kind+" tail"] = tok[len(tok)-16:]
		}
	}
	for _, c := range e.sent {
		add("credential", c)
	}
	for _, m := range minted {
		add("minted token", m)
	}
	return s
}

// TestNoSecretOrTokenIsLogged drives every provider through success and failure
// paths with DEBUG logging and checks every log and metric line.
func TestNoSecretOrTokenIsLogged(t *testing.T) {
	for _, sp := range specs {
		t.Run(sp.Name, func(t *testing.T) {
			e := newEnv(t, sp)
			m := &syncBuffer{}
			opsBridge(e, m)
			var minted []string
			ok := waitFor200(e, func() *http.Request { return okRequest(e) })
			var res tokenedge.Response
			if err := json.Unmarshal(ok.Body.Bytes(), &res); err != nil || res.Token == "" {
				t.Fatalf("no token minted: %s", ok.Body)
			}
			minted = append(minted, res.Token)
			failures := []*http.Request{
				e.bearer(e.Token(nil) + "A"), // bad signature
				e.bearer(e.Token(func(c jwt.MapClaims) { c["exp"] = time.Now().Add(-time.Hour).Unix() })),
				e.bearer(e.Token(func(c jwt.MapClaims) { c["iss"] = "https://evil.example" })),
				e.bearer(res.Token), // an InsForge token replayed as a provider token
				e.bearer("opaque-session-" + strings.Repeat("z", 40)),
			}
			for _, r := range failures {
				if w := e.serve(r); w.Code == 200 {
					t.Fatalf("a bad credential was accepted: %s", w.Body)
				}
			}
			e.Issuer.SetDown(true)
			e.Issuer.Rotate(true) // unknown kid while the provider is down: 503 path with a logged cause
			e.serve(okRequest(e))

			logs := e.Logs.String() + m.String()
			if !strings.Contains(logs, `"msg":"token minted"`) || !strings.Contains(logs, `"msg":"request failed"`) {
				t.Fatalf("logs do not cover both paths:\n%s", logs)
			}
			for what, v := range secretsIn(e, minted) {
				if strings.Contains(logs, v) {
					t.Errorf("%s appears in the logs", what)
				}
			}
		})
	}
}

// TestStytchOpaqueSessionSecretsAreNotLogged covers the API path (Basic auth to Stytch).
func TestStytchOpaqueSessionSecretsAreNotLogged(t *testing.T) {
	const tok = "mZAYn5aLEqKUlZ_Ad9U_fWr38GaAQ1oFAhT8ds245v7Q"
	e, api := stytchEnv(t, nil)
	api.AddSession(tok, identitytest.User{ID: "user-test-1", Email: "a@example.com", EmailVerified: true})
	m := &syncBuffer{}
	opsBridge(e, m)
	w := e.serve(e.bearer(tok))
	var res tokenedge.Response
	if err := json.Unmarshal(w.Body.Bytes(), &res); w.Code != 200 || err != nil {
		t.Fatalf("session not exchanged: %d %s", w.Code, w.Body)
	}
	e.serve(e.bearer("unknown-session-token-" + strings.Repeat("q", 30)))
	logs := e.Logs.String() + m.String()
	for what, v := range secretsIn(e, []string{res.Token}) {
		if strings.Contains(logs, v) {
			t.Errorf("%s appears in the logs", what)
		}
	}
}

// TestEveryRequestLogLineHasLevelAndRequestID: JSON, a level key, and the request
// id on every line a request produces.
func TestEveryRequestLogLineHasLevelAndRequestID(t *testing.T) {
	e := newEnv(t, specNamed("workos"))
	e.build()
	reqLogs := &syncBuffer{}
	e.h = bridge.New(bridge.Config{AllowedOrigins: []string{appOrigin}}, bridge.Deps{Provider: e.Provider, Signer: e.signer, Logger: slog.New(slog.NewJSONHandler(reqLogs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	waitFor200(e, func() *http.Request { return okRequest(e) })
	e.serve(e.bearer("nope"))
	e.serve(httpRequest(http.MethodDelete, "/token"))
	lines := 0
	sc := bufio.NewScanner(strings.NewReader(reqLogs.String()))
	for sc.Scan() {
		lines++
		var l map[string]any
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatalf("not JSON: %q", sc.Text())
		}
		if l["level"] == nil || l["request_id"] == nil || l["provider"] == nil {
			t.Errorf("line lacks level/request_id/provider: %s", sc.Text())
		}
	}
	if lines < 3 {
		t.Fatalf("only %d log lines:\n%s", lines, reqLogs)
	}
}

// TestJWKSFailureLogRepeatsOncePerRefreshInterval complements
// TestJWKSFailuresLoggedOncePerInterval: during a long outage the failure is
// logged again once the refresh interval has passed, and still not per request.
func TestJWKSFailureLogRepeatsOncePerRefreshInterval(t *testing.T) {
	e := newEnv(t, specNamed("workos"))
	var mu sync.Mutex
	now := time.Now()
	e.Opts.Now = func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	e.Opts.RefreshInterval = time.Hour
	// keyfunc's unknown-kid limiter runs on real time; a 1 ns cooldown allows
	// every refetch, so each request below really fetches.
	e.Opts.UnknownKIDCooldown = time.Nanosecond
	e.Issuer.SetDown(true)
	e.build()
	burst := func() {
		for range 10 {
			expectError(t, e.serve(okRequest(e)), 503, codeUnavailable)
		}
	}
	count := func() int { return strings.Count(e.Logs.String(), `"msg":"jwks fetch failed"`) }
	steps := []struct {
		when    string
		advance time.Duration
		want    int
	}{
		{"first interval", 0, 1},
		{"before the interval ends", 59 * time.Minute, 1},
		{"after one interval", 2 * time.Minute, 2},
	}
	for _, s := range steps {
		mu.Lock()
		now = now.Add(s.advance)
		mu.Unlock()
		burst()
		if n := count(); n != s.want {
			t.Fatalf("%s: %d failure lines, want %d", s.when, n, s.want)
		}
	}
}

// A minted token costs one log line: the request's own line carries the metric
// (EMF), and the logger writes nothing more for it.
func TestMintedTokenIsOneLineCarryingTheMetric(t *testing.T) {
	e := newEnv(t, specNamed("clerk"))
	m := &syncBuffer{}
	opsBridge(e, m)
	w := e.serve(okRequest(e))
	if w.Code != 200 {
		t.Fatalf("status %d: %s", w.Code, w.Body)
	}
	if logs := e.Logs.String(); strings.TrimSpace(logs) != "" {
		t.Fatalf("the logger wrote lines of its own: %s", logs)
	}
	lines := strings.Split(strings.TrimSpace(m.String()), "\n")
	if len(lines) != 1 {
		t.Fatalf("want one line, got %d: %s", len(lines), m.String())
	}
	var l struct {
		emfLine
		Msg, RequestID, Subject, Source string
		Level                           string
	}
	if err := json.Unmarshal([]byte(lines[0]), &l); err != nil {
		t.Fatal(err)
	}
	var raw map[string]any
	_ = json.Unmarshal([]byte(lines[0]), &raw)
	if l.Msg != "token minted" || l.Level != "INFO" || l.Minted != 1 || raw["request_id"] != w.Header().Get("X-Request-Id") ||
		raw["subject"] == "" || raw["source"] != "bearer" || raw["expires_at"] == nil {
		t.Fatalf("line = %s", lines[0])
	}
	if cw := l.AWS.CloudWatchMetrics; len(cw) != 1 || cw[0].Metrics[0].Name != tokenedge.MetricMinted {
		t.Fatalf("not an EMF line: %s", lines[0])
	}
}
