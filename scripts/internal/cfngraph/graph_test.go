package cfngraph

import (
	"encoding/json"
	"os"
	"slices"
	"strings"
	"testing"
)

func parse(t *testing.T, raw string) *Template {
	t.Helper()
	tpl, err := Parse([]byte(raw))
	if err != nil {
		t.Fatal(err)
	}
	return tpl
}

// The template.yaml shape that CloudFormation refused ("Circular dependency between
// resources"): the check must find exactly that cycle.
func TestPlantedCycleFails(t *testing.T) {
	raw, err := os.ReadFile("testdata/cycle.json")
	if err != nil {
		t.Fatal(err)
	}
	tpl := parse(t, string(raw))
	rep := tpl.Check(nil)
	want := []string{"Api5xxAlarm", "FnAliaslive", "FnDeploymentGroup", "HttpApi"}
	if len(rep.Cycles) != 1 || !slices.Equal(rep.Cycles[0], want) {
		t.Fatalf("cycles = %v, want [%v]\n%s", rep.Cycles, want, rep)
	}
	if rep.OK() {
		t.Fatal("a template with a cycle passed")
	}
	// Take the API alarm out of the rollback alarms: acyclic.
	var doc map[string]any
	_ = json.Unmarshal(raw, &doc)
	dg := doc["Resources"].(map[string]any)["FnDeploymentGroup"].(map[string]any)["Properties"].(map[string]any)["AlarmConfiguration"].(map[string]any)
	dg["Alarms"] = dg["Alarms"].([]any)[:1]
	fixed, _ := json.Marshal(doc)
	if rep := parse(t, string(fixed)).Check(nil); !rep.OK() {
		t.Fatalf("without the API alarm:\n%s", rep)
	}
}

func TestReferenceProblemsAreReported(t *testing.T) {
	for _, tc := range []struct {
		name, tpl, want string
	}{
		{"ref to nothing", `{"Resources":{"A":{"Type":"AWS::SQS::Queue","Properties":{"X":{"Ref":"Nope"}}}}}`, "Ref Nope: no such resource or parameter"},
		{"getatt unknown attribute", `{"Resources":{"Q":{"Type":"AWS::SQS::Queue"},"A":{"Type":"AWS::SQS::Queue","Properties":{"X":{"Fn::GetAtt":["Q","Nope"]}}}}}`, "AWS::SQS::Queue has no attribute Nope"},
		{"sub attribute", `{"Resources":{"Q":{"Type":"AWS::SQS::Queue"},"A":{"Type":"AWS::SQS::Queue","Properties":{"X":{"Fn::Sub":"${Q.Bogus}"}}}}}`, "has no attribute Bogus"},
		{"sub list form", `{"Resources":{"A":{"Type":"AWS::SQS::Queue","Properties":{"X":{"Fn::Sub":["${v}${Gone}",{"v":{"Ref":"Gone2"}}]}}}}}`, "Ref Gone2"},
		{"depends on nothing", `{"Resources":{"A":{"Type":"AWS::SQS::Queue","DependsOn":["Ghost"]}}}`, "DependsOn Ghost"},
		{"metadata counts", `{"Resources":{"A":{"Type":"AWS::SQS::Queue","Metadata":{"X":{"Ref":"Ghost"}}}}}`, "Ref Ghost"},
		{"ref to a resource whose condition is false", `{"Parameters":{"P":{"Type":"String","Default":""}},"Conditions":{"On":{"Fn::Not":[{"Fn::Equals":[{"Ref":"P"},""]}]}},
			"Resources":{"Q":{"Type":"AWS::SQS::Queue","Condition":"On"},"A":{"Type":"AWS::SQS::Queue","Properties":{"X":{"Ref":"Q"}}}}}`, "its condition is false"},
		{"unused condition", `{"Parameters":{"P":{"Type":"String","Default":""}},"Conditions":{"Idle":{"Fn::Equals":[{"Ref":"P"},""]}},"Resources":{"A":{"Type":"AWS::SQS::Queue"}}}`, "condition Idle is never used"},
		{"condition names a missing parameter", `{"Conditions":{"C":{"Fn::Equals":[{"Ref":"Missing"},""]}},"Resources":{"A":{"Type":"AWS::SQS::Queue","Condition":"C"}}}`, "condition C names Missing, which is no parameter"},
		{"output refers to nothing", `{"Resources":{"A":{"Type":"AWS::SQS::Queue"}},"Outputs":{"O":{"Value":{"Fn::GetAtt":["B","Arn"]}}}}`, "Outputs.O: Fn::GetAtt B"},
		{"self dependency", `{"Resources":{"A":{"Type":"AWS::SQS::Queue","Properties":{"X":{"Fn::GetAtt":["A","Arn"]}}}}}`, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rep := parse(t, tc.tpl).Check(nil)
			if rep.OK() {
				t.Fatalf("passed; want a problem containing %q", tc.want)
			}
			if tc.want != "" && !strings.Contains(rep.String(), tc.want) {
				t.Fatalf("report:\n%s\nwant %q", rep, tc.want)
			}
		})
	}
}

// Only the Fn::If branch taken counts: a reference in the other branch neither dangles nor
// adds an edge.
func TestOnlyTheTakenBranchCounts(t *testing.T) {
	tpl := parse(t, `{"Parameters":{"P":{"Type":"String","Default":""}},"Conditions":{"On":{"Fn::Not":[{"Fn::Equals":[{"Ref":"P"},""]}]}},
		"Resources":{"Q":{"Type":"AWS::SQS::Queue","Condition":"On"},"A":{"Type":"AWS::SQS::Queue","Properties":{"X":{"Fn::If":["On",{"Ref":"Q"},{"Ref":"AWS::NoValue"}]}}}}}`)
	if rep := tpl.Check(nil); !rep.OK() || slices.Contains(rep.Live, "Q") {
		t.Fatalf("off:\n%s live %v", rep, rep.Live)
	}
	if rep := tpl.Check(map[string]string{"P": "x"}); !rep.OK() || rep.Edges != 1 {
		t.Fatalf("on: edges %d\n%s", rep.Edges, rep)
	}
}
