package samtemplate

import "testing"

// Every function of template.yaml has a first-invocation event, so the cold-start
// benchmarks and tools that start a function once measure all of them.
func TestEveryFunctionHasASampleEvent(t *testing.T) {
	tpl, fns, err := LoadFunctions("../../../template.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(fns) == 0 {
		t.Fatal("no functions")
	}
	for _, f := range fns {
		if _, _, ok := f.SampleEvent(tpl.Dir()); !ok {
			t.Errorf("%s: no events/%s-{valid,challenge,list,scheduled,nonce}.json", f.LogicalID, f.Dir())
		}
	}
}
