package samtemplate

import (
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const mini = `
Parameters:
  Stage:
    Type: String
    Default: production
    AllowedValues: [production, staging]
  Secret:
    Type: String
    NoEcho: true
  Optional:
    Type: String
    Default: ""
Conditions:
  HasOptional: !Not [!Equals [!Ref Optional, ""]]
  IsStaging: !Equals [!Ref Stage, staging]
  Both: !And [!Condition HasOptional, !Condition IsStaging]
Globals:
  Function:
    Runtime: provided.al2023
    Handler: bootstrap
    Timeout: 7
    Environment:
      Variables:
        GLOBAL: g
        SHADOWED: global
Resources:
  Api:
    Type: AWS::Serverless::HttpApi
  FnB:
    Type: AWS::Serverless::Function
    Metadata:
      GoPackage: ./functions/b
    Properties:
      MemorySize: 256
      Environment:
        Variables:
          SHADOWED: function
          STAGE: !Ref Stage
          SECRET: !Ref Secret
          OPTIONAL: !If [HasOptional, !Ref Optional, !Ref AWS::NoValue]
          SUB: !Sub "${Stage}-${AWS::Region}-${Api.ApiEndpoint}-${!Literal}"
          SUBLIST: !Sub ["${A}/${Stage}", {A: !Ref Optional}]
          BOTH: !If [Both, "yes", "no"]
          JOIN: !Join [",", [a, !Ref Stage]]
          FIXED: "false"
      Events:
        Get:
          Type: HttpApi
          Properties:
            ApiId: !Ref Api
            Path: /items/{id}
            Method: get
        Tick:
          Type: Schedule
          Properties: {Schedule: rate(5 minutes)}
  FnA:
    Type: AWS::Serverless::Function
    Properties:
      Timeout: 20
`

func load(t *testing.T, src string) *Template {
	t.Helper()
	p := filepath.Join(t.TempDir(), "template.yaml")
	if err := os.WriteFile(p, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	tm, err := Load(p)
	if err != nil {
		t.Fatal(err)
	}
	return tm
}

func TestLoadFunctionsResolvesEveryParameterAtItsDefault(t *testing.T) {
	p := filepath.Join(t.TempDir(), "template.yaml")
	if err := os.WriteFile(p, []byte(mini), 0o644); err != nil {
		t.Fatal(err)
	}
	tm, fns, err := LoadFunctions(p)
	if err != nil {
		t.Fatal(err)
	}
	if tm.Path != p || len(fns) != 2 || fns[0].LogicalID != "FnB" {
		t.Fatalf("template %s, functions %+v", tm.Path, fns)
	}
	if got := fns[0].Env["STAGE"]; got != (Var{"production", true}) {
		t.Errorf("STAGE = %+v, want the default production", got)
	}
	if got := fns[0].Env["SECRET"]; got != (Var{}) {
		t.Errorf("SECRET = %+v, want no value (its parameter has no default)", got)
	}
	if _, _, err := LoadFunctions(filepath.Join(t.TempDir(), "missing.yaml")); err == nil {
		t.Error("a missing template loaded")
	}
}

func TestFunctionsResolveAgainstParameters(t *testing.T) {
	tm := load(t, mini)
	cases := []struct {
		name      string
		overrides map[string]string
		want      map[string]Var
	}{
		{"defaults", nil, map[string]Var{
			"GLOBAL": {"g", true}, "SHADOWED": {"function", true}, "STAGE": {"production", true},
			"SECRET": {}, "OPTIONAL": {}, "SUB": {"production-us-east-1--${Literal}", true},
			"SUBLIST": {"/production", true}, "BOTH": {"no", true}, "JOIN": {"a,production", true}, "FIXED": {"false", true},
		}},
		{"overrides", map[string]string{"Stage": "staging", "Secret": "s3cret", "Optional": "opt"}, map[string]Var{
			"GLOBAL": {"g", true}, "SHADOWED": {"function", true}, "STAGE": {"staging", true},
			"SECRET": {"s3cret", true}, "OPTIONAL": {"opt", true}, "SUB": {"staging-us-east-1--${Literal}", true},
			"SUBLIST": {"opt/staging", true}, "BOTH": {"yes", true}, "JOIN": {"a,staging", true}, "FIXED": {"false", true},
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			vals, _, err := tm.ParameterValues(tc.overrides)
			if err != nil {
				t.Fatal(err)
			}
			fns, err := tm.Functions(vals)
			if err != nil {
				t.Fatal(err)
			}
			if len(fns) != 2 || fns[0].LogicalID != "FnB" || fns[1].LogicalID != "FnA" {
				t.Fatalf("functions not in file order: %+v", fns)
			}
			b := fns[0]
			if len(b.Env) != len(tc.want) {
				t.Errorf("declared variables = %v, want %v", b.Env, tc.want)
			}
			for k, w := range tc.want {
				if b.Env[k] != w {
					t.Errorf("%s = %+v, want %+v", k, b.Env[k], w)
				}
			}
		})
	}
}

func TestFunctionPropertiesAndEvents(t *testing.T) {
	tm := load(t, mini)
	vals, missing, err := tm.ParameterValues(nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(missing) != 1 || missing[0] != "Secret" {
		t.Errorf("missing = %v, want [Secret]", missing)
	}
	fns, _ := tm.Functions(vals)
	b, a := fns[0], fns[1]
	if b.Timeout != 7*time.Second || a.Timeout != 20*time.Second || b.MemoryMB != 256 || a.MemoryMB != 128 {
		t.Errorf("timeouts %s/%s memory %d/%d", b.Timeout, a.Timeout, b.MemoryMB, a.MemoryMB)
	}
	if b.Package != "./functions/b" || b.Runtime != "provided.al2023" || b.Handler != "bootstrap" {
		t.Errorf("package/runtime/handler = %q %q %q", b.Package, b.Runtime, b.Handler)
	}
	if len(b.Routes) != 1 || b.Routes[0] != (Route{Event: "Get", Method: "GET", Path: "/items/{id}"}) {
		t.Errorf("routes = %+v", b.Routes)
	}
	if len(b.Schedules) != 1 || b.Schedules[0] != "rate(5 minutes)" {
		t.Errorf("schedules = %v", b.Schedules)
	}
}

func TestParameterOverridesAreChecked(t *testing.T) {
	tm := load(t, mini)
	for name, o := range map[string]map[string]string{
		"unknown parameter": {"Nope": "x"},
		"not allowed value": {"Stage": "development"},
	} {
		if _, _, err := tm.ParameterValues(o); err == nil {
			t.Errorf("%s: accepted %v", name, o)
		}
	}
}

// The project's template: every function runs arm64 provided.al2023 from a Go
// package, HTTP functions have an ANY route (CORS preflights reach the handler),
// and nothing development-only is switched on by default.
func TestProjectTemplate(t *testing.T) {
	tm, fns, err := LoadFunctions("../../../template.yaml")
	if err != nil {
		t.Fatal(err)
	}
	// A token bridge routes /token/<slug> from functions/token-<slug>, one per
	// directory; the other functions are named here.
	want := map[string]string{
		"X402ReportFunction": "/x402/report", "X402PaymentsFunction": "/x402/payments", "X402ReconcileFunction": "",
		"X402GatewayFunction": "/pay/{proxy+}", "X402PassFunction": "/x402/pass/{product}",
	}
	bridges, err := filepath.Glob("../../../functions/token-*")
	if err != nil || len(bridges) < 8 {
		t.Fatalf("bridge directories %v: %v", bridges, err)
	}
	for _, f := range fns {
		if strings.HasPrefix(f.Dir(), "token-") {
			want[f.LogicalID] = "/token/" + strings.TrimPrefix(f.Dir(), "token-")
		}
	}
	// The defaults switch every feature off, and conditions never hide a function from
	// the runner: every function is read whatever its feature.
	if len(fns) != len(bridges)+5 || len(want) != len(fns) {
		t.Fatalf("%d functions, want one per bridge directory (%d) and the 5 x402 functions", len(fns), len(bridges))
	}
	for _, f := range fns {
		path, ok := want[f.LogicalID]
		if !ok {
			t.Errorf("unexpected function %s", f.LogicalID)
			continue
		}
		if f.Runtime != "provided.al2023" || f.Handler != "bootstrap" || len(f.Architectures) != 1 || f.Architectures[0] != "arm64" {
			t.Errorf("%s: runtime %q handler %q arch %v", f.LogicalID, f.Runtime, f.Handler, f.Architectures)
		}
		if f.BuildMethod != "makefile" || f.Package == "" {
			t.Errorf("%s: build method %q package %q", f.LogicalID, f.BuildMethod, f.Package)
		}
		if f.Timeout > 29*time.Second && path != "" {
			t.Errorf("%s: timeout %s exceeds API Gateway's 30 s integration limit", f.LogicalID, f.Timeout)
		}
		if path == "" {
			if len(f.Schedules) != 1 || len(f.Routes) != 0 {
				t.Errorf("%s: want one schedule and no route, got %v %v", f.LogicalID, f.Schedules, f.Routes)
			}
		} else {
			// The payments function also serves the dashboard page and its assets.
			want := map[string]bool{"ANY " + path: true}
			if f.LogicalID == "X402PaymentsFunction" {
				want["ANY /x402/dashboard"], want["ANY /x402/dashboard/{asset}"] = true, true
			}
			// The report function also serves the discovery document.
			if f.LogicalID == "X402ReportFunction" {
				want["ANY /.well-known/x402"] = true
			}
			if f.LogicalID == "TokenWalletFunction" {
				want["ANY /token/wallet/nonce"] = true
			}
			got := map[string]bool{}
			for _, r := range f.Routes {
				got[r.Method+" "+r.Path] = true
			}
			if !maps.Equal(got, want) || len(f.Routes) != len(want) {
				t.Errorf("%s: routes %+v, want %v", f.LogicalID, f.Routes, want)
			}
		}
		if v, ok := f.Env["ENVIRONMENT"]; ok && v.Value != "production" {
			t.Errorf("%s: ENVIRONMENT defaults to %q", f.LogicalID, v.Value)
		}
		if v, ok := f.Env["MOCK_OKX_FACILITATOR"]; ok && v.Value != "false" {
			t.Errorf("%s: MOCK_OKX_FACILITATOR = %q", f.LogicalID, v.Value)
		}
	}
	// Secrets reach the stack only as ARNs of secrets the operator created: a secret value as a
	// parameter would pass through CloudFormation, and sam deploy --guided cannot leave a NoEcho
	// parameter empty, so every unpicked feature's secret would have to be typed.
	for name, p := range tm.Parameters {
		if p.NoEcho {
			t.Errorf("parameter %s is NoEcho: pass the secret by ARN (a *SecretArn parameter)", name)
		}
		if strings.HasSuffix(name, "SecretArn") && (p.Default == nil || *p.Default != "") {
			t.Errorf("parameter %s must default to empty (its feature is off)", name)
		}
	}
}

// sam build must never reuse a cached artifact: its cache key is the CodeUri
// only, so an edit in shared/ would ship a stale bootstrap (docs/local-dev.md).
func TestSamconfigNeverServesCachedBuilds(t *testing.T) {
	raw, err := os.ReadFile("../../../samconfig.toml")
	if err != nil {
		t.Fatal(err)
	}
	var cached, inSource bool
	for _, line := range strings.Split(string(raw), "\n") {
		switch strings.ReplaceAll(strings.TrimSpace(line), " ", "") {
		case "cached=false":
			cached = true
		case "cached=true":
			t.Error("samconfig.toml enables cached builds")
		case "build_in_source=true":
			inSource = true
		}
	}
	if !cached || !inSource {
		t.Errorf("samconfig.toml needs cached = false (%v) and build_in_source = true (%v)", cached, inSource)
	}
}

func TestResourcesAreRawAndResolvable(t *testing.T) {
	tm := load(t, mini)
	rs := tm.Resources()
	if len(rs) != 3 || rs[0].ID != "Api" || rs[1].ID != "FnB" || rs[1].Type != "AWS::Serverless::Function" {
		t.Fatalf("resources = %+v", rs)
	}
	env := rs[1].Properties["Environment"].(map[string]any)["Variables"].(map[string]any)
	if ref, _ := env["SECRET"].(map[string]any)["Ref"].(string); ref != "Secret" {
		t.Fatalf("SECRET as written = %#v, want the unresolved !Ref", env["SECRET"])
	}
	vals, _, _ := tm.ParameterValues(nil)
	got, err := tm.Resolve(env["OPTIONAL"], vals)
	if err != nil || !IsNoValue(got) {
		t.Fatalf("OPTIONAL resolved to %#v, %v; want AWS::NoValue", got, err)
	}
	if got, _ := tm.Resolve(env["STAGE"], vals); got != "production" {
		t.Fatalf("STAGE resolved to %#v", got)
	}
	if tm.GlobalFunction()["Timeout"] != "7" {
		t.Fatalf("globals = %v", tm.GlobalFunction())
	}
}
