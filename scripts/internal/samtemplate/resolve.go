package samtemplate

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// noValue is what AWS::NoValue resolves to: the property (or variable) is removed.
var noValue = &struct{ name string }{"AWS::NoValue"}

// Pseudo parameters as `sam local` reports them when no AWS account is involved.
var pseudo = map[string]string{
	"AWS::Region":    "us-east-1",
	"AWS::AccountId": "123456789012",
	"AWS::Partition": "aws",
	"AWS::URLSuffix": "amazonaws.com",
	"AWS::StackName": "local",
	"AWS::StackId":   "arn:aws:cloudformation:us-east-1:123456789012:stack/local/00000000-0000-0000-0000-000000000000",
}

type resolver struct {
	params     map[string]string
	conditions map[string]any
	evaluating map[string]bool
	declared   map[string]bool // parameter names, with or without a value
}

// resolve evaluates intrinsic functions in v. References the runner cannot know
// (resource attributes) resolve to "", as in `sam local`.
func (r *resolver) resolve(v any) (any, error) {
	switch x := v.(type) {
	case []any:
		out := make([]any, 0, len(x))
		for _, e := range x {
			rv, err := r.resolve(e)
			if err != nil {
				return nil, err
			}
			if rv != noValue {
				out = append(out, rv)
			}
		}
		return out, nil
	case map[string]any:
		if len(x) == 1 {
			for k, arg := range x {
				if k == "Ref" || k == "Condition" || strings.HasPrefix(k, "Fn::") {
					return r.intrinsic(k, arg)
				}
			}
		}
		out := map[string]any{}
		for k, e := range x {
			rv, err := r.resolve(e)
			if err != nil {
				return nil, err
			}
			if rv != noValue {
				out[k] = rv
			}
		}
		return out, nil
	}
	return v, nil
}

func (r *resolver) intrinsic(name string, arg any) (any, error) {
	switch name {
	case "Ref":
		s := scalarString(arg)
		if s == "AWS::NoValue" {
			return noValue, nil
		}
		if v, ok := r.params[s]; ok {
			return v, nil
		}
		if v, ok := pseudo[s]; ok {
			return v, nil
		}
		if r.declared[s] {
			// A parameter with neither default nor override: leave the variable unset so
			// the function reports the missing setting by its own name.
			return noValue, nil
		}
		return "", nil // a resource: its physical id is unknown locally
	case "Condition":
		b, err := r.condition(scalarString(arg))
		return b, err
	case "Fn::If":
		l, ok := arg.([]any)
		if !ok || len(l) != 3 {
			return nil, fmt.Errorf("Fn::If needs [condition, then, else]")
		}
		b, err := r.condition(scalarString(l[0]))
		if err != nil {
			return nil, err
		}
		if b {
			return r.resolve(l[1])
		}
		return r.resolve(l[2])
	case "Fn::Equals":
		l, err := r.list(arg, 2, name)
		if err != nil {
			return nil, err
		}
		return scalarString(l[0]) == scalarString(l[1]), nil
	case "Fn::Not":
		l, err := r.list(arg, 1, name)
		if err != nil {
			return nil, err
		}
		b, err := truth(l[0])
		return !b, err
	case "Fn::And", "Fn::Or":
		l, err := r.list(arg, -1, name)
		if err != nil {
			return nil, err
		}
		and := name == "Fn::And"
		for _, e := range l {
			b, err := truth(e)
			if err != nil {
				return nil, err
			}
			if and && !b {
				return false, nil
			}
			if !and && b {
				return true, nil
			}
		}
		return and, nil
	case "Fn::Sub":
		return r.sub(arg)
	case "Fn::Join":
		l, err := r.list(arg, 2, name)
		if err != nil {
			return nil, err
		}
		items, _ := l[1].([]any)
		parts := make([]string, len(items))
		for i, it := range items {
			parts[i] = scalarString(it)
		}
		return strings.Join(parts, scalarString(l[0])), nil
	case "Fn::Select":
		l, err := r.list(arg, 2, name)
		if err != nil {
			return nil, err
		}
		i, err := strconv.Atoi(scalarString(l[0]))
		items, _ := l[1].([]any)
		if err != nil || i < 0 || i >= len(items) {
			return nil, fmt.Errorf("Fn::Select index %v out of range", l[0])
		}
		return items[i], nil
	case "Fn::Split":
		l, err := r.list(arg, 2, name)
		if err != nil {
			return nil, err
		}
		var out []any
		for _, s := range strings.Split(scalarString(l[1]), scalarString(l[0])) {
			out = append(out, s)
		}
		return out, nil
	}
	// Fn::GetAtt, Fn::ImportValue, Fn::FindInMap…: not knowable locally.
	return "", nil
}

func (r *resolver) list(arg any, n int, name string) ([]any, error) {
	rv, err := r.resolve(arg)
	if err != nil {
		return nil, err
	}
	l, ok := rv.([]any)
	if !ok || (n >= 0 && len(l) != n) {
		return nil, fmt.Errorf("%s: wrong arguments", name)
	}
	return l, nil
}

func (r *resolver) condition(name string) (bool, error) {
	c, ok := r.conditions[name]
	if !ok {
		return false, fmt.Errorf("condition %q is not defined", name)
	}
	if r.evaluating[name] {
		return false, fmt.Errorf("condition %q refers to itself", name)
	}
	r.evaluating[name] = true
	defer delete(r.evaluating, name)
	v, err := r.resolve(c)
	if err != nil {
		return false, fmt.Errorf("condition %s: %w", name, err)
	}
	return truth(v)
}

func truth(v any) (bool, error) {
	switch x := v.(type) {
	case bool:
		return x, nil
	case string:
		return strconv.ParseBool(x)
	}
	return false, fmt.Errorf("not a boolean: %v", v)
}

var subVar = regexp.MustCompile(`\$\{([^}!][^}]*)\}`)

// SubArgs splits the argument of Fn::Sub, in either form ("string" or ["string",
// {vars}]), into the template and its variables, unresolved.
func SubArgs(arg any) (tmpl string, vars map[string]any, err error) {
	switch x := arg.(type) {
	case string:
		return x, nil, nil
	case []any:
		if len(x) == 2 {
			vars, _ = x[1].(map[string]any)
			return scalarString(x[0]), vars, nil
		}
	}
	return "", nil, fmt.Errorf("Fn::Sub: wrong arguments")
}

// sub implements Fn::Sub in both forms: "string" and ["string", {vars}].
func (r *resolver) sub(arg any) (any, error) {
	tmpl, raw, err := SubArgs(arg)
	if err != nil {
		return nil, err
	}
	vars := map[string]any{}
	for k, v := range raw {
		rv, err := r.resolve(v)
		if err != nil {
			return nil, err
		}
		vars[k] = rv
	}
	var firstErr error
	out := subVar.ReplaceAllStringFunc(tmpl, func(m string) string {
		name := m[2 : len(m)-1]
		if v, ok := vars[name]; ok {
			return scalarString(v)
		}
		if strings.Contains(name, ".") { // ${Resource.Attr}
			return ""
		}
		v, err := r.intrinsic("Ref", name)
		if err != nil && firstErr == nil {
			firstErr = err
		}
		if v == noValue {
			return ""
		}
		return scalarString(v)
	})
	// ${!Literal} escapes a dollar-brace.
	out = strings.ReplaceAll(out, "${!", "${")
	return out, firstErr
}
