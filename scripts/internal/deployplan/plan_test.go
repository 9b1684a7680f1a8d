package deployplan

import (
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/insforge/edge-functions-go/shared/identity"

	"github.com/insforge/edge-functions-go/scripts/internal/samtemplate"
)

func template(t *testing.T) *samtemplate.Template {
	t.Helper()
	tpl, err := samtemplate.LoadModule(".")
	if err != nil {
		t.Fatal(err)
	}
	return tpl
}

// guidedFixedPrompts are the questions `sam deploy --guided` asks besides one per template
// parameter, in SAM CLI's GuidedContext.guided_prompts: Stack Name, AWS Region, Confirm changes
// before deploy, Allow SAM CLI IAM role creation, Save arguments to configuration file, SAM
// configuration file, SAM configuration environment; then "Deploy this changeset?" because
// samconfig.toml sets confirm_changeset. It also asks "<function> may not have authorization
// defined, Is this okay?" (default N, which aborts) for every function with an Api/HttpApi event
// when neither the event nor the API declares Auth (auth_utils.auth_per_resource).
// https://github.com/aws/aws-sam-cli/blob/develop/samcli/commands/deploy/guided_context.py
// https://github.com/aws/aws-sam-cli/blob/develop/samcli/commands/deploy/auth_utils.py
const guidedFixedPrompts = 8

// guidedPrompts counts what `sam deploy --guided` asks for template.yaml.
func guidedPrompts(t *testing.T, tpl *samtemplate.Template) (params, authQuestions int) {
	t.Helper()
	apiAuth := map[string]bool{}
	for _, r := range tpl.Resources() {
		if r.Type == "AWS::Serverless::HttpApi" || r.Type == "AWS::Serverless::Api" {
			apiAuth[r.ID] = r.Properties["Auth"] != nil
		}
	}
	for _, r := range tpl.Resources() {
		if r.Type != "AWS::Serverless::Function" {
			continue
		}
		evs, _ := r.Properties["Events"].(map[string]any)
		for _, ev := range evs {
			m, _ := ev.(map[string]any)
			typ, _ := m["Type"].(string)
			if typ != "HttpApi" && typ != "Api" {
				continue
			}
			p, _ := m["Properties"].(map[string]any)
			api := ""
			for _, k := range []string{"ApiId", "RestApiId"} {
				if ref, ok := p[k].(map[string]any); ok {
					api, _ = ref["Ref"].(string)
				}
			}
			if p["Auth"] == nil && !apiAuth[api] {
				authQuestions++
			}
		}
	}
	return len(tpl.Parameters), authQuestions
}

// bridgeParams maps each template parameter that belongs to one provider bridge
// alone (a question of its feature, or a secret only it reads) to the bridge.
func bridgeParams(t *testing.T) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, b := range identity.Bridges {
		f, err := Lookup([]string{b.Slug})
		if err != nil || len(f) != 1 {
			t.Fatalf("bridge %s is no feature of its own: %v", b.Slug, err)
		}
		for _, q := range f[0].Questions {
			if !strings.HasPrefix(q.Key, "secret:") {
				out[q.Key] = b.Slug
			}
		}
		for _, s := range f[0].Secrets {
			if s.Param != jwtSecret.Param {
				out[s.Param] = b.Slug
			}
		}
	}
	return out
}

func TestGuidedDeployAsksFewQuestionsAndItsDefaultsDeploy(t *testing.T) {
	tpl := template(t)
	params, auth := guidedPrompts(t, tpl)
	t.Logf("sam deploy --guided on template.yaml: %d parameter prompts + %d fixed + %d authorization questions = %d prompts (before: 89 parameters, 95 prompts, then one authorization question per HTTP function answered N by default)",
		params, guidedFixedPrompts, auth, params+guidedFixedPrompts+auth)
	// A bridge brings its own parameters (the one that picks it, and an audience or a
	// secret of its own); everything else is asked of every operator and stays fixed.
	own := bridgeParams(t)
	perBridge := map[string]int{}
	for _, b := range own {
		perBridge[b]++
	}
	for b, n := range perBridge {
		if n > 2 {
			t.Errorf("bridge %s brings %d parameters; at most 2 (sam deploy --guided asks every one)", b, n)
		}
	}
	if shared := params - len(own); shared > 15 {
		t.Errorf("%d parameters beside the bridges' own: sam deploy --guided asks every one; at most 15", shared)
	}
	if params > 25 {
		t.Logf("%d parameters: each provider bridge past the seven adds its own", params)
	}
	if auth > 0 {
		t.Errorf("%d authorization questions: their default (N) aborts the deploy; declare the HTTP API's Auth", auth)
	}
	for name, p := range tpl.Parameters {
		// SAM CLI prompts a NoEcho parameter without a default and refuses an empty answer.
		if p.NoEcho {
			t.Errorf("%s is NoEcho: sam deploy --guided cannot leave it empty", name)
		}
		if p.Default == nil {
			t.Errorf("%s has no default: pressing Enter cannot accept it", name)
		}
		if len(strings.TrimSpace(p.Description)) < 20 {
			t.Errorf("%s: the description must say what the value is and where to find it", name)
		}
	}
}

func TestMakeDeployAsksOnlyWhatThePickedFeaturesNeed(t *testing.T) {
	for _, tc := range []struct {
		picks []string
		max   int
	}{
		{[]string{"clerk"}, 12},
		{[]string{"workos"}, 12},
		{[]string{"kinde"}, 12},
		{[]string{"auth0"}, 12},
		{[]string{"stytch"}, 12},
		{[]string{"better-auth"}, 12},
		{[]string{"oidc"}, 12},
		{[]string{"payments"}, 12},
		{[]string{"clerk", "payments"}, 18},
		{[]string{"gateway"}, 18}, // brings payments
		{[]string{"wallets"}, 13}, // brings payments, and the JWT secret
		{[]string{"clerk", "wallets"}, 18},
		{[]string{"all"}, 60},
	} {
		fs, err := Lookup(tc.picks)
		if err != nil {
			t.Fatal(err)
		}
		q := Questions(fs)
		var keys []string
		for _, x := range q {
			keys = append(keys, x.Key)
		}
		t.Logf("make deploy, %s: %d questions: %s", strings.Join(tc.picks, "+"), len(q), strings.Join(keys, ", "))
		if len(q) > tc.max {
			t.Errorf("%v: %d questions, at most %d", tc.picks, len(q), tc.max)
		}
	}
	one, _ := Lookup([]string{"clerk"})
	withPayments, _ := Lookup([]string{"clerk", "payments"})
	if extra := len(Questions(withPayments)) - len(Questions(one)); extra > 6 {
		t.Errorf("payments add %d questions, at most 6", extra)
	}
	// Wallets and passes on top of a bridge and payments ask one more value (the pass list); the
	// JWT secret is already asked for the bridge, and the origins question becomes required.
	withWallets, _ := Lookup([]string{"clerk", "wallets"})
	if extra := len(Questions(withWallets)) - len(Questions(withPayments)); extra != 1 {
		t.Errorf("wallets add %d questions to clerk + payments, want 1", extra)
	}
	for _, q := range Questions(withWallets) {
		if q.Key == Origins.Key && q.Optional {
			t.Error("wallets picked: the origins question must be required (the wallet bridge refuses to start without them)")
		}
	}
}

// Every question names a parameter of template.yaml or a variable of a secret the feature's
// *SecretArn parameter describes; every feature names a template Condition; every parameter a
// feature needs and the template marks required is asked.
func TestPlanMatchesTheTemplate(t *testing.T) {
	tpl := template(t)
	raw := map[string]bool{}
	for _, r := range tpl.Resources() {
		if r.Condition != "" {
			raw[r.Condition] = true
		}
	}
	quoted := regexp.MustCompile(`"([A-Z][A-Z0-9_]+)"`)
	for _, f := range Features {
		if !raw[f.Condition] {
			t.Errorf("%s: no resource of template.yaml has Condition %s", f.Name, f.Condition)
		}
		for _, s := range f.Secrets {
			p, ok := tpl.Parameters[s.Param]
			if !ok {
				t.Errorf("%s: no parameter %s", f.Name, s.Param)
				continue
			}
			var described []string
			for _, m := range quoted.FindAllStringSubmatch(p.Description, -1) {
				described = append(described, m[1])
			}
			slices.Sort(described)
			vars := slices.Sorted(slices.Values(s.Vars))
			if !slices.Equal(described, vars) {
				t.Errorf("%s: secret %s holds %v, the parameter's description says %v", f.Name, s.Param, vars, described)
			}
		}
		for _, q := range f.Questions {
			if v, ok := strings.CutPrefix(q.Key, "secret:"); ok {
				if !slices.ContainsFunc(f.Secrets, func(s Secret) bool { return slices.Contains(s.Vars, v) }) {
					t.Errorf("%s: question %s goes into none of the feature's secrets", f.Name, v)
				}
				continue
			}
			if _, ok := tpl.Parameters[q.Key]; !ok {
				t.Errorf("%s: question %s is no parameter of template.yaml", f.Name, q.Key)
			}
		}
	}
	for _, q := range []Question{Origins, OriginsRequired, Email} {
		if _, ok := tpl.Parameters[q.Key]; !ok {
			t.Errorf("question %s is no parameter of template.yaml", q.Key)
		}
	}
}

func TestLookupAddsWhatAFeatureNeeds(t *testing.T) {
	fs, err := Lookup([]string{"gateway"})
	if err != nil || len(fs) != 2 || fs[0].Name != "payments" || fs[1].Name != "gateway" {
		t.Fatalf("gateway = %v, %v; want payments and gateway", fs, err)
	}
	if _, err := Lookup([]string{"facebook"}); err == nil {
		t.Fatal("an unknown feature was accepted")
	}
	if _, err := Lookup(nil); err == nil {
		t.Fatal("an empty pick was accepted")
	}
}

// Every feature of template.yaml that has a function can be picked in `make
// deploy`: a function's Condition is some Feature's, so a new bridge is not left
// deployable only through sam deploy --guided.
func TestEveryFunctionsFeatureCanBePicked(t *testing.T) {
	tpl := template(t)
	offered := map[string]bool{}
	for _, f := range Features {
		offered[f.Condition] = true
	}
	n := 0
	for _, r := range tpl.Resources() {
		if r.Type != "AWS::Serverless::Function" {
			continue
		}
		n++
		if r.Condition == "" || !offered[r.Condition] {
			t.Errorf("%s (Condition %q) belongs to no feature of deployplan.Features: make deploy cannot pick it", r.ID, r.Condition)
		}
	}
	if n == 0 {
		t.Fatal("no functions in template.yaml")
	}
}
