package httpapi

import (
	"net/http"
	"slices"
	"strconv"
	"strings"
)

// CORS is owned by the handler, not by API Gateway's CorsConfiguration, so that the
// local runner, tests and the deployed function behave identically (API Gateway
// would otherwise answer preflights itself and drop the function's CORS headers).
// template.yaml therefore declares no CorsConfiguration and routes OPTIONS (method
// ANY) to the function.
type CORS struct {
	// AllowedOrigins are exact origins ("https://app.example.com"). "*" allows any
	// origin but then credentials are never allowed.
	AllowedOrigins []string
	// AllowMethods and AllowHeaders are answered to preflights.
	AllowMethods []string
	AllowHeaders []string
	// ExposeHeaders are readable by browser code (e.g. PAYMENT-RESPONSE).
	ExposeHeaders []string
	// MaxAge of a preflight answer, in seconds.
	MaxAge int
}

// DefaultAllowHeaders are the request headers allowed in preflights when
// AllowHeaders is empty. Endpoints that take more (the x402 payment headers)
// pass their own list.
var DefaultAllowHeaders = []string{"Authorization", "Content-Type", "X-Request-Id"}

// DefaultExposeHeaders are readable by browser code when ExposeHeaders is empty:
// the request id, and Retry-After (503), which is not CORS-safelisted.
var DefaultExposeHeaders = []string{"X-Request-Id", "Retry-After"}

// Middleware returns the CORS middleware. Requests without an Origin header (curl,
// servers) pass untouched. A browser request from an origin that is not allowed is
// refused with 403 before the handler runs, so cookies cannot be used cross-site.
func (c CORS) Middleware() Middleware {
	any := slices.Contains(c.AllowedOrigins, "*")
	methods := strings.Join(c.AllowMethods, ", ")
	headers := strings.Join(orDefault(c.AllowHeaders, DefaultAllowHeaders), ", ")
	expose := strings.Join(orDefault(c.ExposeHeaders, DefaultExposeHeaders), ", ")
	maxAge := c.MaxAge
	if maxAge == 0 {
		maxAge = 600
	}
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			origin := r.Header.Get("Origin")
			h := w.Header()
			h.Add("Vary", "Origin")
			preflight := r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != ""
			if origin == "" {
				if preflight {
					WriteError(w, r, InvalidPreflight.Err())
					return
				}
				next.ServeHTTP(w, r)
				return
			}
			// "null" (sandboxed iframes, file: pages, some redirects) is shared by
			// every such page, so it never gets credentialed CORS, whatever the list
			// says (configuration loading refuses it too); "*" still applies.
			exact := origin != "null" && slices.Contains(c.AllowedOrigins, origin)
			if !exact && !any {
				WriteError(w, r, OriginNotAllowed.Err())
				return
			}
			if exact {
				h.Set("Access-Control-Allow-Origin", origin)
				h.Set("Access-Control-Allow-Credentials", "true")
			} else {
				h.Set("Access-Control-Allow-Origin", "*")
			}
			if preflight {
				h.Add("Vary", "Access-Control-Request-Method")
				h.Add("Vary", "Access-Control-Request-Headers")
				h.Set("Access-Control-Allow-Methods", methods)
				h.Set("Access-Control-Allow-Headers", headers)
				h.Set("Access-Control-Max-Age", strconv.Itoa(maxAge))
				w.WriteHeader(http.StatusNoContent)
				return
			}
			h.Set("Access-Control-Expose-Headers", expose)
			next.ServeHTTP(w, r)
		})
	}
}

func orDefault(v, d []string) []string {
	if len(v) == 0 {
		return d
	}
	return v
}
