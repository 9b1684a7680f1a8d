package runner

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/insforge/edge-functions-go/scripts/runner/runtimeapi"
	"github.com/insforge/edge-functions-go/shared/config"
	"github.com/insforge/edge-functions-go/shared/logtest"
	"github.com/insforge/edge-functions-go/shared/secretstore/mototest"
)

// A deployed bridge whose secret cannot be used fails its cold start (Lambda's
// init error), naming the secret and never printing the value; with a good
// secret the same function answers. The real binary runs through the runner's
// Runtime API against a real moto_server.
func TestColdStartFailsNamingTheSecret(t *testing.T) {
	moto := mototest.Start(t)
	const value = "0123456789abcdef0123456789abcdef-jwt-value"
	good := moto.CreateSecret(t, "clerk/good", `{"INSFORGE_JWT_SECRET":"`+value+`"}`)
	malformed := moto.CreateSecret(t, "clerk/malformed", `INSFORGE_JWT_SECRET=`+value)
	empty := moto.CreateSecret(t, "clerk/other", `{"STYTCH_SECRET":"x"}`)
	absent := "arn:aws:secretsmanager:us-east-1:123456789012:secret:clerk/absent-AbCdEf"
	denied := moto.CreateSecret(t, "clerk/denied", `{"INSFORGE_JWT_SECRET":"`+value+`"}`)
	userKey, userSecret := moto.User(t, "clerk-role",
		`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"secretsmanager:DescribeSecret","Resource":"*"}]}`)

	env, err := Start(context.Background(), Options{Template: repoTemplate, Dev: true, IssuerAddr: "127.0.0.1:0",
		Only: []string{"TokenClerkFunction"}, Logs: io.Discard, Log: slog.New(slog.DiscardHandler), CacheDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(env.Close)
	pool, ok := env.Pools["TokenClerkFunction"]
	if !ok {
		t.Fatal("the runner has no TokenClerkFunction")
	}
	raw, err := os.ReadFile("../../events/token-clerk-valid.json")
	if err != nil {
		t.Fatal(err)
	}
	boot := func(t *testing.T, secretID, key, secret string) runtimeapi.Result {
		t.Helper()
		spec := pool.Spec()
		spec.Env = map[string]string{}
		for k, v := range pool.Spec().Env {
			spec.Env[k] = v
		}
		delete(spec.Env, "INSFORGE_JWT_SECRET") // deployed: only in the secret
		spec.Env[config.SecretsVar] = secretID
		for k, v := range moto.Env(key, secret) {
			spec.Env[k] = v
		}
		logs := &lockedBuffer{}
		spec.Logs = logs
		payload, err := Fill(raw, env.Issuer)
		if err != nil {
			t.Fatal(err)
		}
		p := runtimeapi.NewPool(spec)
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		res, err := p.Invoke(ctx, payload)
		p.Close()
		if err != nil {
			t.Fatal(err)
		}
		time.Sleep(100 * time.Millisecond)
		if strings.Contains(logs.String(), value) {
			t.Fatalf("the secret's value reached the logs")
		}
		return res
	}

	t.Run("a good secret serves the request", func(t *testing.T) {
		res := boot(t, good, mototest.AccessKey, mototest.SecretKey)
		var out struct{ StatusCode int }
		_ = json.Unmarshal(res.Payload, &out)
		if res.Err != nil || out.StatusCode != 200 {
			t.Fatalf("err %v, status %d", res.Err, out.StatusCode)
		}
	})
	cases := []struct {
		name, id, want string
	}{
		{"missing secret", absent, "not found"},
		{"malformed value", malformed, "malformed"},
		{"required variable absent from the secret", empty, "INSFORGE_JWT_SECRET"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			res := boot(t, c.id, mototest.AccessKey, mototest.SecretKey)
			initFailed(t, res, c.id, c.want, value)
		})
	}
	t.Run("access denied", func(t *testing.T) {
		moto.EnforceAuth(t) // last: from here on moto checks signatures and policies
		res := boot(t, denied, userKey, userSecret)
		initFailed(t, res, denied, "access denied", value)
	})
}

func initFailed(t *testing.T, res runtimeapi.Result, secretID, want, value string) {
	t.Helper()
	if res.Err == nil || res.Err.Phase != "init" {
		t.Fatalf("want an init error, got %+v payload %.200s", res.Err, res.Payload)
	}
	msg := res.Err.Message
	if !strings.Contains(msg, secretID) || !strings.Contains(msg, want) {
		t.Fatalf("init error %q does not name %s (%s)", msg, secretID, want)
	}
	if strings.Contains(msg, value) {
		t.Fatal("the init error carries the secret's value")
	}
}

// lockedBuffer collects the function's output; read after the pool is closed.
type lockedBuffer = logtest.Buffer
