package templatecheck

import (
	"encoding/json"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"maps"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/insforge/edge-functions-go/scripts/internal/samtemplate"
	"github.com/insforge/edge-functions-go/shared/config"
	"github.com/insforge/edge-functions-go/shared/metrics"
)

type fixture struct {
	root      string
	tpl       *samtemplate.Template
	res       map[string]samtemplate.Resource
	functions []samtemplate.Resource
	defaults  map[string]string
}

func load(t *testing.T) *fixture {
	t.Helper()
	tpl, err := samtemplate.LoadModule(".")
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{root: tpl.Dir(), tpl: tpl, res: map[string]samtemplate.Resource{}}
	for _, r := range tpl.Resources() {
		f.res[r.ID] = r
		if r.Type == "AWS::Serverless::Function" {
			f.functions = append(f.functions, r)
		}
	}
	if len(f.functions) == 0 {
		t.Fatal("no functions in template.yaml")
	}
	f.defaults, _, err = tpl.ParameterValues(nil)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// prop returns a function property, falling back to Globals.Function.
func (f *fixture) prop(fn samtemplate.Resource, key string) (any, bool) {
	if v, ok := fn.Properties[key]; ok {
		return v, true
	}
	v, ok := f.tpl.GlobalFunction()[key]
	return v, ok
}

// env returns a function's declared variables as written, Globals merged.
func (f *fixture) env(fn samtemplate.Resource) map[string]any {
	out := map[string]any{}
	for _, src := range []map[string]any{f.tpl.GlobalFunction(), fn.Properties} {
		e, _ := src["Environment"].(map[string]any)
		vars, _ := e["Variables"].(map[string]any)
		for k, v := range vars {
			out[k] = v
		}
	}
	return out
}

// refs lists every !Ref target inside v and every name a !Sub string substitutes.
func refs(v any) []string {
	out := samtemplate.Refs(v)
	samtemplate.Walk(v, func(m map[string]any) bool {
		if s, ok := m["Fn::Sub"].(string); ok {
			for _, sm := range regexp.MustCompile(`\$\{([A-Za-z0-9:]+)\}`).FindAllStringSubmatch(s, -1) {
				out = append(out, sm[1])
			}
		}
		return true
	})
	return out
}

// canon renders an expression for comparison.
func canon(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// sourceScan parses every non-test Go file under shared/ and returns the envconfig
// names of fields tagged secret:"true" and the values of exported Metric* string
// constants.
func sourceScan(t *testing.T, root string) (secretVars map[string]bool, metricNames map[string]string) {
	t.Helper()
	secretVars, metricNames = map[string]bool{}, map[string]string{}
	fset := token.NewFileSet()
	err := filepath.WalkDir(filepath.Join(root, "shared"), func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return err
		}
		file, err := parser.ParseFile(fset, path, nil, 0)
		if err != nil {
			return err
		}
		ast.Inspect(file, func(n ast.Node) bool {
			switch x := n.(type) {
			case *ast.Field:
				if x.Tag != nil {
					tag, _ := strconv.Unquote(x.Tag.Value)
					st := reflect.StructTag(tag)
					if st.Get("secret") == "true" && st.Get("envconfig") != "" {
						secretVars[st.Get("envconfig")] = true
					}
				}
			case *ast.ValueSpec:
				for i, name := range x.Names {
					if !strings.HasPrefix(name.Name, "Metric") || !name.IsExported() || i >= len(x.Values) {
						continue
					}
					if lit, ok := x.Values[i].(*ast.BasicLit); ok && lit.Kind == token.STRING {
						v, _ := strconv.Unquote(lit.Value)
						metricNames[v] = rel(root, path) + ":" + name.Name
					}
				}
			}
			return true
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// The scan must see what is known to exist, or every rule below is vacuous.
	for _, v := range []string{"INSFORGE_JWT_SECRET", "INSFORGE_SERVICE_KEY", "OKX_SECRET_KEY"} {
		if !secretVars[v] {
			t.Fatalf("source scan did not find the secret-tagged %s: the scan is broken", v)
		}
	}
	for _, m := range []string{"TokensRefused", "PaymentsFailed", "LedgerRecordFailed", "OldestPendingMinutes"} {
		if metricNames[m] == "" {
			t.Fatalf("source scan did not find the metric constant %s: the scan is broken", m)
		}
	}
	return secretVars, metricNames
}

func rel(root, p string) string {
	r, _ := filepath.Rel(root, p)
	return r
}

func noEchoParams(tpl *samtemplate.Template) map[string]bool {
	out := map[string]bool{}
	for name, p := range tpl.Parameters {
		if p.NoEcho {
			out[name] = true
		}
	}
	return out
}

func TestNoSecretReachesAFunctionInPlainText(t *testing.T) {
	f := load(t)
	secretVars, _ := sourceScan(t, f.root)
	noEcho := noEchoParams(f.tpl)
	for _, fn := range f.functions {
		env := f.env(fn)
		for name, v := range env {
			if secretVars[name] {
				if s, ok := v.(string); !ok || s != "" {
					t.Errorf("%s: %s is a secret variable and must be declared empty (its value comes from CONFIG_SECRETS), got %s", fn.ID, name, canon(v))
				}
			}
			for _, r := range refs(v) {
				if noEcho[r] {
					t.Errorf("%s: %s carries the NoEcho parameter %s in plain text", fn.ID, name, r)
				}
			}
		}
	}
	// The stack-created secrets are the only place NoEcho parameters may go.
	for _, r := range f.tpl.Resources() {
		if r.Type == "AWS::Serverless::Function" || r.Type == "AWS::SecretsManager::Secret" {
			continue
		}
		for _, ref := range refs(r.Properties) {
			if noEcho[ref] {
				t.Errorf("%s (%s) uses the NoEcho parameter %s", r.ID, r.Type, ref)
			}
		}
	}
}

// secretKeys returns the variables the secrets named in expr hold, read from the
// description of each *SecretArn parameter ({"VARIABLE":"...", …}): the one place an
// operator learns what to put in the secret.
func (f *fixture) secretKeys(t *testing.T, expr any) []string {
	t.Helper()
	var keys []string
	for _, r := range refs(expr) {
		p, ok := f.tpl.Parameters[r]
		if !ok || !strings.HasSuffix(r, "SecretArn") {
			continue
		}
		found := regexp.MustCompile(`"([A-Z][A-Z0-9_]+)"`).FindAllStringSubmatch(p.Description, -1)
		if len(found) == 0 {
			t.Fatalf("%s: the description does not say which variables the secret holds", r)
		}
		for _, m := range found {
			keys = append(keys, m[1])
		}
	}
	sort.Strings(keys)
	return keys
}

// secretParams lists the *SecretArn parameters an expression refers to, sorted and
// without repetition (Fn::If and Fn::Join are looked through).
func secretParams(v any) []string {
	var out []string
	for _, r := range refs(v) {
		if strings.HasSuffix(r, "SecretArn") {
			out = append(out, r)
		}
	}
	sort.Strings(out)
	return slices.Compact(out)
}

func TestEachRoleReadsExactlyItsOwnSecrets(t *testing.T) {
	f := load(t)
	secretVars, _ := sourceScan(t, f.root)
	for _, fn := range f.functions {
		env := f.env(fn)
		var declared []string
		for name := range env {
			if secretVars[name] {
				declared = append(declared, name)
			}
		}
		sort.Strings(declared)

		// What the role may read: SAM's AWSSecretsManagerGetSecretValuePolicy with one ARN each
		// (possibly under an Fn::If), and no other statement that touches Secrets Manager.
		var granted []string
		pols, _ := fn.Properties["Policies"].([]any)
		for _, p := range pols {
			if m, ok := p.(map[string]any); ok {
				if l, ok := m["Fn::If"].([]any); ok && len(l) == 3 {
					p = l[1] // the else branch must be AWS::NoValue: checked below
					if !slices.Equal(refs(l[2]), []string{"AWS::NoValue"}) {
						t.Errorf("%s: a conditional policy must grant nothing when its condition is false", fn.ID)
					}
				}
			}
			m, ok := p.(map[string]any)
			if !ok {
				if s, _ := p.(string); strings.Contains(strings.ToLower(s), "secretsmanager") {
					t.Errorf("%s: managed policy %s grants Secrets Manager beyond its own secrets", fn.ID, s)
				}
				continue
			}
			for k, v := range m {
				switch {
				case k == "AWSSecretsManagerGetSecretValuePolicy":
					arn := v.(map[string]any)["SecretArn"]
					if s, isStr := arn.(string); isStr && strings.Contains(s, "*") {
						t.Errorf("%s: wildcard secret ARN %q", fn.ID, s)
					}
					ps := secretParams(arn)
					if len(ps) != 1 {
						t.Errorf("%s: SecretArn %s names no *SecretArn parameter", fn.ID, canon(arn))
					}
					granted = append(granted, ps...)
				case strings.Contains(strings.ToLower(canon(v)), "secretsmanager"):
					t.Errorf("%s: policy %s touches Secrets Manager outside the scoped template", fn.ID, k)
				}
			}
		}
		sort.Strings(granted)

		var reads, held []string
		if cs, ok := env[config.SecretsVar]; ok {
			reads = secretParams(cs)
			held = f.secretKeys(t, cs)
		}

		switch {
		case len(declared) == 0 && (len(reads) > 0 || len(granted) > 0):
			t.Errorf("%s: declares no secret variable but reads secrets %v / is granted %v", fn.ID, reads, granted)
		case len(declared) > 0 && len(reads) == 0:
			t.Errorf("%s: declares secret variables %v but no %s", fn.ID, declared, config.SecretsVar)
		case !slices.Equal(reads, granted):
			t.Errorf("%s: reads secrets %v but its role is granted %v", fn.ID, reads, granted)
		case !slices.Equal(slices.Compact(held), declared):
			t.Errorf("%s: its secrets hold %v, but it declares exactly %v (it must read no one else's)", fn.ID, held, declared)
		}
	}
}

func TestEveryFunctionLogsToAGroupWithRetention(t *testing.T) {
	f := load(t)
	check := func(owner string, target any) {
		ids := refs(target)
		if len(ids) != 1 {
			t.Errorf("%s: log group %s is not a reference to a log group of this stack", owner, canon(target))
			return
		}
		lg, ok := f.res[ids[0]]
		if !ok || lg.Type != "AWS::Logs::LogGroup" {
			t.Errorf("%s: %s is not an AWS::Logs::LogGroup", owner, ids[0])
			return
		}
		if _, ok := lg.Properties["RetentionInDays"]; !ok {
			t.Errorf("%s: log group %s keeps logs forever (no RetentionInDays)", owner, lg.ID)
		}
	}
	groups := map[string]string{}
	for _, fn := range f.functions {
		lc, _ := fn.Properties["LoggingConfig"].(map[string]any)
		if lc["LogGroup"] == nil {
			t.Errorf("%s: no LoggingConfig.LogGroup (Lambda would create /aws/lambda/<name> with no retention)", fn.ID)
			continue
		}
		check(fn.ID, lc["LogGroup"])
		// A feature's log group exists only with it (cfngraph catches what references a missing
		// resource; a log group is referenced by its function, not the other way round).
		if ids := refs(lc["LogGroup"]); len(ids) == 1 && f.res[ids[0]].Condition != fn.Condition {
			t.Errorf("%s (Condition %q): its log group %s has Condition %q", fn.ID, fn.Condition, ids[0], f.res[ids[0]].Condition)
		}
		if other, dup := groups[canon(lc["LogGroup"])]; dup {
			t.Errorf("%s and %s share a log group", fn.ID, other)
		}
		groups[canon(lc["LogGroup"])] = fn.ID
	}
	for _, r := range f.tpl.Resources() {
		if r.Type != "AWS::Serverless::HttpApi" {
			continue
		}
		als, _ := r.Properties["AccessLogSettings"].(map[string]any)
		if als == nil {
			t.Errorf("%s: no access logs", r.ID)
			continue
		}
		da, _ := als["DestinationArn"].(map[string]any)
		ga, _ := da["Fn::GetAtt"].([]any)
		if len(ga) != 2 {
			t.Errorf("%s: access log destination is not a log group of this stack", r.ID)
			continue
		}
		check(r.ID, map[string]any{"Ref": ga[0]})
		var format map[string]string
		if err := json.Unmarshal([]byte(scalar(als["Format"])), &format); err != nil {
			t.Errorf("%s: access log format is not JSON: %v", r.ID, err)
		}
		for _, k := range []string{"requestId", "routeKey", "status", "latency", "integrationErrorMessage"} {
			if format[k] == "" {
				t.Errorf("%s: access log format lacks %s", r.ID, k)
			}
		}
	}
}

// pkg is the function's directory name (functions/<name>).
func (f *fixture) pkg(t *testing.T, id string) string {
	t.Helper()
	fns, err := f.tpl.Functions(f.defaults)
	if err != nil {
		t.Fatal(err)
	}
	for _, x := range fns {
		if x.LogicalID == id {
			return filepath.Base(x.Package)
		}
	}
	t.Fatalf("%s: not a function", id)
	return ""
}

func scalar(v any) string {
	s, _ := v.(string)
	return s
}

// Reserved concurrency is opt-in: Lambda keeps 100 of an account's concurrency unreserved, and a new
// account's quota can be 10, so any reservation by default fails the first deploy. The route
// throttling bounds the x402 functions meanwhile (TestRouteThrottlingCoversTheX402Routes). With
// ReservedConcurrency set, every function is reserved: bridges, x402 HTTP functions, reconciler.
func TestReservedConcurrencyIsOptIn(t *testing.T) {
	f := load(t)
	reserved := maps.Clone(f.defaults)
	reserved["ReservedConcurrency"] = "20,10,1"
	for _, fn := range f.functions {
		v, ok := f.prop(fn, "ReservedConcurrentExecutions")
		if !ok {
			t.Errorf("%s: no ReservedConcurrentExecutions (from ReservedConcurrency; empty leaves it unreserved)", fn.ID)
			continue
		}
		got, err := f.tpl.Resolve(v, f.defaults)
		if err != nil {
			t.Fatalf("%s: %v", fn.ID, err)
		}
		if !samtemplate.IsNoValue(got) {
			t.Errorf("%s: reserved by default (%v); reservation must be opt-in", fn.ID, got)
		}
		got, err = f.tpl.Resolve(v, reserved)
		if err != nil {
			t.Fatalf("%s: %v", fn.ID, err)
		}
		want := "20"
		switch pkg := f.pkg(t, fn.ID); {
		case pkg == "x402-reconcile":
			want = "1"
		case strings.HasPrefix(pkg, "x402-"):
			want = "10"
		}
		if scalar(got) != want {
			t.Errorf("%s: ReservedConcurrency=20,10,1 reserves %v, want %s", fn.ID, got, want)
		}
	}
}

// awsMetrics are the AWS-published metrics an alarm may watch, with the dimension
// each alarm must set (https://docs.aws.amazon.com/lambda/latest/dg/monitoring-metrics-types.html,
// https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-metrics.html,
// https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-available-cloudwatch-metrics.html).
var awsMetrics = map[string]struct {
	names     []string
	dimension string
	target    string // resource type the dimension must reference
}{
	"AWS/Lambda":     {[]string{"Errors", "Throttles", "Invocations", "Duration", "ConcurrentExecutions"}, "FunctionName", "AWS::Serverless::Function"},
	"AWS/ApiGateway": {[]string{"4xx", "5xx", "Count", "Latency", "IntegrationLatency"}, "ApiId", "AWS::Serverless::HttpApi"},
	"AWS/SQS":        {[]string{"ApproximateNumberOfMessagesVisible", "NumberOfMessagesSent"}, "QueueName", "AWS::SQS::Queue"},
}

func TestEveryAlarmWatchesAMetricThatIsEmitted(t *testing.T) {
	f := load(t)
	_, metricNames := sourceScan(t, f.root)
	alarms := 0
	for _, r := range f.tpl.Resources() {
		if r.Type != "AWS::CloudWatch::Alarm" {
			continue
		}
		alarms++
		ns, name := scalar(r.Properties["Namespace"]), scalar(r.Properties["MetricName"])
		if name == "" {
			t.Errorf("%s: no MetricName (metric math alarms are not checked: add a rule here first)", r.ID)
			continue
		}
		dims, _ := r.Properties["Dimensions"].([]any)
		if ns == metrics.Namespace {
			if metricNames[name] == "" {
				t.Errorf("%s: %s/%s is not a Metric* constant in shared/ (the code never emits it)", r.ID, ns, name)
			}
			// The code publishes a dimensionless total of every metric; any dimension here
			// would have to match one of its dimension sets exactly, or the alarm sees nothing.
			if len(dims) != 0 {
				t.Errorf("%s: alarms on %s read the dimensionless total; remove Dimensions", r.ID, ns)
			}
		} else if known, ok := awsMetrics[ns]; !ok || !slices.Contains(known.names, name) {
			t.Errorf("%s: %s/%s is not a metric AWS publishes (known: %v)", r.ID, ns, name, awsMetrics)
		} else {
			if len(dims) != 1 {
				t.Errorf("%s: want exactly the %s dimension", r.ID, known.dimension)
				continue
			}
			d := dims[0].(map[string]any)
			ids := refs(d["Value"])
			if ga, ok := d["Value"].(map[string]any)["Fn::GetAtt"].([]any); ok {
				ids = append(ids, scalar(ga[0]))
			}
			if scalar(d["Name"]) != known.dimension || len(ids) != 1 || f.res[ids[0]].Type != known.target {
				t.Errorf("%s: dimension %s must reference a %s of this stack", r.ID, canon(d), known.target)
			}
		}
		if _, ok := r.Properties["AlarmActions"]; !ok {
			t.Errorf("%s: not wired to the alarm topic (AlarmActions)", r.ID)
		}
	}
	if alarms == 0 {
		t.Fatal("no alarms in template.yaml")
	}
}

// Every function has an Errors alarm of its own, and it rolls the function's
// deployment back.
func TestEveryFunctionRollsBackOnItsErrorsAlarm(t *testing.T) {
	f := load(t)
	if v, _ := f.prop(samtemplate.Resource{}, "AutoPublishAlias"); v == nil {
		t.Fatal("Globals.Function has no AutoPublishAlias: no versions, no traffic shifting")
	}
	for _, fn := range f.functions {
		var own string
		for _, r := range f.tpl.Resources() {
			if r.Type != "AWS::CloudWatch::Alarm" || scalar(r.Properties["MetricName"]) != "Errors" || scalar(r.Properties["Namespace"]) != "AWS/Lambda" {
				continue
			}
			dims, _ := r.Properties["Dimensions"].([]any)
			if len(dims) == 1 && slices.Equal(refs(dims[0].(map[string]any)["Value"]), []string{fn.ID}) {
				own = r.ID
			}
		}
		if own == "" {
			t.Errorf("%s: no AWS/Lambda Errors alarm with FunctionName = !Ref %s", fn.ID, fn.ID)
			continue
		}
		dp, _ := fn.Properties["DeploymentPreference"].(map[string]any)
		al, _ := dp["Alarms"].([]any)
		found := false
		for _, a := range al {
			if slices.Equal(refs(a), []string{own}) {
				found = true
			}
			for _, id := range refs(a) {
				if f.res[id].Type != "AWS::CloudWatch::Alarm" {
					t.Errorf("%s: DeploymentPreference alarm %s is not an alarm of this stack", fn.ID, id)
				}
			}
		}
		if !found {
			t.Errorf("%s: DeploymentPreference.Alarms does not include %s", fn.ID, own)
		}
	}
}

// Route throttling: every route key in RouteSettings names a route that exists
// (CloudFormation refuses the stage otherwise), and every /x402/* route has its own
// limits (the default ones are the /token/* limits).
func TestRouteThrottlingCoversTheX402Routes(t *testing.T) {
	f := load(t)
	fns, err := f.tpl.Functions(f.defaults)
	if err != nil {
		t.Fatal(err)
	}
	routes := map[string]bool{}
	routeCondition := map[string]string{}
	for _, fn := range fns {
		for _, r := range fn.Routes {
			routes[r.Method+" "+r.Path] = true
			routeCondition[r.Method+" "+r.Path] = f.res[fn.LogicalID].Condition
		}
	}
	apis := 0
	for _, r := range f.tpl.Resources() {
		if r.Type != "AWS::Serverless::HttpApi" {
			continue
		}
		apis++
		if _, ok := r.Properties["DefaultRouteSettings"].(map[string]any)["ThrottlingRateLimit"]; !ok {
			t.Errorf("%s: no default throttling", r.ID)
		}
		rs, _ := r.Properties["RouteSettings"].(map[string]any)
		for key, v := range rs {
			if !routes[key] {
				t.Errorf("%s: RouteSettings %q is not a route of any function", r.ID, key)
			}
			// A route exists only with its function's feature, and a setting for a missing route
			// fails the stage: each setting is !If [<the function's Condition>, {...}, AWS::NoValue].
			m, _ := v.(map[string]any)
			if l, ok := m["Fn::If"].([]any); ok && len(l) == 3 {
				if want := routeCondition[key]; scalar(l[0]) != want {
					t.Errorf("%s: RouteSettings %q is conditioned on %v, its function on %q", r.ID, key, l[0], want)
				}
				m, _ = l[1].(map[string]any)
			} else if routeCondition[key] != "" {
				t.Errorf("%s: RouteSettings %q must be !If [%s, …, AWS::NoValue]", r.ID, key, routeCondition[key])
			}
			if m["ThrottlingRateLimit"] == nil || m["ThrottlingBurstLimit"] == nil {
				t.Errorf("%s: RouteSettings %q sets no throttling", r.ID, key)
			}
		}
		for key := range routes {
			if strings.Contains(key, " /x402/") && rs[key] == nil {
				t.Errorf("%s: route %q has no RouteSettings (it would get the /token/* limits)", r.ID, key)
			}
		}
	}
	if apis == 0 {
		t.Fatal("no HttpApi in template.yaml")
	}
}
