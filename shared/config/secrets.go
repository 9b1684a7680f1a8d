package config

import (
	"context"
	"errors"
	"fmt"
	"os"
	"reflect"
	"strings"
	"sync"

	"github.com/insforge/edge-functions-go/shared/secretstore"
)

// SecretsVar names the variable that lists the function's Secrets Manager secrets
// (comma-separated ARNs or names). Each secret's SecretString is a JSON object whose
// keys are variable names: {"INSFORGE_JWT_SECRET":"…"}.
//
// Precedence, for every struct field tagged `secret:"true"`: each has exactly one
// source. With CONFIG_SECRETS set, the value comes from the listed secrets, and the
// same variable set in the plain environment fails the cold start (a plaintext copy
// in the function's configuration is what the secret exists to avoid). Without
// CONFIG_SECRETS (make dev, tests) the plain environment is used. Fields without the
// tag always come from the environment.
const SecretsVar = "CONFIG_SECRETS"

// SecretReason says why a secret-tagged variable could not be resolved.
type SecretReason string

// Reasons beyond a failed read (which is a *secretstore.Error).
const (
	SecretMissing       SecretReason = "missing from the secrets"
	SecretInEnvironment SecretReason = "also set in the plain environment"
	SecretDuplicated    SecretReason = "present in more than one secret"
)

// SecretError names the variable and the secrets involved, never a value.
type SecretError struct {
	Var     string
	Secrets []string
	Reason  SecretReason
}

func (e *SecretError) Error() string {
	switch e.Reason {
	case SecretInEnvironment:
		return fmt.Sprintf("%s is %s; with %s set it must come only from the secret (%s): remove the plain variable",
			e.Var, e.Reason, SecretsVar, strings.Join(e.Secrets, ", "))
	default:
		return fmt.Sprintf("%s is %s %s", e.Var, e.Reason, strings.Join(e.Secrets, ", "))
	}
}

// secretCache holds the secrets read at cold start for the life of the instance:
// every Load of the process shares one read per secret.
var secretCache struct {
	mu     sync.Mutex
	ids    string            // the CONFIG_SECRETS value the cache was filled for
	values map[string]string // variable → value
	from   map[string]string // variable → secret id
}

// resetSecretCache forgets what was read (tests).
func resetSecretCache() {
	secretCache.mu.Lock()
	defer secretCache.mu.Unlock()
	secretCache.ids, secretCache.values, secretCache.from = "", nil, nil
}

type secretField struct {
	Var      string
	Required bool
}

// secretFields lists the secret-tagged fields of spec (a pointer to a struct),
// embedded structs included.
func secretFields(spec any) ([]secretField, error) {
	t := reflect.TypeOf(spec)
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == nil || t.Kind() != reflect.Struct {
		return nil, nil
	}
	var out []secretField
	var walk func(reflect.Type) error
	walk = func(t reflect.Type) error {
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			if !f.IsExported() || isTrue(f.Tag.Get("ignored")) {
				continue // Load does not fill it (a named library Config is its own spec)
			}
			if f.Anonymous && f.Type.Kind() == reflect.Struct {
				if err := walk(f.Type); err != nil {
					return err
				}
				continue
			}
			if f.Type.Kind() == reflect.Struct && f.Tag.Get("secret") != "true" {
				// envconfig prefixes a named struct field's variables; a secret there would
				// be looked up under a name this walk does not know.
				if inner, _ := secretFields(reflect.New(f.Type).Interface()); len(inner) > 0 {
					return fmt.Errorf("field %s.%s: secret:\"true\" fields must be top level or in an embedded struct", t.Name(), f.Name)
				}
				continue
			}
			if f.Tag.Get("secret") != "true" {
				continue
			}
			name := f.Tag.Get("envconfig")
			if name == "" || f.Type.Kind() != reflect.String {
				return fmt.Errorf("field %s.%s: a secret:\"true\" field must be a string with an envconfig name", t.Name(), f.Name)
			}
			out = append(out, secretField{Var: name, Required: f.Tag.Get("required") == "true"})
		}
		return nil
	}
	return out, walk(t)
}

// resolveSecrets resolves spec's secret fields from CONFIG_SECRETS. The result
// maps every secret field's variable to its value ("" when an optional one is
// absent); Load reads those variables from it and nowhere else. Without
// CONFIG_SECRETS it returns nil and the plain environment is used.
func resolveSecrets(fields []secretField) (map[string]string, error) {
	ids := SplitCSV(os.Getenv(SecretsVar))
	if len(fields) == 0 || len(ids) == 0 {
		return nil, nil
	}
	values, from, err := readSecrets(ids)
	if err != nil {
		return nil, err
	}
	out := make(map[string]string, len(fields))
	for _, f := range fields {
		v, ok := values[f.Var]
		if os.Getenv(f.Var) != "" {
			secrets := ids
			if ok {
				secrets = []string{from[f.Var]}
			}
			return nil, &SecretError{Var: f.Var, Secrets: secrets, Reason: SecretInEnvironment}
		}
		if (!ok || v == "") && f.Required {
			return nil, &SecretError{Var: f.Var, Secrets: ids, Reason: SecretMissing}
		}
		out[f.Var] = v
	}
	return out, nil
}

// readSecrets reads every listed secret once per process and merges their fields.
func readSecrets(ids []string) (map[string]string, map[string]string, error) {
	key := strings.Join(ids, ",")
	secretCache.mu.Lock()
	defer secretCache.mu.Unlock()
	if secretCache.values != nil && secretCache.ids == key {
		return secretCache.values, secretCache.from, nil
	}
	client, err := secretstore.FromEnv()
	if err != nil {
		return nil, nil, fmt.Errorf("%s is set but Secrets Manager cannot be called: %w", SecretsVar, err)
	}
	values, from := map[string]string{}, map[string]string{}
	for _, id := range ids {
		ctx, cancel := context.WithTimeout(context.Background(), secretstore.DefaultTimeout)
		fields, err := client.Fields(ctx, id)
		cancel()
		if err != nil {
			return nil, nil, err
		}
		for k, v := range fields {
			if prev, dup := from[k]; dup {
				return nil, nil, &SecretError{Var: k, Secrets: []string{prev, id}, Reason: SecretDuplicated}
			}
			values[k], from[k] = v, id
		}
	}
	secretCache.ids, secretCache.values, secretCache.from = key, values, from
	return values, from, nil
}

// IsSecretError reports whether err is a failure to resolve a secret (read,
// missing, ambiguous), as opposed to an invalid plain setting.
func IsSecretError(err error) bool {
	var se *SecretError
	var re *secretstore.Error
	return errors.As(err, &se) || errors.As(err, &re)
}
