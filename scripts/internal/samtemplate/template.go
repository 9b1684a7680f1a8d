// Package samtemplate reads the parts of a SAM template.yaml the local runner needs:
// parameters, conditions, Globals.Function and every AWS::Serverless::Function with its
// environment, HttpApi routes and schedules. Intrinsic functions are resolved against
// parameter values the way `sam local` does (Ref, Fn::Sub, Fn::If, Fn::Equals, Fn::Not,
// Fn::And, Fn::Or, Fn::Join, Fn::Select, Condition, pseudo parameters, AWS::NoValue).
package samtemplate

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/insforge/edge-functions-go/scripts/internal/budget"
)

// Template is a parsed template.yaml.
type Template struct {
	Path       string
	Parameters map[string]Parameter
	conditions map[string]any
	globals    map[string]any
	resources  map[string]map[string]any
	order      []string // resource logical ids in file order
}

// Parameter is one entry of the Parameters section.
type Parameter struct {
	Name          string
	Default       *string
	NoEcho        bool
	AllowedValues []string
	Description   string
}

// Function is an AWS::Serverless::Function with its intrinsics resolved.
type Function struct {
	LogicalID     string
	Package       string // Metadata.GoPackage, relative to the template's directory
	BuildMethod   string
	Runtime       string
	Handler       string
	Architectures []string
	MemoryMB      int
	Timeout       time.Duration
	// Env holds every variable declared in Environment.Variables (Globals merged).
	// A variable whose value resolved to AWS::NoValue is declared but not Set.
	Env       map[string]Var
	Routes    []Route
	Schedules []string
}

// Var is a declared environment variable.
type Var struct {
	Value string
	Set   bool
}

// Route is an HttpApi event of a function.
type Route struct {
	Event  string
	Method string // upper case; "ANY" matches every method
	Path   string // /token/workos, /items/{id}, /files/{proxy+}
}

// Load parses the template at path.
func Load(path string) (*Template, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read template: %w", err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		return nil, fmt.Errorf("parse %s: %w", path, err)
	}
	if len(doc.Content) == 0 {
		return nil, fmt.Errorf("parse %s: empty document", path)
	}
	v, err := decode(doc.Content[0])
	if err != nil {
		return nil, fmt.Errorf("parse %s: %w", path, err)
	}
	root, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("parse %s: top level is not a mapping", path)
	}
	t := &Template{Path: path, Parameters: map[string]Parameter{}, resources: map[string]map[string]any{}}
	t.conditions, _ = root["Conditions"].(map[string]any)
	if g, ok := root["Globals"].(map[string]any); ok {
		t.globals, _ = g["Function"].(map[string]any)
	}
	if ps, ok := root["Parameters"].(map[string]any); ok {
		for name, pv := range ps {
			pm, _ := pv.(map[string]any)
			p := Parameter{Name: name}
			if d, ok := pm["Default"]; ok {
				s := scalarString(d)
				p.Default = &s
			}
			p.NoEcho = scalarString(pm["NoEcho"]) == "true"
			p.Description = scalarString(pm["Description"])
			if av, ok := pm["AllowedValues"].([]any); ok {
				for _, a := range av {
					p.AllowedValues = append(p.AllowedValues, scalarString(a))
				}
			}
			t.Parameters[name] = p
		}
	}
	res, _ := root["Resources"].(map[string]any)
	for _, id := range keyOrder(doc.Content[0], "Resources") {
		if r, ok := res[id].(map[string]any); ok {
			t.resources[id] = r
			t.order = append(t.order, id)
		}
	}
	return t, nil
}

// LoadModule loads the template.yaml at the root of the Go module that holds dir;
// the root is the template's Dir.
func LoadModule(dir string) (*Template, error) {
	root, err := budget.ModuleRoot(dir)
	if err != nil {
		return nil, err
	}
	return Load(filepath.Join(root, "template.yaml"))
}

// LoadFunctions parses the template at path and resolves its functions against
// the parameters' defaults (what a plain deploy, the runner and the tests see).
func LoadFunctions(path string) (*Template, []Function, error) {
	t, err := Load(path)
	if err != nil {
		return nil, nil, err
	}
	vals, _, err := t.ParameterValues(nil)
	if err != nil {
		return nil, nil, err
	}
	fns, err := t.Functions(vals)
	return t, fns, err
}

// Dir is the directory the template's relative paths (CodeUri, GoPackage) start from.
func (t *Template) Dir() string { return filepath.Dir(t.Path) }

// ParameterValues merges parameter defaults with overrides and reports the
// parameters that end up without a value. Overrides must name declared parameters
// and respect AllowedValues.
func (t *Template) ParameterValues(overrides map[string]string) (map[string]string, []string, error) {
	vals := map[string]string{}
	var missing []string
	for name, p := range t.Parameters {
		if p.Default != nil {
			vals[name] = *p.Default
		}
	}
	for k, v := range overrides {
		p, ok := t.Parameters[k]
		if !ok {
			return nil, nil, fmt.Errorf("parameter override %s: no such parameter in %s", k, t.Path)
		}
		if len(p.AllowedValues) > 0 && !contains(p.AllowedValues, v) {
			return nil, nil, fmt.Errorf("parameter override %s=%q: allowed values are %s", k, v, strings.Join(p.AllowedValues, ", "))
		}
		vals[k] = v
	}
	for name := range t.Parameters {
		if _, ok := vals[name]; !ok {
			missing = append(missing, name)
		}
	}
	sort.Strings(missing)
	return vals, missing, nil
}

// Functions returns every AWS::Serverless::Function in file order, resolved
// against the given parameter values.
func (t *Template) Functions(params map[string]string) ([]Function, error) {
	r := &resolver{params: params, conditions: t.conditions, evaluating: map[string]bool{}, declared: map[string]bool{}}
	for name := range t.Parameters {
		r.declared[name] = true
	}
	var out []Function
	for _, id := range t.order {
		res := t.resources[id]
		if scalarString(res["Type"]) != "AWS::Serverless::Function" {
			continue
		}
		f, err := t.function(r, id, res)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", id, err)
		}
		out = append(out, f)
	}
	return out, nil
}

func (t *Template) function(r *resolver, id string, res map[string]any) (Function, error) {
	props, _ := res["Properties"].(map[string]any)
	meta, _ := res["Metadata"].(map[string]any)
	get := func(key string) any {
		if v, ok := props[key]; ok {
			return v
		}
		return t.globals[key]
	}
	str := func(key string) (string, error) {
		v, err := r.resolve(get(key))
		if err != nil || v == nil || v == noValue {
			return "", err
		}
		return scalarString(v), nil
	}
	f := Function{LogicalID: id, Env: map[string]Var{}}
	f.Package = scalarString(meta["GoPackage"])
	f.BuildMethod = scalarString(meta["BuildMethod"])
	var err error
	if f.Runtime, err = str("Runtime"); err != nil {
		return f, err
	}
	if f.Handler, err = str("Handler"); err != nil {
		return f, err
	}
	if av, err := r.resolve(get("Architectures")); err == nil {
		if l, ok := av.([]any); ok {
			for _, a := range l {
				f.Architectures = append(f.Architectures, scalarString(a))
			}
		}
	}
	f.MemoryMB = 128
	if s, err := str("MemorySize"); err != nil {
		return f, err
	} else if s != "" {
		if f.MemoryMB, err = strconv.Atoi(s); err != nil {
			return f, fmt.Errorf("MemorySize %q: %w", s, err)
		}
	}
	f.Timeout = 3 * time.Second // Lambda's default
	if s, err := str("Timeout"); err != nil {
		return f, err
	} else if s != "" {
		n, err := strconv.Atoi(s)
		if err != nil {
			return f, fmt.Errorf("Timeout %q: %w", s, err)
		}
		f.Timeout = time.Duration(n) * time.Second
	}
	// Globals and function variables are merged, the function winning (SAM semantics).
	for _, src := range []map[string]any{t.globals, props} {
		envm, _ := src["Environment"].(map[string]any)
		vars, _ := envm["Variables"].(map[string]any)
		for k, v := range vars {
			rv, err := r.resolve(v)
			if err != nil {
				return f, fmt.Errorf("Environment %s: %w", k, err)
			}
			if rv == noValue || rv == nil {
				f.Env[k] = Var{}
				continue
			}
			f.Env[k] = Var{Value: scalarString(rv), Set: true}
		}
	}
	evs, _ := props["Events"].(map[string]any)
	names := make([]string, 0, len(evs))
	for k := range evs {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, name := range names {
		ev, _ := evs[name].(map[string]any)
		ep, _ := ev["Properties"].(map[string]any)
		switch scalarString(ev["Type"]) {
		case "HttpApi":
			m, _ := r.resolve(ep["Method"])
			p, _ := r.resolve(ep["Path"])
			method, path := strings.ToUpper(scalarString(m)), scalarString(p)
			if method == "" || method == "X-AMAZON-APIGATEWAY-ANY-METHOD" {
				method = "ANY"
			}
			if path == "" {
				path = "/{proxy+}" // an HttpApi event without a path is the $default route
			}
			f.Routes = append(f.Routes, Route{Event: name, Method: method, Path: path})
		case "Schedule", "ScheduleV2":
			s, _ := r.resolve(ep["Schedule"])
			if s == nil {
				s, _ = r.resolve(ep["ScheduleExpression"])
			}
			f.Schedules = append(f.Schedules, scalarString(s))
		}
	}
	return f, nil
}

// decode turns a YAML node into plain Go values, expanding CloudFormation's short
// tags (!Ref x → {"Ref": x}, !Sub → {"Fn::Sub"}, !GetAtt a.b → {"Fn::GetAtt": [a, b]}).
func decode(n *yaml.Node) (any, error) {
	var v any
	switch n.Kind {
	case yaml.AliasNode:
		return decode(n.Alias)
	case yaml.MappingNode:
		m := map[string]any{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			val, err := decode(n.Content[i+1])
			if err != nil {
				return nil, err
			}
			m[n.Content[i].Value] = val
		}
		v = m
	case yaml.SequenceNode:
		l := make([]any, 0, len(n.Content))
		for _, c := range n.Content {
			val, err := decode(c)
			if err != nil {
				return nil, err
			}
			l = append(l, val)
		}
		v = l
	case yaml.ScalarNode:
		if n.Tag == "!!null" {
			v = nil
		} else {
			v = n.Value
		}
	default:
		return nil, fmt.Errorf("line %d: unsupported YAML node", n.Line)
	}
	if !strings.HasPrefix(n.Tag, "!") || strings.HasPrefix(n.Tag, "!!") {
		return v, nil
	}
	name := strings.TrimPrefix(n.Tag, "!")
	switch name {
	case "Ref", "Condition":
		return map[string]any{name: v}, nil
	case "GetAtt":
		if s, ok := v.(string); ok {
			parts := strings.SplitN(s, ".", 2)
			l := make([]any, len(parts))
			for i, p := range parts {
				l[i] = p
			}
			v = l
		}
	}
	return map[string]any{"Fn::" + name: v}, nil
}

// keyOrder returns the keys of the mapping under key, in file order.
func keyOrder(root *yaml.Node, key string) []string {
	for i := 0; i+1 < len(root.Content); i += 2 {
		if root.Content[i].Value == key && root.Content[i+1].Kind == yaml.MappingNode {
			var out []string
			m := root.Content[i+1]
			for j := 0; j+1 < len(m.Content); j += 2 {
				out = append(out, m.Content[j].Value)
			}
			return out
		}
	}
	return nil
}

func scalarString(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case bool:
		return strconv.FormatBool(x)
	default:
		return fmt.Sprint(x)
	}
}

func contains(l []string, s string) bool {
	for _, x := range l {
		if x == s {
			return true
		}
	}
	return false
}
