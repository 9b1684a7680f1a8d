package samtemplate

import (
	"reflect"
	"testing"
)

// Fn::Sub takes "template" or ["template", {vars}]; anything else is refused, and a
// refused argument yields no template and no variables.
// https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/intrinsic-function-reference-sub.html
func TestSubArgsAcceptsBothFormsOnly(t *testing.T) {
	vars := map[string]any{"Name": map[string]any{"Ref": "P"}}
	for _, tc := range []struct {
		name     string
		arg      any
		wantTmpl string
		wantVars map[string]any
		refused  bool
	}{
		{"string form", "arn:${AWS::Partition}:x", "arn:${AWS::Partition}:x", nil, false},
		{"list form", []any{"${Name}-log", vars}, "${Name}-log", vars, false},
		{"list without vars map", []any{"${Name}", "junk"}, "${Name}", nil, false},
		{"one element", []any{"${Name}"}, "", nil, true},
		{"three elements", []any{"a", vars, "b"}, "", nil, true},
		{"mapping", map[string]any{"a": "b"}, "", nil, true},
	} {
		tmpl, got, err := SubArgs(tc.arg)
		if (err != nil) != tc.refused || tmpl != tc.wantTmpl || !reflect.DeepEqual(got, tc.wantVars) {
			t.Errorf("%s: SubArgs = %q, %v, %v", tc.name, tmpl, got, err)
		}
	}
}
