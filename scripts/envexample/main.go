// Command envexample writes env.example.json from template.yaml: one block per
// function holding exactly the variables the function declares, for
// `sam local --env-vars` and `make dev DEV_ARGS="--no-dev --env-vars env.json"`
// (docs/local-dev.md). A test keeps the checked-in file equal to its output.
//
//	go run ./scripts/envexample             # make env-example
//
// Each value comes from the template, read the way a local run needs it:
//   - a variable the local development profile sets (dev, below) gets that value;
//   - a secret (a variable a *SecretArn parameter's description names) is
//     REPLACE_ME, and the variable listing the secrets' ARNs is empty (locally
//     the secrets are given in plain text);
//   - a variable fed unconditionally by a parameter without a default (the
//     provider's issuer, the payment recipient, …), or by a parameter `make deploy`
//     asks for without offering to skip it when it picks the function's feature
//     (scripts/internal/deployplan: an audience, the gateway's routes), is
//     REPLACE_ME, to be filled;
//   - an optional variable (!Ref AWS::NoValue, or a parameter under an !If) is
//     empty, and every other one is its value in the template.
//
// REPLACE_ME left in place fails that function's cold start naming the variable.
package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"regexp"
	"sort"
	"strings"

	"github.com/insforge/edge-functions-go/scripts/internal/deployplan"
	"github.com/insforge/edge-functions-go/scripts/internal/samtemplate"
)

// Placeholder marks a value only the operator has.
const Placeholder = "REPLACE_ME"

// dev is the local development profile: what template.yaml deliberately sets
// for production only (it never switches the mock facilitator on), set for a
// local run instead.
var dev = map[string]string{
	"ENVIRONMENT":          "development",
	"MOCK_OKX_FACILITATOR": "true",
	"LOG_LEVEL":            "DEBUG",
	"ALLOWED_ORIGINS":      "http://localhost:5173", // a local SPA (Vite's default port)
}

func main() {
	tmpl := flag.String("template", "template.yaml", "the SAM template")
	out := flag.String("out", "env.example.json", "the file to write")
	flag.Parse()
	if err := run(*tmpl, *out); err != nil {
		fmt.Fprintln(os.Stderr, "envexample:", err)
		os.Exit(1)
	}
}

func run(tmplPath, out string) error {
	t, err := samtemplate.Load(tmplPath)
	if err != nil {
		return err
	}
	b, err := Generate(t)
	if err != nil {
		return err
	}
	return os.WriteFile(out, b, 0o644)
}

// Generate renders env.example.json for t.
func Generate(t *samtemplate.Template) ([]byte, error) {
	// Resolve the parameters without a default to markers, so a variable that one
	// feeds is recognised whatever the template does with it (Ref, Sub, If, Join).
	markers := map[string]string{}
	for name, p := range t.Parameters {
		if p.Default == nil || *p.Default == "" {
			markers[name] = "\x00param:" + name + "\x00"
		}
	}
	plain, err := functions(t, nil)
	if err != nil {
		return nil, err
	}
	marked, err := functions(t, markers)
	if err != nil {
		return nil, err
	}
	secrets := secretVars(t)
	cond := map[string]string{}
	for _, r := range t.Resources() {
		cond[r.ID] = r.Condition
	}
	var b bytes.Buffer
	b.WriteString("{\n")
	for i, f := range plain {
		fmt.Fprintf(&b, "  %s: {\n", quote(f.LogicalID))
		names := make([]string, 0, len(f.Env))
		for name := range f.Env {
			names = append(names, name)
		}
		sort.Strings(names)
		for j, name := range names {
			v := example(name, f.Env[name], marked[i].Env[name].Value, secrets, required[cond[f.LogicalID]])
			fmt.Fprintf(&b, "    %s: %s%s\n", quote(name), quote(v), comma(j, len(names)))
		}
		fmt.Fprintf(&b, "  }%s\n", comma(i, len(plain)))
	}
	b.WriteString("}\n")
	return b.Bytes(), nil
}

// functions resolves t's functions with the parameters' defaults and overrides.
func functions(t *samtemplate.Template, overrides map[string]string) ([]samtemplate.Function, error) {
	vals, _, err := t.ParameterValues(overrides)
	if err != nil {
		return nil, err
	}
	return t.Functions(vals)
}

// example is the value of one variable: plain is how it resolves with the
// parameters' defaults, marked how it resolves with the defaultless ones marked.
func example(name string, plain samtemplate.Var, marked string, secrets, asked map[string]bool) string {
	switch {
	case dev[name] != "":
		return dev[name]
	case secrets[name]:
		return Placeholder
	case strings.Contains(marked, "SecretArn\x00"):
		return "" // the secrets' ARNs: locally their values are given in plain text
	case fedBy(marked, asked):
		return Placeholder
	case !plain.Set:
		return "" // optional: unset when deployed without it
	case strings.Contains(marked, "\x00param:"):
		return Placeholder
	}
	return plain.Value
}

// required maps a feature's Condition to the parameters `make deploy` asks for
// without offering to skip them when it picks the feature.
var required = func() map[string]map[string]bool {
	out := map[string]map[string]bool{}
	for _, f := range deployplan.Features {
		out[f.Condition] = map[string]bool{}
		for _, q := range f.Questions {
			if !q.Optional && !strings.HasPrefix(q.Key, "secret:") {
				out[f.Condition][q.Key] = true
			}
		}
	}
	return out
}()

// fedBy reports whether marked (a value resolved with the defaultless parameters
// marked) is fed by one of params.
func fedBy(marked string, params map[string]bool) bool {
	for name := range params {
		if strings.Contains(marked, "\x00param:"+name+"\x00") {
			return true
		}
	}
	return false
}

// secretVars lists the variables the *SecretArn parameters' secrets hold, as
// their descriptions name them ({"VARIABLE":"...", …}).
func secretVars(t *samtemplate.Template) map[string]bool {
	out := map[string]bool{}
	key := regexp.MustCompile(`"([A-Z][A-Z0-9_]+)"`)
	for name, p := range t.Parameters {
		if strings.HasSuffix(name, "SecretArn") {
			for _, m := range key.FindAllStringSubmatch(p.Description, -1) {
				out[m[1]] = true
			}
		}
	}
	return out
}

func quote(s string) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s) // a string always encodes
	return strings.TrimSuffix(b.String(), "\n")
}

func comma(i, n int) string {
	if i < n-1 {
		return ","
	}
	return ""
}
