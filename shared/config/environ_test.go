package config

import (
	"os"
	"slices"
	"testing"

	"github.com/insforge/edge-functions-go/shared/secretstore/mototest"
)

// Load reads the process environment and never writes it: not the empty
// variables it treats as unset, not the secrets it resolves.
func TestLoadLeavesTheProcessEnvironmentAlone(t *testing.T) {
	moto := mototest.Start(t)
	arn := moto.CreateSecret(t, "fn/environ", `{"TEST_SEC_KEY":"`+keyValue+`"}`)
	env := moto.Env(mototest.AccessKey, mototest.SecretKey)
	env[SecretsVar] = arn
	env["TEST_CFG_LIST"] = ""
	env["TEST_CFG_NAME"] = "ok"
	setEnv(t, env)

	before := os.Environ()
	var s secretSpec
	var plain spec
	if err := Load(&s, &plain); err != nil {
		t.Fatal(err)
	}
	if s.Key != keyValue || plain.Name != "ok" {
		t.Fatalf("Load did not fill the specs: %+v %+v", s, plain)
	}
	after := os.Environ()
	slices.Sort(before)
	slices.Sort(after)
	if !slices.Equal(before, after) {
		t.Fatalf("Load changed the process environment:\nbefore %d variables\nafter  %d variables", len(before), len(after))
	}
	if _, ok := os.LookupEnv("TEST_CFG_LIST"); !ok {
		t.Fatal("an empty variable was unset")
	}
}
