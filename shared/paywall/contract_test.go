package paywall_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/insforge/edge-functions-go/shared/httpapi/openapitest"
)

// checkContract validates a paywall answer against docs/openapi.yaml's /x402/report.
func checkContract(t testing.TB, r *http.Request, w *httptest.ResponseRecorder) {
	t.Helper()
	openapitest.CheckRoute(t, "/x402/report", r, w)
}
