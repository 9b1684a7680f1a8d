package paywall

import "github.com/insforge/edge-functions-go/shared/x402"

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
