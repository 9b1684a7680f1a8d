// Package config loads a function's settings from the environment with envconfig
// and validates them at cold start. Errors name the variable at fault.
package config

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
)

// Validator is implemented by specs that check more than presence and type.
type Validator interface{ Validate() error }

// Load fills each spec (a pointer to a struct) from the environment (variable
// names come from `envconfig` tags) and runs its Validate method when it has one.
// Every spec is loaded and checked; the errors are joined, so several wrong
// variables are all named. Fields tagged `secret:"true"` come from the secrets
// listed in CONFIG_SECRETS when it is set (see SecretsVar for the precedence),
// read once per process at cold start.
//
// An empty variable counts as unset: a required secret must not pass empty and a
// default must apply, and a SAM parameter left at an empty default reaches the
// function as exactly that. Load only reads the process environment; it never
// sets or unsets a variable (secrets included).
func Load(specs ...any) error {
	var errs []error
	for _, spec := range specs {
		if err := load(spec); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("configuration: %w", errors.Join(errs...))
	}
	return nil
}

func load(spec any) error {
	fields, err := secretFields(spec)
	if err != nil {
		return err
	}
	secrets, err := resolveSecrets(fields)
	if err != nil {
		return err
	}
	lookup := func(key string) (string, bool) {
		if v, isSecret := secrets[key]; isSecret {
			return v, v != ""
		}
		v, ok := os.LookupEnv(key)
		return v, ok && v != ""
	}
	if err := fill(spec, lookup); err != nil {
		return err
	}
	if v, ok := spec.(Validator); ok {
		return v.Validate()
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
// only to a loopback host (local runner and tests). name is the variable reported;
// the value never is (RPC and API URLs often carry a provider key in the path or
// query), nor is url.Parse's error, which quotes it.
func CheckURL(name, raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return nil, Invalid(name, "must be an absolute http(s) URL such as https://host/path")
	}
	if u.Scheme == "http" && !IsLoopback(u.Hostname()) {
		return nil, Invalid(name, "must use https (plain http is allowed only for loopback hosts)")
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

// CheckOrigins validates a browser-origin allow-list such as ALLOWED_ORIGINS: each
// entry is exactly scheme://host[:port] (http or https, no path, query, fragment
// or user info, as a browser sends in Origin), "null" is refused (sandboxed
// iframes and file: pages all send it, so allowing it with credentials allows
// anyone), and "*" is accepted only as the sole entry. name is the variable
// reported; entries are reported by position, not by value.
func CheckOrigins(name string, origins []string) error {
	if err := checkOrigins(name, origins); err != nil {
		return &VarError{Var: name, Err: err}
	}
	return nil
}

func checkOrigins(name string, origins []string) error {
	for i, o := range origins {
		pos := fmt.Sprintf("%s entry %d", name, i+1)
		switch {
		case o == "*":
			if len(origins) != 1 {
				return fmt.Errorf("%s: \"*\" must be the only entry (it allows every origin, without credentials)", pos)
			}
			continue
		case strings.EqualFold(o, "null"):
			return fmt.Errorf("%s: the origin \"null\" is refused (sandboxed and file: pages send it; allowing it allows anyone)", pos)
		}
		u, err := url.Parse(o)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil ||
			u.Opaque != "" || u.Path != "" || u.RawQuery != "" || u.ForceQuery || u.Fragment != "" || strings.HasSuffix(o, "#") {
			return fmt.Errorf("%s must be an origin, scheme://host[:port] with no path or trailing slash (e.g. https://www.example.org)", pos)
		}
		if u.Scheme+"://"+u.Host != o || strings.ToLower(o) != o {
			return fmt.Errorf("%s must be written exactly as a browser sends it: lower case, no default port quirks, no trailing slash", pos)
		}
		if p := u.Port(); p != "" {
			if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 || strconv.Itoa(n) != p {
				return fmt.Errorf("%s has an invalid port", pos)
			}
			if (u.Scheme == "https" && p == "443") || (u.Scheme == "http" && p == "80") {
				return fmt.Errorf("%s names the default port; browsers omit it from Origin, so the entry would never match", pos)
			}
		}
		if h := u.Hostname(); h == "" || strings.ContainsAny(h, "*%") {
			return fmt.Errorf("%s has an invalid host (wildcards are not supported; list each origin)", pos)
		}
	}
	return nil
}
