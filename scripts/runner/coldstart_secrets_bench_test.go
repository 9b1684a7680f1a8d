package runner

import (
	"encoding/json"
	"testing"

	"github.com/insforge/edge-functions-go/shared/config"
	"github.com/insforge/edge-functions-go/shared/secretstore/mototest"
)

// secretVars are the variables the functions tag secret:"true" today (the
// template check finds them by scanning the source; a benchmark can name them).
var secretVars = []string{"INSFORGE_JWT_SECRET", "STYTCH_SECRET", "OKX_API_KEY", "OKX_SECRET_KEY", "OKX_PASSPHRASE", "INSFORGE_SERVICE_KEY",
	"X402_GATEWAY_UPSTREAM_URL", "X402_GATEWAY_UPSTREAM_AUTH", "X402_GATEWAY_RECEIPT_KEY"}

// BenchmarkColdStartWithSecrets is BenchmarkColdStart as deployed: every
// secret-tagged variable is moved out of the environment into a Secrets Manager
// secret on a local moto_server, and the function gets only CONFIG_SECRETS and
// the role's credentials. The difference to BenchmarkColdStart is the cost of
// the signed GetSecretValue call at init (moto answers from Python on loopback,
// so it is an upper bound for the client side, not Secrets Manager's latency).
//
//	go test -run '^$' -bench ColdStartWithSecrets -benchtime 20x ./scripts/runner/
func BenchmarkColdStartWithSecrets(b *testing.B) {
	moto := mototest.Start(b)
	env, cases := coldStartRunner(b)
	for _, c := range cases {
		pool, ok := env.Pools[c.fn]
		if !ok {
			b.Fatalf("the runner has no %s", c.fn)
		}
		spec := pool.Spec()
		spec.Env = secretsOutOfEnv(b, moto, c.fn, spec.Env)
		b.Run(c.fn, func(b *testing.B) {
			coldStarts(b, env, spec, c.event, func(b *testing.B, payload []byte) {
				var out struct{ StatusCode int }
				_ = json.Unmarshal(payload, &out)
				if out.StatusCode >= 500 {
					b.Fatalf("first response %d: %.300s", out.StatusCode, payload)
				}
			})
		})
	}
}

// secretsOutOfEnv moves the secret variables of env into a new secret and
// returns the environment a deployed function sees instead.
func secretsOutOfEnv(b *testing.B, moto *mototest.Server, fn string, env map[string]string) map[string]string {
	b.Helper()
	out := map[string]string{}
	for k, v := range env {
		out[k] = v
	}
	moved := map[string]string{}
	for _, k := range secretVars {
		if v := out[k]; v != "" {
			moved[k] = v
			delete(out, k)
		}
	}
	if len(moved) == 0 {
		b.Fatalf("%s has no secret variable to move: nothing would be measured", fn)
	}
	doc, _ := json.Marshal(moved)
	out[config.SecretsVar] = moto.CreateSecret(b, "bench/"+fn, string(doc))
	for k, v := range moto.Env(mototest.AccessKey, mototest.SecretKey) {
		out[k] = v
	}
	return out
}
