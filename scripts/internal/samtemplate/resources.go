package samtemplate

// Resource is one entry of the Resources section as written (intrinsics are left
// unresolved: !Ref X is map[string]any{"Ref": "X"}, !If […] is {"Fn::If": […]}), for
// checks that read more than the runner needs: policies, alarms, log groups.
type Resource struct {
	ID         string
	Type       string
	Condition  string
	Properties map[string]any
}

// Resources returns every resource in file order.
func (t *Template) Resources() []Resource {
	out := make([]Resource, 0, len(t.order))
	for _, id := range t.order {
		r := t.resources[id]
		props, _ := r["Properties"].(map[string]any)
		if props == nil {
			props = map[string]any{}
		}
		out = append(out, Resource{ID: id, Type: scalarString(r["Type"]), Condition: scalarString(r["Condition"]), Properties: props})
	}
	return out
}

// GlobalFunction returns Globals.Function as written.
func (t *Template) GlobalFunction() map[string]any { return t.globals }

// Resolve evaluates the intrinsics in v (a property as Resources returns it)
// against parameter values, the way Functions does. A value that resolves to
// AWS::NoValue makes IsNoValue true; resource references resolve to "".
func (t *Template) Resolve(v any, params map[string]string) (any, error) {
	r := &resolver{params: params, conditions: t.conditions, evaluating: map[string]bool{}, declared: map[string]bool{}}
	for name := range t.Parameters {
		r.declared[name] = true
	}
	return r.resolve(v)
}

// IsNoValue reports whether a resolved value is AWS::NoValue (the property is removed).
func IsNoValue(v any) bool { return v == noValue }
