package runner

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/insforge/edge-functions-go/scripts/internal/samtemplate"
)

// Layering follows sam local: template < (dev profile) < shell < env-vars
// Parameters < env-vars function block; only declared variables are passed.
func TestResolveVarsLayering(t *testing.T) {
	f := samtemplate.Function{LogicalID: "Fn", Env: map[string]samtemplate.Var{
		"FROM_TEMPLATE": {Value: "t", Set: true},
		"FROM_PROFILE":  {Value: "t", Set: true},
		"FROM_SHELL":    {Value: "t", Set: true},
		"FROM_GLOBAL":   {Value: "t", Set: true},
		"FROM_FUNCTION": {Value: "t", Set: true},
		"UNSET":         {},
		"EMPTIED":       {Value: "t", Set: true},
	}}
	t.Setenv("FROM_SHELL", "shell")
	t.Setenv("FROM_GLOBAL", "shell")
	t.Setenv("UNDECLARED_SHELL", "x")
	dir := t.TempDir()
	p := filepath.Join(dir, "env.json")
	_ = os.WriteFile(p, []byte(`{"Parameters":{"FROM_GLOBAL":"global","FROM_FUNCTION":"global","UNDECLARED":"x","EMPTIED":""},
		"Fn":{"FROM_FUNCTION":"fn","NUM":5},"Other":{"FROM_TEMPLATE":"other"}}`), 0o644)
	file, err := readEnvVars(p)
	if err != nil {
		t.Fatal(err)
	}
	profile := &devProfile{common: map[string]string{"FROM_PROFILE": "dev", "FROM_SHELL": "dev", "NOT_DECLARED": "dev"},
		provider: map[string]map[string]string{}, skip: map[string]map[string]bool{}, varOwner: map[string]string{}}
	got := resolveVars(f, file, profile)
	want := map[string]string{"FROM_TEMPLATE": "t", "FROM_PROFILE": "dev", "FROM_SHELL": "shell", "FROM_GLOBAL": "global", "FROM_FUNCTION": "fn"}
	if len(got) != len(want) {
		t.Errorf("got %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %q, want %q", k, got[k], v)
		}
	}
}

func TestProviderGroupSkippedWhenDeveloperConfiguresTheRealProvider(t *testing.T) {
	p := &devProfile{common: map[string]string{},
		provider: map[string]map[string]string{"clerk": {"CLERK_ISSUER": "http://127.0.0.1:1/clerk", "CLERK_JWKS_URL": "http://127.0.0.1:1/j"}},
		skip:     map[string]map[string]bool{"Fn": {"clerk": true}, "Other": {}},
		varOwner: map[string]string{"CLERK_ISSUER": "clerk", "CLERK_JWKS_URL": "clerk"}}
	if _, ok := p.value("Fn", "CLERK_JWKS_URL"); ok {
		t.Error("dev JWKS URL applied although the developer configured CLERK_ISSUER")
	}
	if v, ok := p.value("Other", "CLERK_JWKS_URL"); !ok || v != "http://127.0.0.1:1/j" {
		t.Errorf("dev JWKS URL = %q %v for an unconfigured function", v, ok)
	}
}

func TestParseRate(t *testing.T) {
	for expr, want := range map[string]string{"rate(5 minutes)": "5m0s", "rate(1 hour)": "1h0m0s", "rate(2 days)": "48h0m0s",
		"cron(0 * * * ? *)": "", "rate(0 minutes)": "", "rate(5 fortnights)": ""} {
		d, ok := ParseRate(expr)
		got := ""
		if ok {
			got = d.String()
		}
		if got != want {
			t.Errorf("ParseRate(%q) = %q, want %q", expr, got, want)
		}
	}
}

func TestStartRefusesADeclaredFunctionWithoutItsPackage(t *testing.T) {
	dir := t.TempDir()
	tmpl := filepath.Join(dir, "template.yaml")
	_ = os.WriteFile(tmpl, []byte(`AWSTemplateFormatVersion: "2010-09-09"
Transform: AWS::Serverless-2016-10-31
Resources:
  GhostFunction:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: .
      Handler: bootstrap
      Runtime: provided.al2023
    Metadata:
      BuildMethod: makefile
      GoPackage: ./functions/ghost
`), 0o600)
	env, err := Start(context.Background(), Options{Template: tmpl, CacheDir: t.TempDir()})
	if err == nil {
		env.Close()
		t.Fatal("Start succeeded with a function whose package does not exist")
	}
	want := "GhostFunction: Metadata.GoPackage ./functions/ghost does not exist"
	if !strings.Contains(err.Error(), want) {
		t.Fatalf("error %q does not contain %q", err, want)
	}
}
