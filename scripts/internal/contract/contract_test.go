package contract

import (
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"gopkg.in/yaml.v3"

	"github.com/insforge/edge-functions-go/scripts/internal/samtemplate"
	"github.com/insforge/edge-functions-go/shared/httpapi"
	"github.com/insforge/edge-functions-go/shared/httpapi/openapitest"
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

type pathParam struct {
	Name     string `yaml:"name"`
	In       string `yaml:"in"`
	Required bool   `yaml:"required"`
	Schema   struct {
		Pattern string `yaml:"pattern"`
	} `yaml:"schema"`
}

// parameterErrors checks the segments of route (a concrete path) that template
// (a path of the spec serving it) names as {parameters}: each is declared as a
// required path parameter of the path item, and matches its schema's pattern.
func (s *spec) parameterErrors(template, route string) []error {
	var params []pathParam
	if n, ok := s.Paths[template]["parameters"]; ok {
		if err := n.Decode(&params); err != nil {
			return []error{fmt.Errorf("%s: parameters: %w", template, err)}
		}
	}
	var errs []error
	segs, values := strings.Split(template, "/"), strings.Split(route, "/")
	for i, seg := range segs {
		name, ok := strings.CutPrefix(seg, "{")
		if !ok || values[i] == seg {
			continue // a literal segment, or a SAM route written with the same parameter
		}
		name = strings.TrimSuffix(name, "}")
		idx := slices.IndexFunc(params, func(p pathParam) bool { return p.Name == name && p.In == "path" })
		if idx < 0 || !params[idx].Required {
			errs = append(errs, fmt.Errorf("%s: {%s} is not declared as a required path parameter of the path", template, name))
			continue
		}
		if pat := params[idx].Schema.Pattern; pat != "" {
			re, err := regexp.Compile(pat)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s: {%s}: pattern %q: %w", template, name, pat, err))
			} else if !re.MatchString(values[i]) {
				errs = append(errs, fmt.Errorf("served by %s, but %q does not match {%s}'s pattern %s", template, values[i], name, pat))
			}
		}
	}
	return errs
}

var httpMethods = []string{"get", "put", "post", "delete", "options", "head", "patch", "trace"}

// specPathOf turns a SAM route path into its OpenAPI form: API Gateway's greedy
// {proxy+} is {proxy} in OpenAPI (which has no greedy parameters).
func specPathOf(samPath string) string { return strings.ReplaceAll(samPath, "+}", "}") }

// Every route of template.yaml is described in docs/openapi.yaml, and every path
// there is a route. A route is served by its own path, else by a templated one
// (/token/{provider}), concrete before templated as OpenAPI resolves them, and
// its value of each path parameter matches the parameter's pattern. A route with
// a fixed method must have that operation; an ANY route at least one.
func TestEveryTemplateRouteIsInTheSpecAndEverySpecPathIsARoute(t *testing.T) {
	_, fns, err := samtemplate.LoadFunctions("../../../template.yaml")
	if err != nil {
		t.Fatal(err)
	}
	s := loadSpec(t)
	paths := slices.Collect(maps.Keys(s.Paths))
	routes := map[string]bool{}
	for _, f := range fns {
		for _, r := range f.Routes {
			p, ok := openapitest.Match(paths, specPathOf(r.Path))
			if !ok {
				t.Errorf("%s %s (%s) is not in docs/openapi.yaml", r.Method, r.Path, f.LogicalID)
				continue
			}
			routes[p] = true
			for _, err := range s.parameterErrors(p, specPathOf(r.Path)) {
				t.Errorf("%s %s (%s): %v", r.Method, r.Path, f.LogicalID, err)
			}
			ops := s.Paths[p]
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

// A bridge without a path of its own (a plain bearer-JWT provider) is served by
// the templated /token/{provider}: its sample events are requests the validator
// resolves there, so a new plain provider needs no edit of docs/openapi.yaml. A
// path no template serves (one segment too deep, another prefix) still fails.
func TestPlainProviderEventsAreServedByTheTemplatedPathAndUnknownPathsAreNot(t *testing.T) {
	_, fns, err := samtemplate.LoadFunctions("../../../template.yaml")
	if err != nil {
		t.Fatal(err)
	}
	paths := slices.Collect(maps.Keys(loadSpec(t).Paths))
	header := http.Header{"Content-Type": {"application/json"}, "Cache-Control": {"no-store"}}
	documented := []byte(`{"error":"invalid_request","message":"m"}`) // a 400 every token bridge operation documents
	templated := 0
	for _, f := range fns {
		for _, r := range f.Routes {
			route := specPathOf(r.Path)
			p, ok := openapitest.Match(paths, route)
			if !ok || p == route {
				continue
			}
			templated++
			files, _ := filepath.Glob("../../../events/" + f.Dir() + "-*.json")
			if len(files) == 0 {
				t.Errorf("%s (%s) has no sample events", route, f.LogicalID)
			}
			for _, file := range files {
				raw, err := os.ReadFile(file)
				if err != nil {
					t.Fatal(err)
				}
				var ev events.APIGatewayV2HTTPRequest
				if err := json.Unmarshal(raw, &ev); err != nil {
					t.Fatalf("%s: %v", file, err)
				}
				req := httptest.NewRequest(ev.RequestContext.HTTP.Method, "http://localhost:3000"+ev.RawPath, nil)
				for k, v := range ev.Headers {
					req.Header.Set(k, v)
				}
				if err := openapitest.Validate(t, req, http.StatusBadRequest, header, documented); err != nil {
					t.Errorf("%s, served by %s: %v", filepath.Base(file), p, err)
				}
			}
			for _, unknown := range []string{route + "/extra", strings.Replace(route, "/token/", "/tokens/", 1)} {
				if got, ok := openapitest.Match(paths, unknown); ok {
					t.Errorf("%s is served by %s; want no path", unknown, got)
				}
				req := httptest.NewRequest(http.MethodPost, "http://localhost:3000"+unknown, nil)
				if openapitest.Validate(t, req, http.StatusBadRequest, header, documented) == nil {
					t.Errorf("POST %s validated against docs/openapi.yaml; want no path found", unknown)
				}
			}
		}
	}
	if templated == 0 {
		t.Fatal("no route of template.yaml is served by a templated path")
	}
}
