package config

import (
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/insforge/edge-functions-go/shared/secretstore"
	"github.com/insforge/edge-functions-go/shared/secretstore/mototest"
)

type Inner struct {
	Key string `envconfig:"TEST_SEC_KEY" required:"true" secret:"true"`
}

type secretSpec struct {
	Inner
	Optional string `envconfig:"TEST_SEC_OPTIONAL" secret:"true"`
	Plain    string `envconfig:"TEST_SEC_PLAIN" default:"plain-default"`
}

const keyValue = "k-0123456789-very-secret-value"

func setEnv(t *testing.T, env map[string]string) {
	t.Helper()
	for _, k := range []string{SecretsVar, "TEST_SEC_KEY", "TEST_SEC_OPTIONAL", "TEST_SEC_PLAIN"} {
		t.Setenv(k, "")
	}
	for k, v := range env {
		t.Setenv(k, v)
	}
	resetSecretCache()
	t.Cleanup(resetSecretCache)
}

// keySecret stores TEST_SEC_KEY=keyValue as the secret name in a fresh moto; env
// names it in SecretsVar with moto's endpoint and credentials.
func keySecret(t *testing.T, name string) (moto *mototest.Server, arn string, env map[string]string) {
	t.Helper()
	moto = mototest.Start(t)
	arn = moto.CreateSecret(t, name, `{"TEST_SEC_KEY":"`+keyValue+`"}`)
	env = moto.Env(mototest.AccessKey, mototest.SecretKey)
	env[SecretsVar] = arn
	return moto, arn, env
}

func TestLoadSecretsFromSecretsManager(t *testing.T) {
	moto := mototest.Start(t)
	good := moto.CreateSecret(t, "fn/good", `{"TEST_SEC_KEY":"`+keyValue+`","TEST_SEC_OPTIONAL":"opt","UNRELATED":"x"}`)
	onlyOptional := moto.CreateSecret(t, "fn/optional", `{"TEST_SEC_OPTIONAL":"opt"}`)
	other := moto.CreateSecret(t, "fn/other", `{"TEST_SEC_KEY":"another"}`)
	malformed := moto.CreateSecret(t, "fn/malformed", `TEST_SEC_KEY=`+keyValue)
	absent := "arn:aws:secretsmanager:us-east-1:123456789012:secret:fn/absent-AbCdEf"
	aws := moto.Env(mototest.AccessKey, mototest.SecretKey)
	with := func(extra map[string]string) map[string]string {
		m := map[string]string{}
		for k, v := range aws {
			m[k] = v
		}
		for k, v := range extra {
			m[k] = v
		}
		return m
	}

	cases := []struct {
		name    string
		env     map[string]string
		want    secretSpec
		errIs   any    // *SecretError or *secretstore.Error
		errName string // the variable or secret the error must name
	}{
		{name: "secret fields come from the secret, plain ones from the environment",
			env:  with(map[string]string{SecretsVar: good, "TEST_SEC_PLAIN": "p"}),
			want: secretSpec{Inner: Inner{Key: keyValue}, Optional: "opt", Plain: "p"}},
		{name: "without CONFIG_SECRETS the plain environment is used",
			env:  map[string]string{"TEST_SEC_KEY": "from-env"},
			want: secretSpec{Inner: Inner{Key: "from-env"}, Plain: "plain-default"}},
		{name: "two secrets are merged",
			env:  with(map[string]string{SecretsVar: onlyOptional + "," + other}),
			want: secretSpec{Inner: Inner{Key: "another"}, Optional: "opt", Plain: "plain-default"}},
		{name: "a variable in two secrets is refused",
			env:   with(map[string]string{SecretsVar: good + "," + other}),
			errIs: &SecretError{}, errName: "TEST_SEC_KEY"},
		{name: "a secret variable also set in plain text is refused",
			env:   with(map[string]string{SecretsVar: good, "TEST_SEC_KEY": "plaintext"}),
			errIs: &SecretError{}, errName: "TEST_SEC_KEY"},
		{name: "a required variable missing from the secret names it and the secret",
			env:   with(map[string]string{SecretsVar: onlyOptional}),
			errIs: &SecretError{}, errName: onlyOptional},
		{name: "a missing secret fails naming it",
			env:   with(map[string]string{SecretsVar: absent}),
			errIs: &secretstore.Error{}, errName: absent},
		{name: "a malformed secret fails naming it",
			env:   with(map[string]string{SecretsVar: malformed}),
			errIs: &secretstore.Error{}, errName: malformed},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			setEnv(t, tc.env)
			var got secretSpec
			err := Load(&got)
			if tc.errIs == nil {
				if err != nil {
					t.Fatal(err)
				}
				if got != tc.want {
					t.Fatalf("got %+v", got)
				}
				return
			}
			if err == nil {
				t.Fatal("Load succeeded")
			}
			if !IsSecretError(err) {
				t.Fatalf("not a secret error: %v", err)
			}
			switch tc.errIs.(type) {
			case *SecretError:
				var se *SecretError
				if !errors.As(err, &se) {
					t.Fatalf("err = %T %v", err, err)
				}
			case *secretstore.Error:
				var se *secretstore.Error
				if !errors.As(err, &se) {
					t.Fatalf("err = %T %v", err, err)
				}
			}
			if !strings.Contains(err.Error(), tc.errName) {
				t.Errorf("error does not name %s: %v", tc.errName, err)
			}
			if strings.Contains(err.Error(), keyValue) || strings.Contains(err.Error(), "plaintext") {
				t.Errorf("error leaks a value: %v", err)
			}
		})
	}
}

// The secrets are read once per process: a second Load (another config struct of
// the same function) is served from memory even if Secrets Manager is gone.
func TestSecretsAreReadOncePerProcess(t *testing.T) {
	moto, arn, env := keySecret(t, "fn/once")
	setEnv(t, env)
	var first secretSpec
	if err := Load(&first); err != nil {
		t.Fatal(err)
	}
	moto.DeleteSecret(t, arn)
	var second secretSpec
	if err := Load(&second); err != nil {
		t.Fatalf("second Load read Secrets Manager again: %v", err)
	}
	if second.Key != keyValue {
		t.Fatal("second Load lost the secret")
	}
	if v, ok := lookupEnv("TEST_SEC_KEY"); !ok || v != "" {
		t.Fatalf("the process environment's TEST_SEC_KEY changed (set %v, %d bytes); it was set and empty", ok, len(v))
	}
	resetSecretCache()
	if err := Load(&second); err == nil {
		t.Fatal("after a reset the deleted secret was still found: the cache test proves nothing")
	}
}

func TestSecretTagNeedsAStringWithAName(t *testing.T) {
	setEnv(t, nil)
	var bad struct {
		N int `envconfig:"TEST_SEC_N" secret:"true"`
	}
	if err := Load(&bad); err == nil || !strings.Contains(err.Error(), "secret") {
		t.Fatalf("err = %v", err)
	}
}

func lookupEnv(k string) (string, bool) { return os.LookupEnv(k) }

func TestSecretInANamedStructFieldIsRefused(t *testing.T) {
	setEnv(t, nil)
	var nested struct {
		Sub Inner
	}
	if err := Load(&nested); err == nil || !strings.Contains(err.Error(), "embedded") {
		t.Fatalf("err = %v", err)
	}
}
