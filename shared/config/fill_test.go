package config_test

import (
	"errors"
	"fmt"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/kelseyhightower/envconfig"

	"github.com/insforge/edge-functions-go/shared/bridge"
	"github.com/insforge/edge-functions-go/shared/config"
	"github.com/insforge/edge-functions-go/shared/facilitator"
	"github.com/insforge/edge-functions-go/shared/identity"
	"github.com/insforge/edge-functions-go/shared/insforge"
	"github.com/insforge/edge-functions-go/shared/paywall"
	"github.com/insforge/edge-functions-go/shared/signer"
	"github.com/insforge/edge-functions-go/shared/x402gateway"
	"github.com/insforge/edge-functions-go/shared/x402payments"
	"github.com/insforge/edge-functions-go/shared/x402payments/dashboard"
	"github.com/insforge/edge-functions-go/shared/x402reconcile"
	"github.com/insforge/edge-functions-go/shared/x402report"
)

// projectConfigs lists every struct of the project that is filled from the
// environment (testfn's is in a main-like package and has one string).
func projectConfigs() []any {
	out := []any{
		&config.Environment{}, &signer.Config{}, &insforge.Config{}, &bridge.Config{},
		&facilitator.Config{}, &paywall.Config{}, &x402report.Config{}, &x402payments.Config{},
		&dashboard.Config{}, &x402reconcile.Config{}, &x402gateway.Config{},
	}
	for _, b := range identity.Bridges {
		out = append(out, b.Config())
	}
	return out
}

// variables lists the tagged variables of a spec with a sample value of the
// field's type.
func variables(t reflect.Type, out map[string]string) {
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if !f.IsExported() || f.Tag.Get("ignored") == "true" {
			continue
		}
		if f.Anonymous && f.Type.Kind() == reflect.Struct {
			variables(f.Type, out)
			continue
		}
		name := f.Tag.Get("envconfig")
		if name == "" {
			panic(fmt.Sprintf("%s.%s has no envconfig name", t, f.Name))
		}
		switch {
		case f.Type == reflect.TypeOf(time.Duration(0)):
			out[name] = "3m7s"
		case f.Type == reflect.TypeOf(config.CSV(nil)):
			out[name] = " https://a.example, ,https://b.example "
		case f.Type.Kind() == reflect.Bool:
			out[name] = "true"
		case f.Type.Kind() >= reflect.Int && f.Type.Kind() <= reflect.Int64:
			out[name] = "0x11"
		case f.Type.Kind() >= reflect.Uint && f.Type.Kind() <= reflect.Uint64:
			out[name] = "0x12"
		case f.Type.Kind() == reflect.String:
			out[name] = "value of " + name
		default:
			panic(fmt.Sprintf("%s.%s: no sample for %s", t, f.Name, f.Type))
		}
	}
}

// envconfig stays the reference: with every variable set, and with every
// variable unset, Load's own filler produces exactly what envconfig.Process does
// on the same environment (empty counts as unset, so the unset case covers it).
func TestFillAgreesWithEnvconfig(t *testing.T) {
	lookup := func(k string) (string, bool) {
		v, ok := os.LookupEnv(k)
		return v, ok && v != ""
	}
	for _, spec := range projectConfigs() {
		typ := reflect.TypeOf(spec).Elem()
		vars := map[string]string{}
		variables(typ, vars)
		if len(vars) == 0 {
			t.Fatalf("%s has no variables", typ)
		}
		for _, set := range []bool{true, false} {
			t.Run(fmt.Sprintf("%s/set=%v", typ, set), func(t *testing.T) {
				for k, v := range vars {
					if set {
						t.Setenv(k, v)
					} else {
						t.Setenv(k, "")
						os.Unsetenv(k) // envconfig would see "" as set; t.Setenv restores it after
					}
				}
				want := reflect.New(typ).Interface()
				got := reflect.New(typ).Interface()
				werr := envconfig.Process("", want)
				gerr := config.Fill(got, lookup)
				if (werr == nil) != (gerr == nil) {
					t.Fatalf("envconfig err = %v, Fill err = %v", werr, gerr)
				}
				if werr != nil {
					var ve *config.VarError
					if !errors.As(gerr, &ve) || !strings.Contains(werr.Error(), ve.Var) {
						t.Fatalf("envconfig err = %v, Fill err = %v (want a VarError naming the same variable)", werr, gerr)
					}
					return
				}
				if !reflect.DeepEqual(want, got) {
					t.Fatalf("envconfig filled %+v\nFill filled      %+v", want, got)
				}
			})
		}
	}
}
