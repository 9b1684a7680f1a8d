package apigateway_test

import (
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"

	"github.com/insforge/edge-functions-go/scripts/runner/apigateway"
)

// A function's 204/304 answer has no body; mapping it must not fail the way a
// write to such a response does (http.ErrBodyNotAllowed), on a recorder or a server.
func TestBodilessStatusesMapWithoutError(t *testing.T) {
	for _, status := range []int{http.StatusNoContent, http.StatusNotModified} {
		payload := []byte(`{"statusCode":` + strconv.Itoa(status) + `,"headers":{"Vary":"Origin"},"body":""}`)
		rec := httptest.NewRecorder()
		if err := apigateway.WriteResponse(rec, payload); err != nil {
			t.Fatalf("%d: %v", status, err)
		}
		if rec.Code != status || rec.Header().Get("Vary") != "Origin" || rec.Body.Len() != 0 {
			t.Errorf("%d: got %d %v %q", status, rec.Code, rec.Header(), rec.Body.String())
		}
	}
}
