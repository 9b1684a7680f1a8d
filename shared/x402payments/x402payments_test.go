package x402payments_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"

	"github.com/insforge/edge-functions-go/shared/ledger"
	"github.com/insforge/edge-functions-go/shared/paywall"
	"github.com/insforge/edge-functions-go/shared/x402payments"
)

type down struct{}

func (down) List(context.Context, int) ([]ledger.Payment, error) { return nil, ledger.ErrUnavailable }
func (down) Stats(context.Context) (ledger.Stats, error) {
	return ledger.Stats{}, ledger.ErrUnavailable
}

func TestLedgerUnavailableIs503JSONAndOnlyGETIsAllowed(t *testing.T) {
	h := x402payments.New(x402payments.Config{AllowedOrigins: []string{"*"}}, x402payments.Deps{Source: down{}, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/x402/payments", nil))
	var body map[string]string
	if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil || w.Code != 503 || body["error"] != "ledger_unavailable" {
		t.Fatalf("status %d body %s", w.Code, w.Body)
	}
	w = httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest(http.MethodPost, "/x402/payments", nil))
	if w.Code != http.StatusMethodNotAllowed {
		t.Fatalf("POST = %d", w.Code)
	}
}

func TestDashboardRoutesGoToThePageAndTheRestToTheAPI(t *testing.T) {
	page := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Header().Set("X-Served-By", "page") })
	api := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Header().Set("X-Served-By", "api") })
	h := x402payments.WithDashboard(api, page, slog.New(slog.NewTextHandler(io.Discard, nil)))
	cases := []struct{ method, path, by string }{
		{http.MethodGet, "/x402/dashboard", "page"},
		{http.MethodGet, "/x402/dashboard/app.mjs", "page"},
		{http.MethodGet, "/x402/payments", "api"},
		{http.MethodGet, "/x402/dashboards", "api"},
		{http.MethodPost, "/x402/dashboard", ""},
	}
	for _, c := range cases {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest(c.method, c.path, nil))
		if got := w.Header().Get("X-Served-By"); got != c.by {
			t.Errorf("%s %s served by %q, want %q (status %d)", c.method, c.path, got, c.by, w.Code)
		}
		if c.by == "" && w.Code != http.StatusMethodNotAllowed {
			t.Errorf("%s %s: %d, want 405", c.method, c.path, w.Code)
		}
	}
}

// The payments endpoint answers CORS with the paid endpoints' header lists (it
// keeps its own copy so as not to link the paywall).
func TestCORSListsAreThePaywalls(t *testing.T) {
	allow, expose := x402payments.CORSHeaders()
	if !slices.Equal(allow, paywall.CORSAllowHeaders) || !slices.Equal(expose, paywall.CORSExposeHeaders) {
		t.Fatalf("allow %q expose %q, want %q %q", allow, expose, paywall.CORSAllowHeaders, paywall.CORSExposeHeaders)
	}
}
