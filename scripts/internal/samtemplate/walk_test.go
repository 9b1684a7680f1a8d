package samtemplate

import (
	"slices"
	"testing"
)

// Walk reaches mappings inside mappings and lists, and stops where the visitor says.
func TestWalkVisitsNestedMappingsAndStopsWhereTold(t *testing.T) {
	v := map[string]any{
		"A": []any{map[string]any{"Ref": "P"}, "scalar", []any{map[string]any{"Ref": "Q"}}},
		"B": map[string]any{"Stop": map[string]any{"Ref": "Hidden"}},
		"C": map[string]any{"Inner": map[string]any{"Ref": "R"}},
	}
	var got []string
	Walk(v, func(m map[string]any) bool {
		if r, ok := m["Ref"].(string); ok {
			got = append(got, r)
		}
		_, stop := m["Stop"]
		return !stop
	})
	slices.Sort(got)
	if want := []string{"P", "Q", "R"}; !slices.Equal(got, want) {
		t.Fatalf("visited refs %q, want %q", got, want)
	}
}
