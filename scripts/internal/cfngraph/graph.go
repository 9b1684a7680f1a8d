// Package cfngraph checks a transformed CloudFormation template (what `sam deploy` submits
// after the AWS::Serverless transform) the way CloudFormation resolves it for one set of
// parameter values: conditions are evaluated, resources whose Condition is false are left out,
// only the taken branch of each Fn::If counts, and then
//
//   - the dependency graph (Ref, Fn::GetAtt, Fn::Sub in both forms, DependsOn, anywhere in a
//     resource: Properties, UpdatePolicy, Metadata, CreationPolicy…) must have no cycle
//     ("Circular dependency between resources", refused before anything is created);
//   - every Ref and Fn::GetAtt must name a live resource (with an attribute its type has), a
//     parameter or a pseudo parameter;
//   - every condition must be used, and name only declared parameters.
//
// https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/intrinsic-function-reference.html
package cfngraph

import (
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strings"

	"github.com/insforge/edge-functions-go/scripts/internal/samtemplate"
)

// Template is a transformed template (JSON).
type Template struct {
	Parameters map[string]map[string]any `json:"Parameters"`
	Conditions map[string]any            `json:"Conditions"`
	Resources  map[string]map[string]any `json:"Resources"`
	Outputs    map[string]map[string]any `json:"Outputs"`
}

// Parse reads a transformed template.
func Parse(raw []byte) (*Template, error) {
	var t Template
	if err := json.Unmarshal(raw, &t); err != nil {
		return nil, fmt.Errorf("transformed template: %w", err)
	}
	if len(t.Resources) == 0 {
		return nil, fmt.Errorf("transformed template: no resources")
	}
	return &t, nil
}

var pseudo = map[string]bool{"AWS::AccountId": true, "AWS::NotificationARNs": true, "AWS::NoValue": true, "AWS::Partition": true,
	"AWS::Region": true, "AWS::StackId": true, "AWS::StackName": true, "AWS::URLSuffix": true}

// Report is what Check found for one set of parameter values.
type Report struct {
	Live     []string   // resources created, sorted
	Cycles   [][]string // each a strongly connected set of resources, sorted
	Problems []string   // dangling references, unknown attributes, condition errors
	Edges    int
}

// OK reports whether the template would pass CloudFormation's checks covered here.
func (r *Report) OK() bool { return len(r.Cycles) == 0 && len(r.Problems) == 0 }

func (r *Report) String() string {
	var b strings.Builder
	for _, c := range r.Cycles {
		fmt.Fprintf(&b, "cycle: %s\n", strings.Join(c, " -> "))
	}
	for _, p := range r.Problems {
		fmt.Fprintf(&b, "%s\n", p)
	}
	return b.String()
}

// Check evaluates the template for the given parameter values (defaults fill the rest).
func (t *Template) Check(values map[string]string) *Report {
	rep := &Report{}
	params := map[string]string{}
	for name, p := range t.Parameters {
		if d, ok := p["Default"]; ok {
			params[name] = fmt.Sprint(d)
		}
	}
	for k, v := range values {
		if _, ok := t.Parameters[k]; !ok {
			rep.Problems = append(rep.Problems, fmt.Sprintf("value for %s, which is no parameter", k))
		}
		params[k] = v
	}
	ev := &evaluator{t: t, params: params, cache: map[string]bool{}, busy: map[string]bool{}, used: map[string]bool{}}
	t.checkConditions(ev, rep)

	live := map[string]bool{}
	for id, r := range t.Resources {
		c, ok := r["Condition"].(string)
		if !ok {
			live[id] = true
			continue
		}
		ev.used[c] = true
		b, err := ev.condition(c)
		if err != nil {
			rep.Problems = append(rep.Problems, fmt.Sprintf("%s: %v", id, err))
		}
		live[id] = b
	}
	for id := range live {
		if live[id] {
			rep.Live = append(rep.Live, id)
		}
	}
	sort.Strings(rep.Live)

	graph := map[string][]string{}
	for _, id := range rep.Live {
		r := t.Resources[id]
		typ, _ := r["Type"].(string)
		var deps []ref
		for key, v := range r {
			switch key {
			case "Type", "Condition", "DeletionPolicy", "UpdateReplacePolicy":
			case "DependsOn":
				for _, d := range strList(v) {
					deps = append(deps, ref{target: d, how: "DependsOn"})
				}
			default:
				deps = append(deps, ev.refs(v, id)...)
			}
		}
		seen := map[string]bool{}
		for _, d := range deps {
			if problem := t.resolveRef(d, live, typ); problem != "" {
				rep.Problems = append(rep.Problems, fmt.Sprintf("%s: %s", id, problem))
				continue
			}
			if _, isRes := t.Resources[d.target]; isRes && !seen[d.target] {
				seen[d.target] = true
				graph[id] = append(graph[id], d.target)
				rep.Edges++
			}
		}
	}
	for name, o := range t.Outputs {
		if c, ok := o["Condition"].(string); ok {
			ev.used[c] = true
			if b, err := ev.condition(c); err != nil || !b {
				continue
			}
		}
		for _, d := range ev.refs(o, "Outputs."+name) {
			if problem := t.resolveRef(d, live, ""); problem != "" {
				rep.Problems = append(rep.Problems, fmt.Sprintf("Outputs.%s: %s", name, problem))
			}
		}
	}
	// Conditions used only inside branches not taken still count as used: walk everything.
	for _, r := range t.Resources {
		ev.markConditions(r)
	}
	for _, o := range t.Outputs {
		ev.markConditions(o)
	}
	for name := range t.Conditions {
		if !ev.used[name] {
			rep.Problems = append(rep.Problems, fmt.Sprintf("condition %s is never used", name))
		}
	}
	rep.Cycles = cycles(graph)
	sort.Strings(rep.Problems)
	return rep
}

type ref struct {
	target, attr, how string
}

// resolveRef returns why a reference cannot be resolved, or "".
func (t *Template) resolveRef(d ref, live map[string]bool, _ string) string {
	if pseudo[d.target] {
		return ""
	}
	if _, ok := t.Parameters[d.target]; ok {
		if d.attr != "" {
			return fmt.Sprintf("%s %s.%s: a parameter has no attributes", d.how, d.target, d.attr)
		}
		return ""
	}
	r, ok := t.Resources[d.target]
	if !ok {
		return fmt.Sprintf("%s %s: no such resource or parameter", d.how, d.target)
	}
	if !live[d.target] {
		return fmt.Sprintf("%s %s: the resource is not created with these values (its condition is false)", d.how, d.target)
	}
	if d.attr != "" {
		typ, _ := r["Type"].(string)
		attrs, known := attributes[typ]
		if !known {
			return fmt.Sprintf("%s %s.%s: no attribute table for %s (add it to cfngraph.attributes)", d.how, d.target, d.attr, typ)
		}
		if !attrs[d.attr] {
			return fmt.Sprintf("%s %s.%s: %s has no attribute %s", d.how, d.target, d.attr, typ, d.attr)
		}
	}
	return ""
}

func (t *Template) checkConditions(ev *evaluator, rep *Report) {
	for name, c := range t.Conditions {
		for _, p := range samtemplate.Refs(c) {
			if _, ok := t.Parameters[p]; !ok && !pseudo[p] {
				rep.Problems = append(rep.Problems, fmt.Sprintf("condition %s names %s, which is no parameter", name, p))
			}
		}
		if _, err := ev.condition(name); err != nil {
			rep.Problems = append(rep.Problems, fmt.Sprintf("condition %s: %v", name, err))
		}
	}
}

type evaluator struct {
	t      *Template
	params map[string]string
	cache  map[string]bool
	busy   map[string]bool
	used   map[string]bool
}

func (e *evaluator) condition(name string) (bool, error) {
	if b, ok := e.cache[name]; ok {
		return b, nil
	}
	c, ok := e.t.Conditions[name]
	if !ok {
		return false, fmt.Errorf("condition %s is not defined", name)
	}
	if e.busy[name] {
		return false, fmt.Errorf("condition %s refers to itself", name)
	}
	e.busy[name] = true
	defer delete(e.busy, name)
	b, err := e.truth(c)
	if err != nil {
		return false, fmt.Errorf("condition %s: %w", name, err)
	}
	e.cache[name] = b
	return b, nil
}

func (e *evaluator) truth(v any) (bool, error) {
	m, ok := v.(map[string]any)
	if !ok || len(m) != 1 {
		if b, ok := v.(bool); ok {
			return b, nil
		}
		return false, fmt.Errorf("not a condition: %v", v)
	}
	for k, a := range m {
		l, _ := a.([]any)
		switch k {
		case "Condition":
			s, _ := a.(string)
			e.used[s] = true
			return e.condition(s)
		case "Fn::Equals":
			if len(l) != 2 {
				return false, fmt.Errorf("Fn::Equals needs two values")
			}
			x, err := e.value(l[0])
			if err != nil {
				return false, err
			}
			y, err := e.value(l[1])
			return x == y, err
		case "Fn::Not":
			if len(l) != 1 {
				return false, fmt.Errorf("Fn::Not needs one condition")
			}
			b, err := e.truth(l[0])
			return !b, err
		case "Fn::And", "Fn::Or":
			if len(l) < 2 || len(l) > 10 {
				return false, fmt.Errorf("%s needs 2 to 10 conditions", k)
			}
			and := k == "Fn::And"
			res := and
			for _, x := range l {
				b, err := e.truth(x)
				if err != nil {
					return false, err
				}
				if and {
					res = res && b
				} else {
					res = res || b
				}
			}
			return res, nil
		}
		return false, fmt.Errorf("%s is not a condition function", k)
	}
	return false, nil
}

// value is a string operand of Fn::Equals: a literal or a Ref to a parameter.
func (e *evaluator) value(v any) (string, error) {
	switch x := v.(type) {
	case string:
		return x, nil
	case map[string]any:
		if r, ok := x["Ref"].(string); ok && len(x) == 1 {
			if val, ok := e.params[r]; ok {
				return val, nil
			}
			return "", fmt.Errorf("Ref %s: parameter has no value", r)
		}
	}
	return fmt.Sprint(v), nil
}

// markConditions records every condition named anywhere in v.
func (e *evaluator) markConditions(v any) {
	samtemplate.Walk(v, func(x map[string]any) bool {
		if l, ok := x["Fn::If"].([]any); ok && len(l) == 3 {
			if s, ok := l[0].(string); ok {
				e.used[s] = true
			}
		}
		if s, ok := x["Condition"].(string); ok {
			e.used[s] = true
		}
		return true
	})
}

var subVar = regexp.MustCompile(`\$\{([^}]*)\}`)

// refs lists the references in v, following only the Fn::If branch the conditions take.
func (e *evaluator) refs(v any, owner string) []ref {
	var out []ref
	var visit func(map[string]any) bool
	walk := func(v any) { samtemplate.Walk(v, visit) }
	visit = func(x map[string]any) bool {
		if len(x) != 1 {
			return true
		}
		for k, a := range x {
			switch k {
			case "Ref":
				if s, ok := a.(string); ok {
					out = append(out, ref{target: s, how: "Ref"})
				}
				return false
			case "Fn::GetAtt":
				var parts []string
				switch g := a.(type) {
				case string:
					parts = strings.SplitN(g, ".", 2)
				case []any:
					for _, p := range g {
						s, _ := p.(string)
						parts = append(parts, s)
					}
				}
				if len(parts) == 2 {
					out = append(out, ref{target: parts[0], attr: parts[1], how: "Fn::GetAtt"})
				} else {
					out = append(out, ref{target: fmt.Sprint(a), attr: "?", how: "Fn::GetAtt"})
				}
				return false
			case "Fn::Sub":
				// A malformed argument names nothing: tmpl and vars stay empty.
				tmpl, vars, _ := samtemplate.SubArgs(a)
				for _, val := range vars {
					walk(val)
				}
				for _, m := range subVar.FindAllStringSubmatch(tmpl, -1) {
					name := m[1]
					if strings.HasPrefix(name, "!") {
						continue // ${!Literal}
					}
					if _, ok := vars[name]; ok {
						continue
					}
					if target, attr, ok := strings.Cut(name, "."); ok {
						out = append(out, ref{target: target, attr: attr, how: "Fn::Sub"})
					} else {
						out = append(out, ref{target: name, how: "Fn::Sub"})
					}
				}
				return false
			case "Fn::If":
				l, _ := a.([]any)
				if len(l) != 3 {
					return false
				}
				c, _ := l[0].(string)
				e.used[c] = true
				b, err := e.condition(c)
				if err != nil {
					out = append(out, ref{target: "condition " + c, how: "Fn::If"})
					return false
				}
				if b {
					walk(l[1])
				} else {
					walk(l[2])
				}
				return false
			}
		}
		return true
	}
	walk(v)
	return out
}

func strList(v any) []string {
	switch x := v.(type) {
	case string:
		return []string{x}
	case []any:
		var out []string
		for _, e := range x {
			if s, ok := e.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}

// cycles returns the strongly connected components with more than one node, or a
// node depending on itself (Tarjan's algorithm).
func cycles(g map[string][]string) [][]string {
	index, low := map[string]int{}, map[string]int{}
	on := map[string]bool{}
	var stack []string
	var out [][]string
	n := 0
	var visit func(string)
	visit = func(v string) {
		index[v], low[v] = n, n
		n++
		stack = append(stack, v)
		on[v] = true
		for _, w := range g[v] {
			if _, seen := index[w]; !seen {
				visit(w)
				low[v] = min(low[v], low[w])
			} else if on[w] {
				low[v] = min(low[v], index[w])
			}
		}
		if low[v] == index[v] {
			var comp []string
			for {
				w := stack[len(stack)-1]
				stack = stack[:len(stack)-1]
				on[w] = false
				comp = append(comp, w)
				if w == v {
					break
				}
			}
			self := len(comp) == 1 && contains(g[v], v)
			if len(comp) > 1 || self {
				sort.Strings(comp)
				out = append(out, comp)
			}
		}
	}
	keys := make([]string, 0, len(g))
	for k := range g {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if _, seen := index[k]; !seen {
			visit(k)
		}
	}
	return out
}

func contains(l []string, s string) bool {
	for _, x := range l {
		if x == s {
			return true
		}
	}
	return false
}
