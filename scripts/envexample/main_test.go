package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/insforge/edge-functions-go/scripts/internal/samtemplate"
)

// env.example.json is what template.yaml gives: a function, a variable or a value
// changed in the template without regenerating the file fails here, naming the
// command that regenerates it.
func TestEnvExampleIsGeneratedFromTheTemplate(t *testing.T) {
	tm, fns, err := samtemplate.LoadFunctions("../../template.yaml")
	if err != nil {
		t.Fatal(err)
	}
	want, err := Generate(tm)
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile("../../env.example.json")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		gl, wl := strings.Split(string(got), "\n"), strings.Split(string(want), "\n")
		i := 0
		for i < len(gl) && i < len(wl) && gl[i] == wl[i] {
			i++
		}
		line := func(l []string) string {
			if i < len(l) {
				return l[i]
			}
			return "(end of file)"
		}
		t.Fatalf("env.example.json is not what template.yaml gives; run `make env-example` (go run ./scripts/envexample).\n"+
			"first difference, line %d:\n  file:     %s\n  template: %s", i+1, line(gl), line(wl))
	}
	// Each function of the template has exactly its declared variables.
	var file map[string]map[string]string
	if err := json.Unmarshal(got, &file); err != nil {
		t.Fatalf("env.example.json is not {\"<LogicalId>\": {\"VAR\": \"value\"}}: %v", err)
	}
	if len(file) != len(fns) || len(fns) == 0 {
		t.Fatalf("%d blocks for %d functions", len(file), len(fns))
	}
	for _, f := range fns {
		if len(file[f.LogicalID]) != len(f.Env) {
			t.Errorf("%s: %d variables, template.yaml declares %d", f.LogicalID, len(file[f.LogicalID]), len(f.Env))
		}
	}
}

const tmpl = `
Parameters:
  TenantIssuer: {Type: String, Default: ""}
  TenantAudience: {Type: String, Default: ""}
  Origins: {Type: String, Default: ""}
  Retries: {Type: String, Default: "3"}
  JwtSecretArn: {Type: String, Default: "", Description: "ARN of a secret {\"JWT_SECRET\":\"...\"}"}
  OkxSecretArn: {Type: String, Default: "", Description: "ARN of a secret {\"OKX_KEY\",\"OKX_PASS\"}"}
Conditions:
  HasAudience: !Not [!Equals [!Ref TenantAudience, ""]]
  HasOrigins: !Not [!Equals [!Ref Origins, ""]]
Globals:
  Function:
    Environment:
      Variables: {LOG_LEVEL: "INFO"}
Resources:
  Bridge:
    Type: AWS::Serverless::Function
    Properties:
      Environment:
        Variables:
          CONFIG_SECRETS: !Join [",", [!Ref JwtSecretArn, !Ref OkxSecretArn]]
          JWT_SECRET: ""
          OKX_KEY: ""
          TOKEN_TTL: "1h"
          ENVIRONMENT: "production"
          ALLOWED_ORIGINS: !If [HasOrigins, !Ref Origins, !Ref AWS::NoValue]
          TENANT_ISSUER: !Ref TenantIssuer
          TENANT_URL: !Sub "https://${TenantIssuer}/api"
          TENANT_AUDIENCE: !If [HasAudience, !Ref TenantAudience, !Ref AWS::NoValue]
          TENANT_JWKS_URL: !Ref AWS::NoValue
          RETRIES: !Ref Retries
          EMPTY: ""
`

// Each variable's example value follows its declaration in the template.
func TestExampleValuesFollowTheTemplate(t *testing.T) {
	p := filepath.Join(t.TempDir(), "template.yaml")
	if err := os.WriteFile(p, []byte(tmpl), 0o644); err != nil {
		t.Fatal(err)
	}
	tm, err := samtemplate.Load(p)
	if err != nil {
		t.Fatal(err)
	}
	out, err := Generate(tm)
	if err != nil {
		t.Fatal(err)
	}
	var file map[string]map[string]string
	if err := json.Unmarshal(out, &file); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	for name, want := range map[string]string{
		"CONFIG_SECRETS":  "",                      // secrets' ARNs: the values are given in plain text
		"JWT_SECRET":      Placeholder,             // a secret ({"JWT_SECRET":"..."})
		"OKX_KEY":         Placeholder,             // a secret ({"OKX_KEY","OKX_PASS"})
		"TOKEN_TTL":       "1h",                    // a literal
		"ENVIRONMENT":     "development",           // the development profile
		"LOG_LEVEL":       "DEBUG",                 // the development profile, over Globals
		"ALLOWED_ORIGINS": "http://localhost:5173", // the development profile, though optional
		"TENANT_ISSUER":   Placeholder,             // a parameter without a default
		"TENANT_URL":      Placeholder,             // … inside a Sub
		"TENANT_AUDIENCE": "",                      // optional (!If … AWS::NoValue)
		"TENANT_JWKS_URL": "",                      // optional (AWS::NoValue)
		"RETRIES":         "3",                     // a parameter's default
		"EMPTY":           "",                      // a literal empty value that is no secret
	} {
		got, ok := file["Bridge"][name]
		if !ok || got != want {
			t.Errorf("%s = %q (declared %v), want %q", name, got, ok, want)
		}
	}
	if len(file["Bridge"]) != 13 {
		t.Errorf("%d variables, want the 13 declared:\n%s", len(file["Bridge"]), out)
	}
}

// A value `make deploy` requires when it picks a function's feature is to be
// filled in that function; the same variable read by another feature's function,
// where it is optional, stays empty.
func TestRequiredDeployAnswersAreToBeFilled(t *testing.T) {
	raw, err := os.ReadFile("../../env.example.json")
	if err != nil {
		t.Fatal(err)
	}
	var file map[string]map[string]string
	if err := json.Unmarshal(raw, &file); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ fn, name, want string }{
		{"TokenAuth0Function", "AUTH0_AUDIENCE", Placeholder},
		{"TokenOidcFunction", "OIDC_AUDIENCE", Placeholder},
		{"X402GatewayFunction", "X402_GATEWAY_ROUTES", Placeholder},
		{"X402PassFunction", "X402_PASS_PRODUCTS", Placeholder},
		{"X402ReportFunction", "X402_GATEWAY_ROUTES", ""},
		{"X402ReportFunction", "X402_PASS_PRODUCTS", ""},
	} {
		if got, ok := file[c.fn][c.name]; !ok || got != c.want {
			t.Errorf("%s %s = %q (declared %v), want %q", c.fn, c.name, got, ok, c.want)
		}
	}
}
