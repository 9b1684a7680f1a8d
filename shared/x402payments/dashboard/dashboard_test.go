package dashboard_test

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/insforge/edge-functions-go/shared/x402payments/dashboard"
)

func handler(t *testing.T, c dashboard.Config) http.Handler {
	t.Helper()
	if c.ExplorerTxURL == "" {
		c.ExplorerTxURL = dashboard.DefaultExplorerTxURL
	}
	h, err := dashboard.Handler(c)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func get(h http.Handler, path string) *http.Response {
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, path, nil))
	return w.Result()
}

func TestPageCarriesPublicConfigUnderAStrictCSP(t *testing.T) {
	h := handler(t, dashboard.Config{BaseURL: "https://app.insforge.app", AnonKey: "anon_abc\"<x>"})
	res := get(h, "/x402/dashboard")
	body, _ := io.ReadAll(res.Body)
	if res.StatusCode != 200 || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("status %d, type %q", res.StatusCode, res.Header.Get("Content-Type"))
	}
	csp := res.Header.Get("Content-Security-Policy")
	for _, want := range []string{"default-src 'none'", "script-src 'self'", "style-src 'self'",
		"connect-src 'self' https://app.insforge.app wss://app.insforge.app", "frame-ancestors 'none'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("CSP %q lacks %q", csp, want)
		}
	}
	if strings.Contains(csp, "unsafe") {
		t.Errorf("CSP allows unsafe sources: %q", csp)
	}
	html := string(body)
	for _, want := range []string{`content="https://app.insforge.app"`, `content="anon_abc&#34;&lt;x&gt;"`,
		`content="https://www.okx.com/web3/explorer/xlayer/tx/"`, `src="dashboard/app.mjs"`} {
		if !strings.Contains(html, want) {
			t.Errorf("page lacks %s", want)
		}
	}
	if strings.Contains(html, "<script>") || strings.Contains(html, " style=") {
		t.Error("page has inline script or style, which the CSP forbids")
	}
	if res.Header.Get("Cache-Control") != "no-store" || res.Header.Get("X-Content-Type-Options") != "nosniff" {
		t.Errorf("headers %v", res.Header)
	}
}

func TestLoopbackInsForgeGetsPlainWebSocket(t *testing.T) {
	res := get(handler(t, dashboard.Config{BaseURL: "http://127.0.0.1:7130"}), "/x402/dashboard")
	if csp := res.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "connect-src 'self' http://127.0.0.1:7130 ws://127.0.0.1:7130;") {
		t.Fatalf("CSP %q", csp)
	}
}

func TestAssets(t *testing.T) {
	h := handler(t, dashboard.Config{BaseURL: "https://app.insforge.app"})
	cases := []struct {
		path, ctype string
		status      int
		contains    string
	}{
		{"/x402/dashboard/app.mjs", "text/javascript; charset=utf-8", 200, "x402_payments"},
		{"/x402/dashboard/insforge-sdk.mjs", "text/javascript; charset=utf-8", 200, "@insforge/sdk"},
		{"/x402/dashboard/realtime.mjs", "text/javascript; charset=utf-8", 200, "senderType !== 'system'"},
		{"/x402/dashboard/app.css", "text/css; charset=utf-8", 200, "@media"},
		{"/x402/dashboard/index.html", "application/json", 404, "not_found"},
		{"/x402/dashboard/../dashboard.go", "application/json", 404, "not_found"},
		{"/x402/dashboard/", "application/json", 404, "not_found"},
		{"/x402/dashboard/nope.mjs", "application/json", 404, "not_found"},
	}
	for _, c := range cases {
		t.Run(c.path, func(t *testing.T) {
			res := get(h, c.path)
			b, _ := io.ReadAll(res.Body)
			if res.StatusCode != c.status || res.Header.Get("Content-Type") != c.ctype || !strings.Contains(string(b), c.contains) {
				t.Fatalf("%d %q (%d bytes)", res.StatusCode, res.Header.Get("Content-Type"), len(b))
			}
		})
	}
}

func TestTheModuleNeverShowsTheErrorColumn(t *testing.T) {
	b, _ := io.ReadAll(get(handler(t, dashboard.Config{BaseURL: "https://a.insforge.app"}), "/x402/dashboard/app.mjs").Body)
	js := string(b)
	_, after, ok := strings.Cut(js, "const PUBLIC = [")
	list, _, _ := strings.Cut(after, "]")
	if !ok || strings.Contains(list, "'error'") || !strings.Contains(list, "'status'") {
		t.Fatalf("PUBLIC columns: %s", list)
	}
	if strings.Contains(js, "innerHTML") {
		t.Fatal("the module writes HTML; it must use textContent")
	}
}

func TestConfigRefusesAServiceKeyAsTheAnonKey(t *testing.T) {
	cases := []struct {
		name string
		c    dashboard.Config
		want error
	}{
		{"API key", dashboard.Config{BaseURL: "https://a.insforge.app", AnonKey: "ik_0123", ExplorerTxURL: dashboard.DefaultExplorerTxURL}, dashboard.ErrServiceKeyAsAnonKey},
		{"a JWT", dashboard.Config{BaseURL: "https://a.insforge.app", AnonKey: "eyJhbGciOi", ExplorerTxURL: dashboard.DefaultExplorerTxURL}, dashboard.ErrServiceKeyAsAnonKey},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := c.c.Validate()
			if !errors.Is(err, c.want) || strings.Contains(err.Error(), c.c.AnonKey) {
				t.Fatalf("err = %v", err)
			}
		})
	}
	if err := (dashboard.Config{BaseURL: "http://example.com", ExplorerTxURL: dashboard.DefaultExplorerTxURL}).Validate(); err == nil ||
		!strings.Contains(err.Error(), "INSFORGE_BASE_URL") {
		t.Fatalf("plain http to a remote host: %v", err)
	}
}
