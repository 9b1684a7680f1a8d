// Package config loads a function's settings from the environment with envconfig
// and validates them at cold start. Errors name the variable at fault.
package config

import (
	"fmt"
	"net"
	"net/url"
	"os"
	"strings"

	"github.com/kelseyhightower/envconfig"
)

// Validator is implemented by specs that check more than presence and type.
type Validator interface{ Validate() error }

// Load fills spec from the environment (variable names come from `envconfig` tags)
// and runs its Validate method when it has one. Fields tagged `secret:"true"` come
// from the secrets listed in CONFIG_SECRETS when it is set (see SecretsVar for the
// precedence), read once per process at cold start.
//
// An empty variable counts as unset. envconfig alone treats VAR="" as present, so a
// required secret would pass empty and a default would not apply; and a SAM
// parameter left at an empty default reaches the function as exactly that.
func Load(spec any) error {
	for _, kv := range os.Environ() {
		if k, v, ok := strings.Cut(kv, "="); ok && v == "" {
			os.Unsetenv(k)
		}
	}
	fields, err := secretFields(spec)
	if err != nil {
		return fmt.Errorf("configuration: %w", err)
	}
	set, err := applySecrets(fields)
	defer func() {
		for _, k := range set {
			os.Unsetenv(k)
		}
	}()
	if err != nil {
		return fmt.Errorf("configuration: %w", err)
	}
	if err := envconfig.Process("", spec); err != nil {
		return fmt.Errorf("configuration: %w", err)
	}
	if v, ok := spec.(Validator); ok {
		if err := v.Validate(); err != nil {
			return fmt.Errorf("configuration: %w", err)
		}
	}
	return nil
}

// CSV is a comma-separated list; blanks around items and empty items are dropped.
type CSV []string

// Decode implements envconfig.Decoder.
func (c *CSV) Decode(v string) error {
	*c = SplitCSV(v)
	return nil
}

// SplitCSV splits a comma-separated list, trimming items and dropping empty ones.
func SplitCSV(v string) []string {
	var out []string
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// Environment names the deployment stage. Unset means production, the safe side:
// development-only features (mock facilitator) refuse to start there.
type Environment struct {
	Name string `envconfig:"ENVIRONMENT" default:"production"`
}

// IsProduction reports whether this is a production deployment.
func (e Environment) IsProduction() bool {
	return strings.EqualFold(strings.TrimSpace(e.Name), "production") || strings.EqualFold(strings.TrimSpace(e.Name), "prod")
}

// CheckURL validates an outbound URL from configuration: absolute, https, or http
// only to a loopback host (local runner and tests). name is the variable reported.
func CheckURL(name, raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return nil, fmt.Errorf("%s must be an absolute http(s) URL, got %q", name, raw)
	}
	if u.Scheme == "http" && !IsLoopback(u.Hostname()) {
		return nil, fmt.Errorf("%s must use https (plain http is allowed only for loopback hosts), got %q", name, raw)
	}
	return u, nil
}

// IsLoopback reports whether host is localhost or a loopback IP.
func IsLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
