package paywall

import (
	"log/slog"
	"net/http"

	"github.com/insforge/edge-functions-go/shared/httpapi"
	"github.com/insforge/edge-functions-go/shared/x402"
)

// CORSAllowHeaders are the request headers a paid endpoint allows in preflights:
// the payment headers of both protocol versions besides the generic ones.
// @x402/fetch (2.27) sets Access-Control-Expose-Headers on its paid retry (a
// response header, meaningless on a request, but the browser still preflights
// it); without it here a browser cannot pay.
var CORSAllowHeaders = []string{"Authorization", "Content-Type", x402.HeaderPaymentSignature, x402.HeaderXPayment,
	"X-Request-Id", "Access-Control-Expose-Headers"}

// CORSExposeHeaders lets browser x402 clients read challenges and receipts, and
// Retry-After (202 pending, 503), which is not CORS-safelisted.
var CORSExposeHeaders = []string{x402.HeaderPaymentRequired, x402.HeaderPaymentResponse, x402.HeaderXPaymentResponse,
	"X-Request-Id", "Retry-After"}

// PostCORS is the CORS of a paid POST endpoint for origins: browsers may send
// and read the payment headers.
func PostCORS(origins []string) httpapi.CORS {
	return httpapi.CORS{AllowedOrigins: origins, AllowMethods: []string{http.MethodPost, http.MethodOptions},
		AllowHeaders: CORSAllowHeaders, ExposeHeaders: CORSExposeHeaders}
}

// Edge is the middleware in front of an endpoint of a paid function, outermost
// first: panics recovered, a request id, cors, the header limit and maxBody;
// with methods, any other method is refused (405).
func Edge(h http.Handler, log *slog.Logger, cors httpapi.CORS, maxBody int64, methods ...string) http.Handler {
	mws := []httpapi.Middleware{httpapi.Recover(), httpapi.RequestID(log), cors.Middleware(),
		httpapi.Limits(httpapi.DefaultMaxHeaderBytes, maxBody)}
	if len(methods) > 0 {
		mws = append(mws, httpapi.Methods(methods...))
	}
	return httpapi.Chain(h, mws...)
}
