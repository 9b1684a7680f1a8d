package x402gateway

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/insforge/edge-functions-go/shared/config"
	"github.com/insforge/edge-functions-go/shared/facilitator"
	"github.com/insforge/edge-functions-go/shared/insforge"
	"github.com/insforge/edge-functions-go/shared/paywall"
	"github.com/insforge/edge-functions-go/shared/x402"
)

// Variable names, used in every configuration error.
const (
	VarUpstreamURL        = "X402_GATEWAY_UPSTREAM_URL"
	VarRoutes             = "X402_GATEWAY_ROUTES"
	VarUpstreamAuthHeader = "X402_GATEWAY_UPSTREAM_AUTH_HEADER"
	VarUpstreamAuth       = "X402_GATEWAY_UPSTREAM_AUTH"
	VarReceiptKey         = "X402_GATEWAY_RECEIPT_KEY"
	VarUpstreamTimeout    = "X402_GATEWAY_UPSTREAM_TIMEOUT"
	VarSettleReserve      = "X402_GATEWAY_SETTLE_RESERVE"
	VarMaxResponseBytes   = "X402_GATEWAY_MAX_RESPONSE_BYTES"
)

// Limits on the configuration itself.
const (
	MaxRoutes              = 100
	DefaultMaxRequestBytes = 64 << 10
	// MaxRequestBytesLimit and MaxResponseBytesLimit keep a binary body under
	// Lambda's 6 MB payload limits once base64-encoded (4 MiB → 5.6 MB).
	MaxRequestBytesLimit  = 4 << 20
	MaxResponseBytesLimit = 4 << 20
	// MinReceiptKeyBytes is the HMAC-SHA256 key size (RFC 7518 §3.2).
	MinReceiptKeyBytes = 32
)

// Config is the gateway function's environment, loaded with config.Load. The
// x402 settings (recipient, network, asset, facilitator) are the paywall's;
// the price and description come from each route.
type Config struct {
	Paywall        paywall.Config     `ignored:"true"`
	Facilitator    facilitator.Config `ignored:"true"`
	InsForge       insforge.Config    `ignored:"true"`
	AllowedOrigins config.CSV         `envconfig:"ALLOWED_ORIGINS" default:"*"`

	// UpstreamURL is the API the gateway sells: https, or http to loopback. It
	// lives in the same secret as UpstreamAuth, so the credential and where it is
	// sent change together, never the destination alone.
	UpstreamURL string `envconfig:"X402_GATEWAY_UPSTREAM_URL" secret:"true"`
	// Routes is the route table as JSON (format: RouteSpec, docs/gateway.md).
	Routes string `envconfig:"X402_GATEWAY_ROUTES"`
	// UpstreamAuthHeader names the header that carries UpstreamAuth.
	UpstreamAuthHeader string `envconfig:"X402_GATEWAY_UPSTREAM_AUTH_HEADER" default:"Authorization"`
	// UpstreamAuth is the gateway's own credential for the upstream (the whole
	// header value, e.g. "Bearer sk_…"); empty sends none.
	UpstreamAuth string `envconfig:"X402_GATEWAY_UPSTREAM_AUTH" secret:"true"`
	// ReceiptKey signs X-Payment-Receipt (HS256); at least 32 bytes.
	ReceiptKey string `envconfig:"X402_GATEWAY_RECEIPT_KEY" secret:"true"`
	// UpstreamTimeout bounds one upstream call; the invocation deadline minus
	// SettleReserve bounds it further.
	UpstreamTimeout time.Duration `envconfig:"X402_GATEWAY_UPSTREAM_TIMEOUT" default:"10s"`
	// SettleReserve is the time kept after the upstream call for settlement and
	// recording (the paywall refuses to settle without enough time).
	SettleReserve time.Duration `envconfig:"X402_GATEWAY_SETTLE_RESERVE" default:"13s"`
	// MaxResponseBytes caps a buffered upstream response.
	MaxResponseBytes int64 `envconfig:"X402_GATEWAY_MAX_RESPONSE_BYTES" default:"1048576"`
}

// configErr builds a *config.VarError whose message starts with the variable
// (never a secret).
func configErr(v string, cause error, format string, args ...any) *config.VarError {
	msg := v + " " + fmt.Sprintf(format, args...)
	if cause != nil {
		return &config.VarError{Var: v, Err: fmt.Errorf("%s: %w", msg, cause)}
	}
	return &config.VarError{Var: v, Err: errors.New(msg)}
}

// Specs lists what config.Load fills: c and its library configurations (they
// validate themselves; the errors are joined).
func (c *Config) Specs() []any { return []any{c, &c.Paywall, &c.Facilitator, &c.InsForge} }

// Validate checks every variable, naming the one at fault and never quoting a
// secret.
func (c Config) Validate() error {
	var errs []error
	// Required values are checked here rather than by envconfig, so that a
	// missing one is a *config.VarError like any other bad value.
	missing := false
	for _, req := range []struct{ name, value string }{
		{VarUpstreamURL, c.UpstreamURL}, {VarRoutes, c.Routes}, {VarReceiptKey, c.ReceiptKey},
	} {
		if strings.TrimSpace(req.value) == "" {
			errs, missing = append(errs, configErr(req.name, nil, "is required")), true
		}
	}
	if missing {
		return errors.Join(errs...)
	}
	if _, err := upstreamBase(c.UpstreamURL); err != nil {
		errs = append(errs, err)
	}
	if _, err := ParseRoutes(c.Routes); err != nil {
		errs = append(errs, err)
	}
	if err := c.checkAuthHeader(); err != nil {
		errs = append(errs, err)
	}
	if len(c.ReceiptKey) < MinReceiptKeyBytes {
		errs = append(errs, configErr(VarReceiptKey, nil, "must be at least %d bytes (an HMAC-SHA256 key)", MinReceiptKeyBytes))
	}
	if c.UpstreamTimeout < 100*time.Millisecond || c.UpstreamTimeout > 25*time.Second {
		errs = append(errs, configErr(VarUpstreamTimeout, nil, "must be between 100ms and 25s (got %s)", c.UpstreamTimeout))
	}
	if c.SettleReserve < 5*time.Second || c.SettleReserve > 20*time.Second {
		errs = append(errs, configErr(VarSettleReserve, nil, "must be between 5s and 20s (got %s)", c.SettleReserve))
	}
	if c.MaxResponseBytes < 1 || c.MaxResponseBytes > MaxResponseBytesLimit {
		errs = append(errs, configErr(VarMaxResponseBytes, nil, "must be between 1 and %d", MaxResponseBytesLimit))
	}
	return errors.Join(errs...)
}

func (c Config) checkAuthHeader() error {
	name := http.CanonicalHeaderKey(strings.TrimSpace(c.UpstreamAuthHeader))
	if !validHeaderName(name) || reservedUpstreamHeader(name) {
		return configErr(VarUpstreamAuthHeader, nil, "must be a header name the gateway does not manage itself (got %q)", c.UpstreamAuthHeader)
	}
	if c.UpstreamAuth != "" && !validHeaderValue(c.UpstreamAuth) {
		return configErr(VarUpstreamAuth, nil, "is not a valid header value")
	}
	routes, err := ParseRoutes(c.Routes)
	if err != nil {
		return nil // reported by the route check
	}
	if c.UpstreamAuth != "" {
		// The credential header never comes from a caller nor goes back to one.
		for _, r := range routes {
			if slices.Contains(r.ForwardHeaders, name) || slices.Contains(r.ResponseHeaders, name) {
				return configErr(VarRoutes, nil, "route %s lists %s, the header carrying %s", r.Key(), name, VarUpstreamAuth)
			}
		}
	}
	if c.UpstreamAuth != "" && name == "Authorization" {
		for _, r := range routes {
			if r.ForwardAuthorization {
				return configErr(VarRoutes, nil, "route %s forwards the caller's Authorization while %s is sent as Authorization; use another %s",
					r.Key(), VarUpstreamAuth, VarUpstreamAuthHeader)
			}
		}
	}
	return nil
}

// upstreamBase parses the upstream base URL: https (http only to loopback), no
// query, fragment or credentials; the path is a prefix for every forwarded path.
func upstreamBase(raw string) (*url.URL, error) {
	u, err := config.CheckURL(VarUpstreamURL, raw)
	if err != nil {
		return nil, &config.VarError{Var: VarUpstreamURL, Err: err}
	}
	if u.User != nil || u.RawQuery != "" || u.Fragment != "" || u.ForceQuery {
		return nil, configErr(VarUpstreamURL, nil, "must be a base URL without credentials, query or fragment")
	}
	u.Path = strings.TrimRight(u.Path, "/")
	u.RawPath = ""
	return u, nil
}

// RouteSpec is one entry of X402_GATEWAY_ROUTES, a JSON array:
//
//	[{"method": "GET", "path": "/v1/search", "price": "1000",
//	  "description": "Web search", "mimeType": "application/json",
//	  "maxRequestBytes": 65536, "forwardAuthorization": false,
//	  "forwardHeaders": ["Idempotency-Key"], "responseHeaders": ["X-Total-Count"],
//	  "inputSchema": {"type": "object"}, "outputSchema": {"type": "object"}}]
//
// path is a net/http.ServeMux pattern relative to /pay: literal segments,
// {name} for one segment and a final {name...} for the rest; the most specific
// pattern wins and two patterns that could match the same request are refused.
type RouteSpec struct {
	Method               string `json:"method"`
	Path                 string `json:"path"`
	Price                string `json:"price"`
	Description          string `json:"description"`
	MimeType             string `json:"mimeType"`
	MaxRequestBytes      int64  `json:"maxRequestBytes"`
	ForwardAuthorization bool   `json:"forwardAuthorization"`
	// ForwardHeaders are caller headers forwarded on this route besides
	// RequestHeaders; ResponseHeaders are upstream headers relayed besides
	// ResponseHeaders. Neither may name a header the gateway manages.
	ForwardHeaders  []string `json:"forwardHeaders"`
	ResponseHeaders []string `json:"responseHeaders"`
	// InputSchema and OutputSchema are optional JSON Schemas (objects) of the
	// request body and the response, published in GET /.well-known/x402.
	InputSchema  json.RawMessage `json:"inputSchema,omitempty"`
	OutputSchema json.RawMessage `json:"outputSchema,omitempty"`
}

// MaxRouteHeaders bounds each of a route's header lists.
const MaxRouteHeaders = 20

// MaxSchemaBytes caps each route schema (the discovery document lists them all).
const MaxSchemaBytes = 16 << 10

// Prefix is where the gateway's routes live (template.yaml: ANY /pay/{proxy+}).
const Prefix = "/pay"

// Key is the route's name in the ledger (endpoint) and in metrics: the method
// and the public pattern, e.g. "GET /pay/v1/search".
func (r RouteSpec) Key() string { return r.Method + " " + Prefix + r.Path }

var routeMethods = map[string]bool{
	http.MethodGet: true, http.MethodHead: true, http.MethodPost: true,
	http.MethodPut: true, http.MethodPatch: true, http.MethodDelete: true,
}

// ParseRoutes decodes and validates the route table. Unknown fields are
// refused (a misspelt "forwardAuthorisation" must not silently mean false).
func ParseRoutes(raw string) ([]RouteSpec, error) {
	dec := json.NewDecoder(bytes.NewReader([]byte(raw)))
	dec.DisallowUnknownFields()
	var routes []RouteSpec
	if err := dec.Decode(&routes); err != nil {
		return nil, configErr(VarRoutes, jsonErr(err), "must be a JSON array of routes")
	}
	if dec.More() {
		return nil, configErr(VarRoutes, nil, "must hold exactly one JSON array")
	}
	if len(routes) == 0 || len(routes) > MaxRoutes {
		return nil, configErr(VarRoutes, nil, "must list between 1 and %d routes", MaxRoutes)
	}
	mux := http.NewServeMux()
	for i := range routes {
		r := &routes[i]
		if err := r.normalise(); err != nil {
			return nil, configErr(VarRoutes, err, "route %d", i)
		}
		if err := register(mux, *r, http.NotFoundHandler()); err != nil {
			return nil, configErr(VarRoutes, err, "route %d (%s)", i, r.Key())
		}
	}
	return routes, nil
}

func (r *RouteSpec) normalise() error {
	r.Method = strings.ToUpper(strings.TrimSpace(r.Method))
	if !routeMethods[r.Method] {
		return fmt.Errorf("method %q is not one of GET, HEAD, POST, PUT, PATCH, DELETE", r.Method)
	}
	// A route must be a path the gateway forwards (path.go): no ";" or backslash.
	if !strings.HasPrefix(r.Path, "/") || strings.ContainsAny(r.Path, " \t?#%;\\") || strings.Contains(r.Path, "{$}") ||
		(len(r.Path) > 1 && strings.HasSuffix(r.Path, "/")) || strings.Contains(r.Path, "//") {
		return fmt.Errorf("path %q must start with / and have no trailing slash, spaces, query, escapes, \";\" or \"\\\"", r.Path)
	}
	for _, seg := range strings.Split(r.Path[1:], "/") {
		if seg == "." || seg == ".." {
			return fmt.Errorf("path %q has a dot segment", r.Path)
		}
	}
	if x402.CheckPrice(r.Price) != nil {
		return fmt.Errorf("price %q must be a positive integer of atomic units", r.Price)
	}
	r.Description = strings.TrimSpace(r.Description)
	if r.Description == "" || len(r.Description) > 500 {
		return errors.New("description is required (at most 500 bytes): the 402 challenge shows it")
	}
	if r.MimeType == "" {
		r.MimeType = "application/json"
	}
	if mt, _, err := mime.ParseMediaType(r.MimeType); err != nil || !strings.Contains(mt, "/") {
		return fmt.Errorf("mimeType %q is not a media type", r.MimeType)
	}
	for name, sc := range map[string]json.RawMessage{"inputSchema": r.InputSchema, "outputSchema": r.OutputSchema} {
		var obj map[string]any
		if len(sc) > 0 && (len(sc) > MaxSchemaBytes || json.Unmarshal(sc, &obj) != nil || obj == nil) {
			return fmt.Errorf("%s must be a JSON Schema object of at most %d bytes", name, MaxSchemaBytes)
		}
	}
	switch {
	case r.MaxRequestBytes == 0:
		r.MaxRequestBytes = DefaultMaxRequestBytes
	case r.MaxRequestBytes < 0 || r.MaxRequestBytes > MaxRequestBytesLimit:
		return fmt.Errorf("maxRequestBytes must be between 1 and %d", MaxRequestBytesLimit)
	}
	var err error
	if r.ForwardHeaders, err = headerList("forwardHeaders", r.ForwardHeaders, RequestHeaders); err != nil {
		return err
	}
	if r.ResponseHeaders, err = headerList("responseHeaders", r.ResponseHeaders, ResponseHeaders); err != nil {
		return err
	}
	return nil
}

// headerList canonicalises a route's header list: valid names, none the
// gateway manages, none already in the default list, no duplicates.
func headerList(field string, names, defaults []string) ([]string, error) {
	if len(names) > MaxRouteHeaders {
		return nil, fmt.Errorf("%s lists more than %d headers", field, MaxRouteHeaders)
	}
	var out []string
	for _, n := range names {
		c := http.CanonicalHeaderKey(strings.TrimSpace(n))
		switch {
		case !validHeaderName(c):
			return nil, fmt.Errorf("%s: %q is not a header name", field, n)
		case c == "Authorization" && field == "forwardHeaders":
			return nil, fmt.Errorf("%s: Authorization is forwarded with \"forwardAuthorization\": true", field)
		case managedHeader(c):
			return nil, fmt.Errorf("%s: %s is managed by the gateway and never passes (docs/gateway.md)", field, c)
		case slices.Contains(defaults, c) || slices.Contains(out, c):
			continue
		}
		out = append(out, c)
	}
	return out, nil
}

// register adds r to mux; ServeMux panics on an invalid or conflicting
// pattern, which becomes an error naming both routes.
func register(mux *http.ServeMux, r RouteSpec, h http.Handler) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = fmt.Errorf("invalid or conflicting pattern: %s", registeredAt.ReplaceAllString(fmt.Sprint(v), ""))
		}
	}()
	p := r.Path
	if p == "/" {
		p = "/{$}" // the root itself; a bare "/" would be ServeMux's catch-all
	}
	mux.Handle(r.Method+" "+p, h)
	return nil
}

// registeredAt is ServeMux's note of where a pattern was registered: always
// this file, so it says nothing about the configuration.
var registeredAt = regexp.MustCompile(` \(registered at [^)]*\)`)

func jsonErr(err error) error {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		return fmt.Errorf("syntax error at byte %d", se.Offset)
	case errors.As(err, &te):
		return fmt.Errorf("field %q must be a %s", te.Field, te.Type)
	}
	return err
}

// validHeaderName reports whether s is an RFC 9110 token.
func validHeaderName(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range []byte(s) {
		if c <= ' ' || c >= 0x7f || strings.IndexByte(`"(),/:;<=>?@[\]{}`, c) >= 0 {
			return false
		}
	}
	return true
}

// validHeaderValue refuses control characters (header injection).
func validHeaderValue(s string) bool {
	for _, c := range []byte(s) {
		if (c < ' ' && c != '\t') || c == 0x7f {
			return false
		}
	}
	return true
}
