package identity

import (
	"net/url"
	"strings"

	"github.com/insforge/edge-functions-go/shared/config"
)

// maxIDLen bounds a provider id before it is put into a URL path.
const maxIDLen = 128

// validID reports whether v is 1-128 letters, digits, '_' or '-'. A loop rather
// than a regexp: compiling ^[A-Za-z0-9_-]{1,128}$ at package init unrolled the
// repetition into ~1,700 allocations and 0.6 ms of every bridge's cold start.
func validID(v string) bool {
	if len(v) == 0 || len(v) > maxIDLen {
		return false
	}
	for i := 0; i < len(v); i++ {
		c := v[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

func checkID(name, v string) error {
	if !validID(v) {
		return config.Invalid(name, "must be letters, digits, '_' or '-'")
	}
	return nil
}

// checkBaseURL validates an outbound base URL and returns it without a trailing slash.
func checkBaseURL(name, raw string) (string, error) {
	raw = strings.TrimSpace(raw)
	u, err := config.CheckURL(name, raw)
	if err != nil {
		return "", err
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return "", config.Invalid(name, "must not have a query or fragment")
	}
	return strings.TrimRight(raw, "/"), nil
}

// origin returns scheme://host[:port] of an already checked URL.
func origin(raw string) string {
	u, _ := url.Parse(raw)
	return u.Scheme + "://" + u.Host
}

// orDefault returns v unless it is blank.
func orDefault(v, def string) string {
	if v = strings.TrimSpace(v); v != "" {
		return v
	}
	return def
}

// newJWTProvider builds a Provider around one JWT verifier.
func newJWTProvider(cfg JWTSpec, cookies []string, opts Options) (*Provider, *JWTVerifier, error) {
	v, err := NewJWT(cfg, opts)
	if err != nil {
		return nil, nil, err
	}
	return &Provider{Name: cfg.Provider, Cookies: cookies, Verifier: v, closers: []func(){v.Close}, now: opts.withDefaults().Now}, v, nil
}

// checkSpec is the Validate of a JWT provider's configuration, which resolves
// (its jwt method) to the spec of its one verifier; its constructor builds on the
// same spec (newSpecProvider).
func checkSpec(jwt func() (JWTSpec, error)) error {
	jc, err := jwt()
	if err != nil {
		return err
	}
	return jc.check()
}

// newSpecProvider resolves the spec and builds the Provider around its verifier.
func newSpecProvider(jwt func() (JWTSpec, error), cookies []string, o Options) (*Provider, *JWTVerifier, error) {
	jc, err := jwt()
	if err != nil {
		return nil, nil, err
	}
	return newJWTProvider(jc, cookies, o)
}

// sessionConfig is the configuration of a provider that takes opaque sessions
// beside its JWTs (Stytch, Better Auth): the JWT spec, the session API's base
// URL, and the cookies that may carry either kind of credential.
type sessionConfig interface {
	resolve() (spec JWTSpec, api string, err error)
	cookies() ([]string, error)
}

// sessionProvider is the JWT side of such a provider, built; the constructor
// adds the session side and routes between them.
type sessionProvider struct {
	*Provider
	jwt     *JWTVerifier
	api     string   // the session API's base URL
	cookies []string // as sessionConfig.cookies
	opts    Options  // with defaults, for the session side's client and guard
}

// checkSessions is the Validate of a sessionConfig.
func checkSessions(c sessionConfig) error {
	_, _, _, err := resolveSessions(c)
	return err
}

func resolveSessions(c sessionConfig) (JWTSpec, string, []string, error) {
	jc, api, err := c.resolve()
	if err != nil {
		return JWTSpec{}, "", nil, err
	}
	cookies, err := c.cookies()
	if err != nil {
		return JWTSpec{}, "", nil, err
	}
	return jc, api, cookies, jc.check()
}

func newSessionProvider(c sessionConfig, o Options) (sessionProvider, error) {
	jc, api, cookies, err := resolveSessions(c)
	if err != nil {
		return sessionProvider{}, err
	}
	p, v, err := newJWTProvider(jc, cookies, o)
	if err != nil {
		return sessionProvider{}, err
	}
	return sessionProvider{Provider: p, jwt: v, api: api, cookies: cookies, opts: o.withDefaults()}, nil
}

// validCookieName reports whether v is 1-64 letters, digits, '-', '_' or '.'
// (a subset of RFC 6265 token characters that every cookie library accepts).
func validCookieName(v string) bool {
	if len(v) == 0 || len(v) > 64 {
		return false
	}
	for i := 0; i < len(v); i++ {
		c := v[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}
