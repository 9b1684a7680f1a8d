package cfngraph

import (
	"errors"
	"maps"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/insforge/edge-functions-go/scripts/internal/budget"
	"github.com/insforge/edge-functions-go/scripts/internal/deployplan"
)

// stacks are the feature sets checked: each bridge alone, payments alone, payments with the
// gateway, payments with wallets and passes, everything, nothing, and everything with every
// opt-in knob set.
func stacks(t *testing.T) map[string]map[string]string {
	t.Helper()
	arn := func(s deployplan.Secret) string {
		return "arn:aws:secretsmanager:us-east-1:123456789012:secret:stack/" + s.Name + "-AbCdEf"
	}
	out := map[string]map[string]string{"nothing": {}}
	pick := func(name string, picks ...string) map[string]string {
		fs, err := deployplan.Lookup(picks)
		if err != nil {
			t.Fatal(err)
		}
		v := deployplan.SampleValues(fs, arn)
		out[name] = v
		return v
	}
	for _, f := range deployplan.Features {
		pick(f.Name+" only", f.Name)
	}
	pick("payments + gateway", "gateway")
	pick("payments + wallets", "wallets")
	pick("everything", "all")
	knobs := pick("everything, every knob", "all")
	knobs["AlarmEmail"] = "ops@example.com"
	knobs["AllowedOrigins"] = "https://app.example.com"
	knobs["ReservedConcurrency"] = "20,10,1"
	knobs["InsforgeAnonKey"] = "anon_example"
	knobs["XLayerRpcUrl"] = "https://rpc.example.com"
	knobs["Tuning"] = "5,10,1,2,7,Active,INFO"
	return out
}

// The stack `sam deploy` submits for every supported feature set has no cycle, no reference
// to anything missing, and no idle or broken condition.
func TestTransformedTemplateIsDeployableForEveryFeatureSet(t *testing.T) {
	root, err := budget.ModuleRoot(".")
	if err != nil {
		t.Fatal(err)
	}
	raw, err := Translate(root)
	if errors.Is(err, ErrNoTranslator) {
		if os.Getenv("CI") == "true" || os.Getenv("CI") == "1" {
			t.Fatal(err)
		}
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	tpl, err := Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	created := map[string]int{}
	all := stacks(t)
	for _, name := range slices.Sorted(maps.Keys(all)) {
		rep := tpl.Check(all[name])
		created[name] = len(rep.Live)
		if !rep.OK() {
			t.Errorf("%s:\n%s", name, rep)
		}
		count := map[string]int{}
		for _, id := range rep.Live {
			count[tpl.Resources[id]["Type"].(string)]++
		}
		secrets := 0
		for k, v := range all[name] {
			if strings.HasSuffix(k, "SecretArn") && v != "" {
				secrets++
			}
		}
		// At rest, us-east-1 list prices: $0.10 per standard alarm, $0.40 per secret, $3.00 per
		// dashboard beyond an account's first three (https://aws.amazon.com/cloudwatch/pricing/,
		// https://aws.amazon.com/secrets-manager/pricing/).
		atRest := float64(count["AWS::CloudWatch::Alarm"])*0.10 + float64(secrets)*0.40
		t.Logf("%-24s %3d resources, %2d functions, %2d alarms, %2d log groups, %d secrets, %3d dependencies, acyclic and resolved: %-5v at rest $%.2f/month (+ $3.00 dashboard beyond the account's first three)",
			name, len(rep.Live), count["AWS::Lambda::Function"], count["AWS::CloudWatch::Alarm"], count["AWS::Logs::LogGroup"], secrets, rep.Edges, rep.OK(), atRest)
	}
	// Each bridge alone creates one function; wallets and passes add exactly their two to payments.
	for _, f := range deployplan.Features {
		if f.Name == "payments" || f.Name == "gateway" || f.Name == "wallets" {
			continue
		}
		rep := tpl.Check(stacks(t)[f.Name+" only"])
		n := 0
		for _, id := range rep.Live {
			if tpl.Resources[id]["Type"] == "AWS::Lambda::Function" {
				n++
				if !strings.HasPrefix(id, "Token") {
					t.Errorf("%s only: creates %s", f.Name, id)
				}
			}
		}
		if n != 1 {
			t.Errorf("%s only: %d functions, want 1", f.Name, n)
		}
	}
	functions := func(name string) []string {
		var out []string
		for _, id := range tpl.Check(stacks(t)[name]).Live {
			if tpl.Resources[id]["Type"] == "AWS::Lambda::Function" {
				out = append(out, id)
			}
		}
		return out
	}
	payments, wallets := functions("payments only"), functions("payments + wallets")
	for _, id := range wallets {
		if !slices.Contains(payments, id) && id != "TokenWalletFunction" && id != "X402PassFunction" {
			t.Errorf("payments + wallets: creates %s", id)
		}
	}
	if len(wallets) != len(payments)+2 {
		t.Errorf("payments + wallets: %d functions, want payments' %d and the two of wallets and passes", len(wallets), len(payments))
	}
	if created["everything"] <= created["payments + gateway"] || created["everything"] <= created["payments + wallets"] ||
		created["nothing"] >= created["clerk only"] {
		t.Errorf("resource counts do not follow the features: %v", created)
	}
}
