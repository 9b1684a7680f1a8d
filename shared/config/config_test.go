package config

import (
	"errors"
	"os"
	"slices"
	"strings"
	"testing"
)

type spec struct {
	Name  string `envconfig:"TEST_CFG_NAME" required:"true"`
	List  CSV    `envconfig:"TEST_CFG_LIST"`
	fails bool
}

func (s *spec) Validate() error {
	if s.Name == "bad" {
		return errors.New("TEST_CFG_NAME must not be bad")
	}
	return nil
}

func TestLoad(t *testing.T) {
	cases := []struct {
		name    string
		env     map[string]string
		wantErr string
		want    []string
	}{
		{"missing required names the variable", map[string]string{}, "TEST_CFG_NAME", nil},
		{"validate runs", map[string]string{"TEST_CFG_NAME": "bad"}, "must not be bad", nil},
		{"csv trims and drops empties", map[string]string{"TEST_CFG_NAME": "ok", "TEST_CFG_LIST": " a, b ,,c "}, "", []string{"a", "b", "c"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Setenv("TEST_CFG_NAME", "")
			t.Setenv("TEST_CFG_LIST", "")
			for k, v := range c.env {
				t.Setenv(k, v)
			}
			var s spec
			err := Load(&s)
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) {
					t.Fatalf("err = %v, want %q", err, c.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if strings.Join(s.List, "|") != strings.Join(c.want, "|") {
				t.Fatalf("list = %q", s.List)
			}
		})
	}
}

func TestCheckURL(t *testing.T) {
	cases := []struct {
		raw string
		ok  bool
	}{
		{"https://api.workos.com/sso/jwks/x", true},
		{"http://127.0.0.1:8080/jwks", true},
		{"http://localhost:3000", true},
		{"http://[::1]:3000", true},
		{"http://example.com/jwks", false},
		{"ftp://example.com", false},
		{"/relative", false},
		{"", false},
		{"https://", false},
	}
	for _, c := range cases {
		_, err := CheckURL("X_URL", c.raw)
		if (err == nil) != c.ok {
			t.Errorf("CheckURL(%q) err = %v, want ok=%v", c.raw, err, c.ok)
		}
		if err != nil && !strings.Contains(err.Error(), "X_URL") {
			t.Errorf("error does not name the variable: %v", err)
		}
	}
}

// RPC and API URLs carry provider keys in their path, query or user info: a
// refused URL is never repeated, whole or in part, nor is url.Parse's error
// (which quotes its input).
func TestCheckURLNeverRepeatsTheValue(t *testing.T) {
	const key = "k3y-0f-the-provider"
	for _, raw := range []string{
		"http://rpc.example.com/v1/" + key,                  // plain http to a public host
		"http://user:" + key + "@rpc.example.com/",          // user info
		"ftp://rpc.example.com/?apikey=" + key,              // wrong scheme, key in the query
		"rpc.example.com/" + key,                            // not absolute
		"https://rpc.example.com/%zz" + key,                 // does not parse
		"https://rpc.example.com:port" + key + "/",          // bad port
		"wss://xlayer.example.com/" + key + "?token=" + key, // websocket scheme
	} {
		_, err := CheckURL("XLAYER_RPC_URL", raw)
		var ve *VarError
		if !errors.As(err, &ve) || ve.Var != "XLAYER_RPC_URL" {
			t.Fatalf("CheckURL accepted or mis-typed a bad URL: %v", err)
		}
		for _, part := range []string{key, "rpc.example.com", "xlayer.example.com"} {
			if strings.Contains(err.Error(), part) {
				t.Errorf("the message repeats %q of the value: %v", part, err)
			}
		}
	}
}

func TestEnvironmentDefaultsToProduction(t *testing.T) {
	t.Setenv("ENVIRONMENT", "")
	var e Environment
	if err := Load(&e); err != nil {
		t.Fatal(err)
	}
	if !e.IsProduction() {
		t.Fatal("unset ENVIRONMENT must mean production")
	}
	for name, prod := range map[string]bool{"production": true, "Prod": true, "development": false, "staging": false} {
		if (Environment{Name: name}).IsProduction() != prod {
			t.Errorf("%s", name)
		}
	}
}

func TestCheckOriginsAcceptsOnlyExactOrigins(t *testing.T) {
	good := [][]string{
		nil,
		{"*"},
		{"https://app.example.com"},
		{"https://app.example.com", "http://localhost:5173", "http://127.0.0.1:8080", "http://[::1]:3000"},
	}
	for _, g := range good {
		if err := CheckOrigins("ALLOWED_ORIGINS", g); err != nil {
			t.Errorf("%q: %v", g, err)
		}
	}
	bad := []struct {
		name    string
		origins []string
	}{
		{"null", []string{"null"}},
		{"NULL", []string{"https://app.example.com", "NULL"}},
		{"star with others", []string{"*", "https://app.example.com"}},
		{"star after others", []string{"https://app.example.com", "*"}},
		{"path", []string{"https://app.example.com/app"}},
		{"trailing slash", []string{"https://app.example.com/"}},
		{"query", []string{"https://app.example.com?x=1"}},
		{"empty query", []string{"https://app.example.com?"}},
		{"fragment", []string{"https://app.example.com#x"}},
		{"empty fragment", []string{"https://app.example.com#"}},
		{"no scheme", []string{"app.example.com"}},
		{"ftp scheme", []string{"ftp://app.example.com"}},
		{"file scheme", []string{"file://"}},
		{"user info", []string{"https://user@app.example.com"}},
		{"wildcard host", []string{"https://*.example.com"}},
		{"upper case", []string{"https://App.example.com"}},
		{"default https port", []string{"https://app.example.com:443"}},
		{"default http port", []string{"http://localhost:80"}},
		{"port zero", []string{"http://localhost:0"}},
		{"port too large", []string{"http://localhost:70000"}},
		{"port with leading zero", []string{"http://localhost:08080"}},
		{"junk", []string{"not an origin"}},
	}
	for _, b := range bad {
		t.Run(b.name, func(t *testing.T) {
			err := CheckOrigins("ALLOWED_ORIGINS", b.origins)
			if err == nil || !strings.Contains(err.Error(), "ALLOWED_ORIGINS") {
				t.Fatalf("err = %v, want a refusal naming ALLOWED_ORIGINS", err)
			}
			for _, o := range b.origins {
				if len(o) > 4 && strings.Contains(err.Error(), o) {
					t.Fatalf("the message repeats the value %q: %v", o, err)
				}
			}
		})
	}
}

// Configuration errors are typed: the variable is in VarError.Var, so callers
// never match on text; a value that does not parse is not repeated.
func TestLoadErrorsAreVarErrors(t *testing.T) {
	var typed struct {
		N int    `envconfig:"TEST_CFG_N"`
		S string `envconfig:"TEST_CFG_NAME" required:"true"`
	}
	cases := []struct {
		name, n, s, want, text string
	}{
		{"required missing", "", "", "TEST_CFG_NAME", "required key TEST_CFG_NAME missing value"},
		{"not a number", "twelve-secret-words", "x", "TEST_CFG_N", "assigning TEST_CFG_N to N: not a valid int"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Setenv("TEST_CFG_N", c.n)
			t.Setenv("TEST_CFG_NAME", c.s)
			err := Load(&typed)
			var ve *VarError
			if !errors.As(err, &ve) || ve.Var != c.want || ve.Error() != c.text {
				t.Fatalf("err = %v, want a VarError for %s reading %q", err, c.want, c.text)
			}
			if strings.Contains(err.Error(), "twelve") {
				t.Fatalf("the value is repeated: %v", err)
			}
		})
	}
	if err := Invalid("TOKEN_TTL", "must be between %s and %s", "5m", "24h"); err.Error() != `TOKEN_TTL must be between 5m and 24h` {
		t.Fatalf("Invalid = %q", err)
	}
	var ve *VarError
	if err := CheckOrigins("ALLOWED_ORIGINS", []string{"null"}); !errors.As(err, &ve) || ve.Var != "ALLOWED_ORIGINS" {
		t.Fatalf("CheckOrigins err = %v", err)
	}
	if _, err := CheckURL("X_URL", "ftp://x"); !errors.As(err, &ve) || ve.Var != "X_URL" {
		t.Fatalf("CheckURL err = %v", err)
	}
}

// Several specs are all loaded and all their errors reported.
func TestLoadJoinsTheErrorsOfEverySpec(t *testing.T) {
	t.Setenv("TEST_CFG_NAME", "")
	t.Setenv("TEST_SEC_KEY", "")
	t.Setenv(SecretsVar, "")
	var a spec
	var b secretSpec
	err := Load(&a, &b)
	if err == nil || !strings.HasPrefix(err.Error(), "configuration: ") ||
		!strings.Contains(err.Error(), "TEST_CFG_NAME") || !strings.Contains(err.Error(), "TEST_SEC_KEY") {
		t.Fatalf("err = %v, want both variables named", err)
	}
}

// Load reads the process environment and never writes it: not the empty
// variables it treats as unset, not the secrets it resolves.
func TestLoadLeavesTheProcessEnvironmentAlone(t *testing.T) {
	_, _, env := keySecret(t, "fn/environ")
	env["TEST_CFG_LIST"] = ""
	env["TEST_CFG_NAME"] = "ok"
	setEnv(t, env)

	before := os.Environ()
	var s secretSpec
	var plain spec
	if err := Load(&s, &plain); err != nil {
		t.Fatal(err)
	}
	if s.Key != keyValue || plain.Name != "ok" {
		t.Fatalf("Load did not fill the specs: %+v %+v", s, plain)
	}
	after := os.Environ()
	slices.Sort(before)
	slices.Sort(after)
	if !slices.Equal(before, after) {
		t.Fatalf("Load changed the process environment:\nbefore %d variables\nafter  %d variables", len(before), len(after))
	}
	if _, ok := os.LookupEnv("TEST_CFG_LIST"); !ok {
		t.Fatal("an empty variable was unset")
	}
}

// Fill exposes the filler to the external tests that compare it with envconfig.
func Fill(spec any, lookup func(string) (string, bool)) error { return fill(spec, lookup) }
