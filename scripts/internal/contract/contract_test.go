package contract

import (
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/insforge/edge-functions-go/scripts/internal/samtemplate"
	"github.com/insforge/edge-functions-go/shared/httpapi"
)

const specPath = "../../../docs/openapi.yaml"

type spec struct {
	Paths      map[string]map[string]yaml.Node `yaml:"paths"`
	Components struct {
		Responses map[string]response `yaml:"responses"`
	} `yaml:"components"`
}

type response struct {
	Ref        string   `yaml:"$ref"`
	ErrorCodes []string `yaml:"x-error-codes"`
	Content    map[string]struct {
		Schema struct {
			Properties map[string]struct {
				Enum []string `yaml:"enum"`
			} `yaml:"properties"`
		} `yaml:"schema"`
	} `yaml:"content"`
}

func loadSpec(t *testing.T) *spec {
	t.Helper()
	raw, err := os.ReadFile(specPath)
	if err != nil {
		t.Fatal(err)
	}
	var s spec
	if err := yaml.Unmarshal(raw, &s); err != nil {
		t.Fatal(err)
	}
	return &s
}

var httpMethods = []string{"get", "put", "post", "delete", "options", "head", "patch", "trace"}

// specPathOf turns a SAM route path into its OpenAPI form: API Gateway's greedy
// {proxy+} is {proxy} in OpenAPI (which has no greedy parameters).
func specPathOf(samPath string) string { return strings.ReplaceAll(samPath, "+}", "}") }

// Every route of template.yaml is described in docs/openapi.yaml, and every path
// there is a route. A route with a fixed method must have that operation; an ANY
// route at least one.
func TestEveryTemplateRouteIsInTheSpecAndEverySpecPathIsARoute(t *testing.T) {
	_, fns, err := samtemplate.LoadFunctions("../../../template.yaml")
	if err != nil {
		t.Fatal(err)
	}
	s := loadSpec(t)
	routes := map[string]bool{}
	for _, f := range fns {
		for _, r := range f.Routes {
			p := specPathOf(r.Path)
			routes[p] = true
			ops, ok := s.Paths[p]
			if !ok {
				t.Errorf("%s %s (%s) is not in docs/openapi.yaml", r.Method, r.Path, f.LogicalID)
				continue
			}
			if r.Method == "ANY" {
				if !slices.ContainsFunc(httpMethods, func(m string) bool { _, ok := ops[m]; return ok }) {
					t.Errorf("ANY %s: docs/openapi.yaml describes no operation", r.Path)
				}
				continue
			}
			if _, ok := ops[strings.ToLower(r.Method)]; !ok {
				t.Errorf("%s %s: docs/openapi.yaml has no %s operation", r.Method, r.Path, strings.ToLower(r.Method))
			}
		}
	}
	if len(routes) == 0 {
		t.Fatal("no routes read from template.yaml")
	}
	for p, ops := range s.Paths {
		if !routes[p] {
			t.Errorf("docs/openapi.yaml describes %s, which is not a route of template.yaml", p)
		}
		for m := range ops {
			if !slices.Contains(httpMethods, m) && !strings.HasPrefix(m, "x-") && m != "parameters" && m != "summary" && m != "description" {
				t.Errorf("%s: unexpected key %q", p, m)
			}
		}
	}
}

// The error codes in docs/openapi.yaml, with the status of the response they are
// listed under, are exactly httpapi.Codes() (the only codes a function can
// answer with: a call site names one of its values).
func TestSpecErrorCodesAreExactlyTheCodeTable(t *testing.T) {
	s := loadSpec(t)
	inSpec := map[string]map[int]bool{} // code → statuses
	for p, ops := range s.Paths {
		for m, node := range ops {
			if !slices.Contains(httpMethods, m) {
				continue
			}
			var op struct {
				Responses map[string]response `yaml:"responses"`
			}
			if err := node.Decode(&op); err != nil {
				t.Fatalf("%s %s: %v", m, p, err)
			}
			for st, res := range op.Responses {
				if len(st) == 3 && strings.HasSuffix(st, "XX") && st[0] >= '1' && st[0] <= '5' {
					// A status range describes relayed answers (the gateway's upstream):
					// never one of our own error codes.
					if res.Ref != "" || len(res.Content) > 0 {
						t.Errorf("%s %s: range %s must be a plain description, not our own error shape", m, p, st)
					}
					continue
				}
				status, err := strconv.Atoi(st)
				if err != nil {
					t.Errorf("%s %s: status %q is neither a number nor a range", m, p, st)
					continue
				}
				if res.Ref != "" {
					name := strings.TrimPrefix(res.Ref, "#/components/responses/")
					r, ok := s.Components.Responses[name]
					if !ok {
						t.Errorf("%s %s %d: unknown %s", m, p, status, res.Ref)
						continue
					}
					res = r
				}
				codes := slices.Clone(res.ErrorCodes)
				for _, c := range res.Content {
					codes = append(codes, c.Schema.Properties["error"].Enum...)
				}
				if status >= 400 && status != 402 && len(codes) == 0 && len(res.Content) > 0 {
					t.Errorf("%s %s %d: an error response without its codes", m, p, status)
				}
				for _, c := range codes {
					if inSpec[c] == nil {
						inSpec[c] = map[int]bool{}
					}
					inSpec[c][status] = true
				}
			}
		}
	}
	table := httpapi.Codes()
	for code, c := range table {
		if !inSpec[code][c.Status()] {
			t.Errorf("code %q (%d) of httpapi.Codes() is not documented under a %d response in docs/openapi.yaml", code, c.Status(), c.Status())
		}
	}
	for code, statuses := range inSpec {
		c, ok := table[code]
		for st := range statuses {
			switch {
			case !ok:
				t.Errorf("docs/openapi.yaml lists %q (%d), which is not in httpapi.Codes()", code, st)
			case st != c.Status():
				t.Errorf("docs/openapi.yaml lists %q under %d; httpapi.Codes() says %d", code, st, c.Status())
			}
		}
	}
	if len(inSpec) == 0 {
		t.Fatal(fmt.Sprint("no error codes read from ", specPath))
	}
}
