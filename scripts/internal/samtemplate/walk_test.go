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

// Refs finds Ref at any depth; a mapping with Ref beside other keys is no Ref.
func TestRefsListsEveryRefTarget(t *testing.T) {
	v := []any{
		map[string]any{"Fn::Equals": []any{map[string]any{"Ref": "Stage"}, "prod"}},
		map[string]any{"Fn::Not": []any{map[string]any{"Condition": "X", "Inner": map[string]any{"Ref": "Deep"}}}},
		map[string]any{"Ref": "Extra", "Other": 1},
	}
	got := Refs(v)
	slices.Sort(got)
	if want := []string{"Deep", "Stage"}; !slices.Equal(got, want) {
		t.Fatalf("Refs = %q, want %q", got, want)
	}
}
