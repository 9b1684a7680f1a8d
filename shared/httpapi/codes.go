package httpapi

import "net/http"

// Code describes one error code a client can receive in {"error","message"}.
type Code struct {
	Status  int
	Meaning string
}

// Codes is the one table of every error code the functions can return, with its
// status. docs/openapi.yaml documents exactly these codes (a contract test checks
// it), and a test scans every NewError/Wrap/Error{} in shared/ and functions/ so a
// code cannot be returned without being listed here. Adding a code is one line
// here and one enum entry in the spec.
var Codes = map[string]Code{
	"invalid_request":         {http.StatusBadRequest, "the request could not be read (bad base64 body, invalid request line)"},
	"invalid_preflight":       {http.StatusBadRequest, "a CORS preflight without an Origin header"},
	"invalid_payment_header":  {http.StatusBadRequest, "PAYMENT-SIGNATURE/X-PAYMENT is not base64 x402 JSON, or both were sent"},
	"missing_credential":      {http.StatusUnauthorized, "no provider credential (Authorization: Bearer or the provider's cookie)"},
	"invalid_token":           {http.StatusUnauthorized, "the provider credential is not acceptable (signature, issuer, audience, session)"},
	"token_expired":           {http.StatusUnauthorized, "the provider credential has expired; get a fresh one from the provider"},
	"payment_required":        {http.StatusPaymentRequired, "the resource costs a payment (x402 challenge)"},
	"origin_not_allowed":      {http.StatusForbidden, "a browser request from an origin not in ALLOWED_ORIGINS"},
	"method_not_allowed":      {http.StatusMethodNotAllowed, "the method is not served by this route (see Allow)"},
	"request_too_large":       {http.StatusRequestEntityTooLarge, "request headers or body over the route's limit"},
	"internal_error":          {http.StatusInternalServerError, "an unexpected failure; details are only in the logs"},
	"facilitator_unavailable": {http.StatusBadGateway, "the x402 facilitator failed or refused; nothing was charged"},
	"provider_unavailable":    {http.StatusServiceUnavailable, "the auth provider could not be reached; retry after Retry-After"},
	"ledger_unavailable":      {http.StatusServiceUnavailable, "the payment ledger is unavailable; nothing was charged, retry after Retry-After"},
}
