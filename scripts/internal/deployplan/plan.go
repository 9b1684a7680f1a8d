// Package deployplan is the first deploy as questions: the features an operator can pick
// (each token bridge, payments, the gateway, wallets and passes), the template parameters each one needs, and the
// secrets each one reads. `make deploy` (scripts/deploy → scripts/internal/cmd/deploy) asks
// exactly these and nothing else; tests count them and check them against template.yaml.
package deployplan

import (
	"fmt"
	"slices"
	"strings"

	"github.com/insforge/edge-functions-go/shared/identity"
)

// Question is one thing `make deploy` asks.
type Question struct {
	Key      string // template parameter, or "secret:<VARIABLE>" for a value that goes into a secret
	Prompt   string
	Where    string // where the operator finds the value
	Optional bool
	Sample   string // a well-formed value (tests, the rehearsal); never a real credential
}

// Secret is a Secrets Manager secret a feature's functions read: its JSON holds Vars.
type Secret struct {
	Param string // the *SecretArn parameter
	Name  string // suffix of the secret's name: <stack>/<Name>
	Vars  []string
}

// Feature is a part of the stack the operator picks.
type Feature struct {
	Name      string // as typed: clerk, payments, …
	Condition string // the template Condition that holds when it is picked
	Questions []Question
	Secrets   []Secret
	Needs     []string // other features it needs
	// NeedsOrigins: its functions refuse to start without AllowedOrigins (exact origins).
	NeedsOrigins bool
}

var (
	jwtSecret        = Secret{Param: "InsforgeJwtSecretArn", Name: "insforge-jwt", Vars: []string{"INSFORGE_JWT_SECRET"}}
	serviceKeySecret = Secret{Param: "InsforgeServiceKeySecretArn", Name: "insforge-service-key", Vars: []string{"INSFORGE_SERVICE_KEY"}}
	okxSecret        = Secret{Param: "OkxSecretArn", Name: "okx", Vars: []string{"OKX_API_KEY", "OKX_SECRET_KEY", "OKX_PASSPHRASE"}}
)

// bridges are the provider bridges as their declarations in shared/identity say
// (identity.Bridge.Deploy), in slug order; a bridge with a secret of its own is
// written out in custom instead.
func bridges() []Feature {
	var out []Feature
	for _, b := range identity.Bridges {
		if f, ok := custom[b.Slug]; ok {
			out = append(out, f)
			continue
		}
		f := Feature{Name: b.Slug, Condition: b.Deploy.Condition, Secrets: []Secret{jwtSecret}}
		for _, p := range b.Deploy.Params {
			f.Questions = append(f.Questions, Question{Key: p.Name, Prompt: p.Prompt, Where: p.Where, Sample: p.Sample})
		}
		out = append(out, f)
	}
	return out
}

// custom are the bridges whose pick is more than template parameters.
var custom = map[string]Feature{
	"stytch": {Name: "stytch", Condition: "Stytch", Secrets: []Secret{jwtSecret, {Param: "StytchSecretArn", Name: "stytch", Vars: []string{"STYTCH_SECRET"}}},
		Questions: []Question{
			{Key: "StytchProjectId", Prompt: "Stytch project ID", Where: "Stytch dashboard > Project settings (project-live-…)", Sample: "project-test-00000000-0000-0000-0000-000000000000"},
			{Key: "secret:STYTCH_SECRET", Prompt: "Stytch secret (Enter: none, session JWTs only)", Where: "Stytch dashboard > API keys > Secret", Optional: true, Sample: "secret-test-example"},
		}},
}

// Features in the order they are offered: the bridges, then the x402 features.
var Features = append(bridges(), []Feature{
	{Name: "payments", Condition: "Payments",
		Secrets: []Secret{serviceKeySecret, okxSecret},
		Questions: []Question{
			{Key: "PaymentRecipient", Prompt: "address receiving payments (0x…)", Where: "your X Layer wallet", Sample: "0x209693bc6afc0c5328ba36faf03c514ef312287c"},
			{Key: "InsforgeBaseUrl", Prompt: "InsForge project URL", Where: "InsForge dashboard (https://<app>.insforge.app)", Sample: "https://rehearsal.invalid"},
			{Key: "secret:INSFORGE_SERVICE_KEY", Prompt: "InsForge service key", Where: "InsForge dashboard > API keys (ik_…)", Sample: "ik_example0123456789abcdef"},
			{Key: "secret:OKX_API_KEY", Prompt: "OKX Web3 API key", Where: "OKX Web3 developer portal > API keys", Sample: "okx-key"},
			{Key: "secret:OKX_SECRET_KEY", Prompt: "OKX secret key", Where: "shown once when the key was created", Sample: "okx-secret"},
			{Key: "secret:OKX_PASSPHRASE", Prompt: "OKX passphrase", Where: "chosen when the key was created", Sample: "okx-pass"},
		}},
	// The gateway is picked by its secret: the upstream URL lives there with the upstream credential.
	{Name: "gateway", Condition: "Gateway", Needs: []string{"payments"},
		Secrets: []Secret{{Param: "GatewaySecretArn", Name: "gateway", Vars: []string{"X402_GATEWAY_UPSTREAM_URL", "X402_GATEWAY_RECEIPT_KEY", "X402_GATEWAY_UPSTREAM_AUTH"}}},
		Questions: []Question{
			{Key: "secret:X402_GATEWAY_UPSTREAM_URL", Prompt: "base URL of the API to sell", Where: "your API (https)", Sample: "https://api.rehearsal.invalid"},
			{Key: "GatewayRoutes", Prompt: "priced routes (JSON array)", Where: "docs/gateway.md", Sample: `[{"method":"GET","path":"/quote","price":"1000","description":"A quote"}]`},
			{Key: "secret:X402_GATEWAY_RECEIPT_KEY", Prompt: "receipt signing key (Enter: generate one)", Where: "any 32+ random bytes; your API verifies receipts with it", Optional: true, Sample: "receipt-key-0123456789abcdef0123456789abcdef"},
			{Key: "secret:X402_GATEWAY_UPSTREAM_AUTH", Prompt: "credential header value for your API (Enter: none)", Where: "your API", Optional: true, Sample: "Bearer upstream-token"},
		}},
	// Wallets and passes: the Sign-In with Ethereum bridge (JWT secret; used nonces in InsForge) and
	// the passes sold for x402 (payments' secrets and the JWT secret). Its one value is the product list.
	{Name: "wallets", Condition: "Wallets", Needs: []string{"payments"}, NeedsOrigins: true,
		Secrets: []Secret{jwtSecret, serviceKeySecret, okxSecret},
		Questions: []Question{
			{Key: "PassProducts", Prompt: "passes on sale (JSON array)", Where: "docs/wallets.md", Sample: `[{"id":"pro","price":"10000","duration":"720h","description":"Premium reports for 30 days"}]`},
		}},
}...)

// Common questions: asked once whatever is picked (the stack, the region and the feature list are
// asked before them). The JWT secret is asked once when any bridge is picked.
var (
	Stack    = Question{Key: "stack", Prompt: "stack name", Sample: "insforge-edge-functions"}
	Region   = Question{Key: "region", Prompt: "AWS region", Sample: "us-east-1"}
	Picks    = Question{Key: "features", Prompt: "features (comma list: " + names() + ")"}
	JwtValue = Question{Key: "secret:INSFORGE_JWT_SECRET", Prompt: "InsForge JWT secret", Where: "npx -y @insforge/cli secrets get JWT_SECRET", Sample: "rehearsal-jwt-secret-0123456789abcdef0123456789"}
	Origins  = Question{Key: "AllowedOrigins", Prompt: "your app's origins (comma list; Enter: none)", Where: "where your SPA is served (https://app.example.com)", Optional: true, Sample: "https://app.rehearsal.invalid"}
	// OriginsRequired is Origins when a picked feature cannot start without them (a Sign-In with
	// Ethereum message names the app's domain).
	OriginsRequired = Question{Key: Origins.Key, Prompt: "your app's origins (comma list)", Where: Origins.Where, Sample: Origins.Sample}
	Email           = Question{Key: "AlarmEmail", Prompt: "e-mail for alarms (Enter: none)", Optional: true, Sample: "ops@rehearsal.invalid"}
)

func names() string {
	var n []string
	for _, f := range Features {
		n = append(n, f.Name)
	}
	return strings.Join(n, ", ")
}

// Lookup returns the named features, with the ones they need, in offering order.
func Lookup(picked []string) ([]Feature, error) {
	want := map[string]bool{}
	for _, p := range picked {
		p = strings.ToLower(strings.TrimSpace(p))
		if p == "" {
			continue
		}
		if p == "all" || p == "everything" {
			for _, f := range Features {
				want[f.Name] = true
			}
			continue
		}
		idx := slices.IndexFunc(Features, func(f Feature) bool { return f.Name == p })
		if idx < 0 {
			return nil, fmt.Errorf("no feature %q (choose from %s)", p, names())
		}
		want[p] = true
		for _, n := range Features[idx].Needs {
			want[n] = true
		}
	}
	if len(want) == 0 {
		return nil, fmt.Errorf("pick at least one feature (%s)", names())
	}
	var out []Feature
	for _, f := range Features {
		if want[f.Name] {
			out = append(out, f)
		}
	}
	return out, nil
}

// Questions is everything `make deploy` asks for the picked features, in order.
func Questions(fs []Feature) []Question {
	q := []Question{Stack, Region, Picks}
	bridges := false
	for _, f := range fs {
		if slices.ContainsFunc(f.Secrets, func(s Secret) bool { return s.Param == jwtSecret.Param }) {
			bridges = true
		}
	}
	for _, f := range fs {
		q = append(q, f.Questions...)
	}
	if bridges {
		q = append(q, JwtValue)
	}
	origins := Origins
	if slices.ContainsFunc(fs, func(f Feature) bool { return f.NeedsOrigins }) {
		origins = OriginsRequired
	}
	return append(q, origins, Email)
}

// Secrets are the secrets the picked features read, each once.
func Secrets(fs []Feature) []Secret {
	var out []Secret
	for _, f := range fs {
		for _, s := range f.Secrets {
			if !slices.ContainsFunc(out, func(x Secret) bool { return x.Param == s.Param }) {
				out = append(out, s)
			}
		}
	}
	return out
}

// SampleValues are well-formed parameter values that pick exactly fs (secret ARNs point at
// secrets named after the stack in account 123456789012), for tests and the rehearsal.
func SampleValues(fs []Feature, arn func(Secret) string) map[string]string {
	v := map[string]string{}
	for _, f := range fs {
		for _, q := range f.Questions {
			if !strings.HasPrefix(q.Key, "secret:") {
				v[q.Key] = q.Sample
			}
		}
	}
	for _, s := range Secrets(fs) {
		v[s.Param] = arn(s)
	}
	if slices.ContainsFunc(fs, func(f Feature) bool { return f.NeedsOrigins }) {
		v[OriginsRequired.Key] = OriginsRequired.Sample
	}
	return v
}
