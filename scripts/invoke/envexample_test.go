package main

import (
	"encoding/json"
	"os"
	"sort"
	"strings"
	"testing"

	"github.com/insforge/edge-functions-go/scripts/internal/samtemplate"
)

// env.example.json (for `sam local --env-vars` and `make dev DEV_ARGS=--env-vars`)
// has one block per function of template.yaml holding exactly the variables that
// function declares, and every variable fed by a NoEcho parameter is a placeholder.
func TestEnvExampleCoversExactlyTheTemplateVariables(t *testing.T) {
	tm, err := samtemplate.Load("../../template.yaml")
	if err != nil {
		t.Fatal(err)
	}
	// Resolve NoEcho parameters to markers, so a variable that carries a secret is
	// recognised whatever the template does with it (Ref, Sub, If).
	markers := map[string]string{}
	for name, p := range tm.Parameters {
		if p.NoEcho {
			markers[name] = "\x00secret:" + name + "\x00"
		}
	}
	vals, _, err := tm.ParameterValues(markers)
	if err != nil {
		t.Fatal(err)
	}
	fns, err := tm.Functions(vals)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile("../../env.example.json")
	if err != nil {
		t.Fatal(err)
	}
	var file map[string]map[string]any
	if err := json.Unmarshal(raw, &file); err != nil {
		t.Fatalf("env.example.json is not {\"<LogicalId>\": {\"VAR\": \"value\"}}: %v", err)
	}
	declared := map[string]bool{}
	for _, f := range fns {
		declared[f.LogicalID] = true
		block, ok := file[f.LogicalID]
		if !ok {
			t.Errorf("env.example.json has no block for %s", f.LogicalID)
			continue
		}
		var missing, extra []string
		for name, v := range f.Env {
			got, ok := block[name]
			if !ok {
				missing = append(missing, name)
				continue
			}
			s, isString := got.(string)
			if !isString {
				t.Errorf("%s.%s: %v is not a string", f.LogicalID, name, got)
			}
			if strings.Contains(v.Value, "\x00secret:") && s != "REPLACE_ME" {
				t.Errorf("%s.%s carries a secret: its example value must be the placeholder REPLACE_ME", f.LogicalID, name)
			}
		}
		for name := range block {
			if _, ok := f.Env[name]; !ok {
				extra = append(extra, name)
			}
		}
		sort.Strings(missing)
		sort.Strings(extra)
		if len(missing) > 0 {
			t.Errorf("%s: env.example.json lacks %s", f.LogicalID, strings.Join(missing, ", "))
		}
		if len(extra) > 0 {
			t.Errorf("%s: env.example.json has %s, which template.yaml does not declare", f.LogicalID, strings.Join(extra, ", "))
		}
	}
	for id := range file {
		if !declared[id] {
			t.Errorf("env.example.json has a block %q that is no function of template.yaml", id)
		}
	}
}
