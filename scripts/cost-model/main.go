// Command cost-model measures what one request costs an operator and writes the
// "Cost per million requests" section of docs/benchmarks.md (between its markers;
// `make bench` carries the section over when it regenerates the file):
//
//   - application log bytes per request, counted on the functions' real stdout and
//     stderr through the local runner (a Clerk token mint, an x402 402 challenge);
//   - invoke duration per request through the runner (billed in 1 ms steps);
//   - the HTTP API access-log line, rendered from template.yaml's own format;
//   - the secrets each function reads per cold start (CONFIG_SECRETS in the template);
//
// and prices them with the AWS list prices below (us-east-1, arm64).
//
//	go run ./scripts/cost-model [-n 300] [-out docs/benchmarks.md]
package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/insforge/edge-functions-go/scripts/internal/samtemplate"
	"github.com/insforge/edge-functions-go/scripts/runner"
	"github.com/insforge/edge-functions-go/scripts/runner/runtimeapi"
	"github.com/insforge/edge-functions-go/shared/config"
)

// List prices, us-east-1 (checked 2026-11):
// https://aws.amazon.com/lambda/pricing/, https://aws.amazon.com/api-gateway/pricing/,
// https://aws.amazon.com/cloudwatch/pricing/, https://aws.amazon.com/secrets-manager/pricing/
const (
	lambdaPerMillionRequests = 0.20
	lambdaArmPerGBSecond     = 0.0000133334
	httpAPIPerMillion        = 1.00 // first 300 million a month
	logsIngestPerGB          = 0.50 // Standard log class
	alarmPerMonth            = 0.10 // standard-resolution metric alarm
	metricPerMonth           = 0.30 // custom metric, first 10,000
	secretPerMonth           = 0.40
	secretsPer10kCalls       = 0.05
	gib                      = 1 << 30
)

// platformReport is the JSON `platform.report` line Lambda writes per invocation
// when the system log level is INFO (the documented shape, with typical values);
// platform.start adds ~150 B more. SystemLogLevel WARN drops both.
const platformReport = `{"time":"2026-11-30T10:00:00.000Z","type":"platform.report","record":{"requestId":"6d9644a6-fe0e-4235-8e5a-27ca34218615","metrics":{"durationMs":1.12,"billedDurationMs":2,"memorySizeMB":128,"maxMemoryUsedMB":22},"status":"success"}}` + "\n"

// beforeAppBytes is what the same mint wrote before its metric moved onto its log
// line: two lines, 522 B, measured with this command's counting on that revision.
const beforeAppBytes = 522.0

const platformStart = `{"time":"2026-11-30T10:00:00.000Z","type":"platform.start","record":{"requestId":"6d9644a6-fe0e-4235-8e5a-27ca34218615","version":"$LATEST"}}` + "\n"

type scenario struct {
	Name, Fn, Event string
	Memory          int
}

var scenarios = []scenario{
	{"token mint (Clerk bridge, 200)", "TokenClerkFunction", "token-clerk-valid.json", 0},
	{"x402 challenge (402)", "X402ReportFunction", "x402-report-challenge.json", 0},
}

type measured struct {
	scenario
	LogBytes, Lines float64 // per request
	DurationMS      float64 // median invoke phase
	InitMS          float64 // median init of a few cold starts (billed on provided.al2023)
	Secrets         int     // secrets read per cold start
}

func main() {
	n := flag.Int("n", 300, "requests per scenario")
	out := flag.String("out", "docs/benchmarks.md", "report whose cost section is replaced")
	coldShare := flag.Float64("cold", 0.001, "share of requests that start a new execution environment")
	flag.Parse()
	tpl, err := samtemplate.LoadModule(".")
	if err != nil {
		fail(err)
	}
	root := tpl.Dir()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	var logs countingLogs
	env, err := runner.Start(ctx, runner.Options{Template: tpl.Path, Dev: true, IssuerAddr: "127.0.0.1:0",
		Only: []string{"TokenClerkFunction", "X402ReportFunction"}, MaxProcs: 1, Logs: &logs,
		Log: slog.New(slog.DiscardHandler), CacheDir: filepath.Join(os.TempDir(), "cost-model")})
	if err != nil {
		fail(err)
	}
	defer env.Close()
	var res []measured
	for _, s := range scenarios {
		m, err := measure(ctx, env, &logs, root, s, *n)
		if err != nil {
			fail(fmt.Errorf("%s: %w", s.Name, err))
		}
		m.Secrets = secretsRead(tpl, s.Fn)
		for _, f := range env.Functions {
			if f.LogicalID == s.Fn {
				m.Memory = f.MemoryMB
			}
		}
		res = append(res, m)
	}
	access, err := accessLogBytes(tpl)
	if err != nil {
		fail(err)
	}
	section := render(res, access, resourcesOf(tpl, "AWS::CloudWatch::Alarm"), secretsOf(tpl), *coldShare, *n)
	path := filepath.Join(root, *out)
	doc, err := os.ReadFile(path)
	if err != nil {
		fail(err)
	}
	if err := os.WriteFile(path, []byte(ReplaceSection(string(doc), section)), 0o644); err != nil {
		fail(err)
	}
	fmt.Print(section)
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "cost-model:", err)
	os.Exit(1)
}

// measure runs one warm-up and n measured requests on one warm process and
// counts the bytes the function wrote for them.
func measure(ctx context.Context, env *runner.Runner, logs *countingLogs, root string, s scenario, n int) (measured, error) {
	pool, ok := env.Pools[s.Fn]
	if !ok {
		return measured{}, fmt.Errorf("not available: the runner has no %s", s.Fn)
	}
	raw, err := os.ReadFile(filepath.Join(root, "events", s.Event))
	if err != nil {
		return measured{}, err
	}
	var inits []float64
	for i := 0; i < 5; i++ {
		payload, err := runner.Fill(raw, env.Issuer)
		if err != nil {
			return measured{}, err
		}
		cold := runtimeapi.NewPool(pool.Spec())
		r, err := cold.Invoke(ctx, payload)
		cold.Close()
		if err != nil || r.Err != nil || !r.ColdStart {
			return measured{}, fmt.Errorf("cold start: %v %v", err, r.Err)
		}
		inits = append(inits, float64(r.InitDuration.Microseconds())/1000)
	}
	sort.Float64s(inits)
	p := runtimeapi.NewPool(pool.Spec())
	invoke := func() (time.Duration, error) {
		payload, err := runner.Fill(raw, env.Issuer)
		if err != nil {
			return 0, err
		}
		r, err := p.Invoke(ctx, payload)
		if err == nil && r.Err != nil {
			err = r.Err
		}
		return r.Duration, err
	}
	if _, err := invoke(); err != nil { // cold start and its init lines are not per-request cost
		return measured{}, err
	}
	time.Sleep(200 * time.Millisecond)
	logs.reset(s.Fn)
	durs := make([]float64, 0, n)
	for i := 0; i < n; i++ {
		d, err := invoke()
		if err != nil {
			return measured{}, err
		}
		durs = append(durs, float64(d.Microseconds())/1000)
	}
	p.Close()
	time.Sleep(200 * time.Millisecond) // the runner copies output lines asynchronously
	b, l := logs.get(s.Fn)
	sort.Float64s(durs)
	return measured{scenario: s, LogBytes: float64(b) / float64(n), Lines: float64(l) / float64(n), DurationMS: durs[len(durs)/2],
		InitMS: inits[len(inits)/2]}, nil
}

// countingLogs counts what each function writes, without the runner's "[Name] " prefix.
type countingLogs struct {
	mu    sync.Mutex
	bytes map[string]int
	lines map[string]int
}

func (c *countingLogs) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.bytes == nil {
		c.bytes, c.lines = map[string]int{}, map[string]int{}
	}
	for _, line := range bytes.SplitAfter(p, []byte("\n")) {
		if len(line) == 0 || line[0] != '[' {
			continue
		}
		i := bytes.Index(line, []byte("] "))
		if i < 0 {
			continue
		}
		name := string(line[1:i])
		c.bytes[name] += len(line) - i - 2
		c.lines[name]++
	}
	return len(p), nil
}

func (c *countingLogs) reset(fn string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.bytes != nil {
		c.bytes[fn], c.lines[fn] = 0, 0
	}
}

func (c *countingLogs) get(fn string) (int, int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.bytes[fn], c.lines[fn]
}

// secretsRead counts the entries of the function's CONFIG_SECRETS in the template.
func secretsRead(tpl *samtemplate.Template, fn string) int {
	for _, r := range tpl.Resources() {
		if r.ID != fn {
			continue
		}
		e, _ := r.Properties["Environment"].(map[string]any)
		v, _ := e["Variables"].(map[string]any)
		cs, ok := v[config.SecretsVar]
		if !ok {
			return 0
		}
		if m, ok := cs.(map[string]any); ok {
			if j, ok := m["Fn::Join"].([]any); ok && len(j) == 2 {
				l, _ := j[1].([]any)
				return len(l)
			}
		}
		return 1
	}
	return 0
}

// accessLogBytes renders the HttpApi access-log format with typical values.
func accessLogBytes(tpl *samtemplate.Template) (int, error) {
	for _, r := range tpl.Resources() {
		if r.Type != "AWS::Serverless::HttpApi" {
			continue
		}
		als, _ := r.Properties["AccessLogSettings"].(map[string]any)
		format, _ := als["Format"].(string)
		if format == "" {
			return 0, fmt.Errorf("%s has no access-log format", r.ID)
		}
		line := strings.NewReplacer("$context.requestId", "AbCdEfGhIjKlMnO=", "$context.routeKey", "ANY /token/clerk",
			"$context.status", "200", "$context.responseLatency", "23", "$context.integrationErrorMessage", "-").Replace(format)
		return len(line) + 1, nil
	}
	return 0, fmt.Errorf("no HttpApi in template.yaml")
}

// resourcesOf counts the template's resources of one type (alarms, secrets): the fixed monthly cost.
func resourcesOf(tpl *samtemplate.Template, typ string) int {
	n := 0
	for _, r := range tpl.Resources() {
		if r.Type == typ {
			n++
		}
	}
	return n
}

// secretsOf counts the secrets a stack with every feature reads: one per *SecretArn parameter
// (the operator creates them; the stack only names them).
func secretsOf(tpl *samtemplate.Template) int {
	n := 0
	for name := range tpl.Parameters {
		if strings.HasSuffix(name, "SecretArn") {
			n++
		}
	}
	return n
}

// Markers of the generated section in docs/benchmarks.md.
const (
	Begin = "<!-- cost-model:begin (go run ./scripts/cost-model) -->"
	End   = "<!-- cost-model:end -->"
)

// ReplaceSection puts section between the markers of doc, or appends it.
func ReplaceSection(doc, section string) string {
	i, j := strings.Index(doc, Begin), strings.Index(doc, End)
	if i >= 0 && j > i {
		return doc[:i] + section + strings.TrimPrefix(doc[j+len(End):], "\n")
	}
	return strings.TrimRight(doc, "\n") + "\n\n" + section
}

func render(ms []measured, access, alarms, secrets int, coldShare float64, n int) string {
	var b strings.Builder
	w := func(f string, a ...any) { fmt.Fprintf(&b, f, a...) }
	w("%s\n## Cost per million requests\n\n", Begin)
	w("Generated by `go run ./scripts/cost-model` on %s (%d requests per row through the local runner; ", time.Now().UTC().Format("2006-01-02 15:04 MST"), n)
	w("`make bench` keeps this section). What an operator pays AWS per million successful requests, us-east-1 list prices, arm64. ")
	w("Application log bytes are counted on the functions' real stdout/stderr; the duration is the median invoke phase through the runner ")
	w("(Lambda bills whole milliseconds); the access-log line is template.yaml's format with typical values; platform lines use the documented ")
	w("JSON shape. Assumed: %.1f %% of requests start a new execution environment (one Secrets Manager read per listed secret, and the init billed).\n\n", coldShare*100)
	w("| per million | token mint (Clerk bridge) | x402 challenge (402) | basis |\n|---|--:|--:|---|\n")
	type row struct {
		name, basis string
		f           func(m measured) float64
	}
	billed := func(m measured) float64 { return math.Max(1, math.Ceil(m.DurationMS)) }
	gbs := func(m measured) float64 { return float64(m.Memory) / 1024 * billed(m) / 1000 }
	platform := float64(len(platformStart) + len(platformReport))
	rows := []row{
		{"HTTP API requests", "$1.00 / million", func(measured) float64 { return httpAPIPerMillion }},
		{"Lambda requests", "$0.20 / million", func(measured) float64 { return lambdaPerMillionRequests }},
		{"Lambda duration", "billed ms × memory × $0.0000133334 / GB-s", func(m measured) float64 { return gbs(m) * 1e6 * lambdaArmPerGBSecond }},
		{"application log lines", "measured bytes × $0.50 / GB", func(m measured) float64 { return m.LogBytes * 1e6 / gib * logsIngestPerGB }},
		{"access log line", fmt.Sprintf("%d B × $0.50 / GB", access), func(measured) float64 { return float64(access) * 1e6 / gib * logsIngestPerGB }},
		{"platform lines at SystemLogLevel INFO (not deployed: WARN is the default)", fmt.Sprintf("%.0f B × $0.50 / GB", platform),
			func(measured) float64 { return platform * 1e6 / gib * logsIngestPerGB }},
		{"Lambda init at cold start", "cold starts × init ms × memory × $0.0000133334 / GB-s", func(m measured) float64 {
			return coldShare * 1e6 * float64(m.Memory) / 1024 * math.Ceil(m.InitMS) / 1000 * lambdaArmPerGBSecond
		}},
		{"Secrets Manager reads at cold start", "secrets × cold starts × $0.05 / 10,000", func(m measured) float64 {
			return float64(m.Secrets) * coldShare * 1e6 / 1e4 * secretsPer10kCalls
		}},
	}
	totals := make([]float64, len(ms))
	for _, r := range rows {
		w("| %s |", r.name)
		for i, m := range ms {
			v := r.f(m)
			if v > 0 && v < 0.0001 {
				w(" < $0.0001 |")
			} else {
				w(" $%.4f |", v)
			}
			if !strings.Contains(r.name, "not deployed") {
				totals[i] += v
			}
		}
		w(" %s |\n", r.basis)
	}
	w("| **total as deployed** |")
	for _, t := range totals {
		w(" **$%.3f** |", t)
	}
	w(" |\n\n")
	w("Measured per request:")
	for _, m := range ms {
		w(" %s — %.0f B of application log in %.1f line(s), invoke %.2f ms (billed %.0f ms at %d MB), init %.1f ms, %d secret(s) per cold start;",
			m.Name, m.LogBytes, m.Lines, m.DurationMS, billed(m), m.Memory, m.InitMS, m.Secrets)
	}
	w(" access-log line %d B; platform start+report lines %.0f B when SystemLogLevel is INFO.\n\n", access, platform)
	w("Fixed monthly cost of a stack with every feature, whatever the traffic (a stack holds only the features picked; docs/deploy.md has the cost per feature set): %d alarms × $%.2f = $%.2f; %d secrets × $%.2f = $%.2f (the secrets its features read, created by `make deploy` or by you", alarms, alarmPerMonth,
		float64(alarms)*alarmPerMonth, secrets, secretPerMonth, float64(secrets)*secretPerMonth)
	w("); each EMF metric is a custom metric at $%.2f a month per dimension combination ", metricPerMonth)
	w("(the dimensionless totals the alarms read add one per metric name). Log storage ($0.03 / GB-month) is bounded by the log retention (Tuning).\n\n")
	mint := ms[0]
	before := (beforeAppBytes + platform) * 1e6 / gib * logsIngestPerGB
	after := (mint.LogBytes + float64(access)) * 1e6 / gib * logsIngestPerGB
	w("Log bytes of a successful mint, before → after: %.0f B of application log in two lines (the log line and a separate EMF metric line) ", beforeAppBytes)
	w("plus %.0f B of platform lines ($%.3f per million) → %.0f B in one line that carries its EMF metric, no platform lines (SystemLogLevel WARN) ", platform, before, mint.LogBytes)
	w("and the new %d B access-log line ($%.3f per million). ", access, after)
	w("Lambda's own metrics (Duration, Errors, Throttles) do not depend on the platform lines.\n%s\n", End)
	return b.String()
}

var _ io.Writer = (*countingLogs)(nil)
