package samtemplate

// Walk calls visit on every mapping in v, a decoded template value, outermost
// first. It descends into a mapping's values only when visit returns true, so a
// visitor that handles an intrinsic itself stops there; lists are always entered.
func Walk(v any, visit func(map[string]any) bool) {
	switch x := v.(type) {
	case map[string]any:
		if !visit(x) {
			return
		}
		for _, e := range x {
			Walk(e, visit)
		}
	case []any:
		for _, e := range x {
			Walk(e, visit)
		}
	}
}

// Refs lists the target of every {"Ref": name} in v, in no particular order.
func Refs(v any) []string {
	var out []string
	Walk(v, func(m map[string]any) bool {
		if r, ok := m["Ref"].(string); ok && len(m) == 1 {
			out = append(out, r)
			return false
		}
		return true
	})
	return out
}
