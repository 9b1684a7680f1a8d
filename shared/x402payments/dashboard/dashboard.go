// Package dashboard serves the live payments page (GET /x402/dashboard): HTML, a
// small ES module and a pinned, vendored @insforge/sdk bundle, all embedded, under
// a strict Content-Security-Policy. The page paints from GET /x402/payments,
// then follows the ledger's x402_payments realtime channel with the anon key,
// and falls back to polling when realtime is unavailable.
package dashboard

import (
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"net/http"
	"net/url"
	"path"
	"strings"

	"github.com/insforge/edge-functions-go/shared/config"
	"github.com/insforge/edge-functions-go/shared/httpapi"
)

// Path is the page's route; its assets live under Path + "/".
const Path = "/x402/dashboard"

// DefaultExplorerTxURL is X Layer's explorer (tx hash appended).
const DefaultExplorerTxURL = "https://www.okx.com/web3/explorer/xlayer/tx/"

// Config is what the page needs. Both InsForge values are public: the page
// hands them to the browser.
type Config struct {
	BaseURL string `envconfig:"INSFORGE_BASE_URL" required:"true"`
	// AnonKey lets the browser subscribe to realtime as anon; empty = the page
	// polls only.
	AnonKey       string `envconfig:"INSFORGE_ANON_KEY"`
	ExplorerTxURL string `envconfig:"X402_EXPLORER_TX_URL" default:"https://www.okx.com/web3/explorer/xlayer/tx/"`
}

// ErrServiceKeyAsAnonKey refuses a configuration that would publish the service key.
var ErrServiceKeyAsAnonKey = errors.New("INSFORGE_ANON_KEY must be the public anon key (anon_…), never the API key")

// Validate checks the URLs and that the anon key cannot be a secret.
func (c Config) Validate() error {
	if _, err := config.CheckURL("INSFORGE_BASE_URL", c.BaseURL); err != nil {
		return err
	}
	if _, err := config.CheckURL("X402_EXPLORER_TX_URL", c.ExplorerTxURL); err != nil {
		return err
	}
	if c.AnonKey != "" && !strings.HasPrefix(c.AnonKey, "anon_") {
		return ErrServiceKeyAsAnonKey
	}
	return nil
}

//go:embed assets
var assets embed.FS

// The page's three settings are attribute values; html.EscapeString is enough
// for them (html/template would add ~1.5 MB to the function for this).
var pageFields = []string{"{{.BaseURL}}", "{{.AnonKey}}", "{{.Explorer}}"}

var types = map[string]string{
	".mjs": "text/javascript; charset=utf-8",
	".css": "text/css; charset=utf-8",
}

// Handler serves the page at Path and its assets at Path/<name>. Anything
// else is 404 JSON; callers route only Path and below here.
func Handler(c Config) (http.Handler, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	base, err := url.Parse(c.BaseURL)
	if err != nil {
		return nil, fmt.Errorf("INSFORGE_BASE_URL: %w", err)
	}
	origin := base.Scheme + "://" + base.Host
	ws := "wss://" + base.Host
	if base.Scheme == "http" {
		ws = "ws://" + base.Host
	}
	csp := strings.Join([]string{
		"default-src 'none'",
		"script-src 'self'",
		"style-src 'self'",
		"img-src 'self' data:",
		"connect-src 'self' " + origin + " " + ws,
		"base-uri 'none'",
		"form-action 'none'",
		"frame-ancestors 'none'",
	}, "; ")
	tpl, err := assets.ReadFile("assets/index.html")
	if err != nil {
		return nil, err
	}
	values := []string{strings.TrimRight(c.BaseURL, "/"), c.AnonKey, c.ExplorerTxURL}
	var pairs []string
	for i, f := range pageFields {
		if !strings.Contains(string(tpl), f) {
			return nil, fmt.Errorf("dashboard: page lacks %s", f)
		}
		pairs = append(pairs, f, html.EscapeString(values[i]))
	}
	body := []byte(strings.NewReplacer(pairs...).Replace(string(tpl)))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Content-Security-Policy", csp)
		p := r.URL.Path
		if p == Path {
			h.Set("Content-Type", "text/html; charset=utf-8")
			h.Set("Cache-Control", "no-store")
			_, _ = w.Write(body)
			return
		}
		name, ok := strings.CutPrefix(p, Path+"/")
		ct := types[path.Ext(name)]
		if !ok || strings.Contains(name, "/") || ct == "" {
			notFound(w)
			return
		}
		b, err := assets.ReadFile("assets/" + name)
		if err != nil {
			notFound(w)
			return
		}
		h.Set("Content-Type", ct)
		h.Set("Cache-Control", "public, max-age=300")
		_, _ = w.Write(b)
	}), nil
}

// notFoundBody is httpapi.NotFound's error body, encoded once.
var notFoundBody, _ = json.Marshal(httpapi.ErrorBody{Error: httpapi.NotFound.Name(), Message: httpapi.NotFound.Message()})

func notFound(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(httpapi.NotFound.Status())
	_, _ = w.Write(notFoundBody)
}
