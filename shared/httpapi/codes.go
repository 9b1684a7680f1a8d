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
	"invalid_request":             {http.StatusBadRequest, "the request could not be read (bad base64 body, invalid request line)"},
	"invalid_preflight":           {http.StatusBadRequest, "a CORS preflight without an Origin header"},
	"invalid_payment_header":      {http.StatusBadRequest, "PAYMENT-SIGNATURE/X-PAYMENT is not base64 x402 JSON, or both were sent"},
	"missing_credential":          {http.StatusUnauthorized, "no provider credential (Authorization: Bearer or the provider's cookie)"},
	"invalid_token":               {http.StatusUnauthorized, "the provider credential is not acceptable (signature, issuer, audience, session)"},
	"token_expired":               {http.StatusUnauthorized, "the provider credential has expired; get a fresh one from the provider"},
	"payment_required":            {http.StatusPaymentRequired, "the resource costs a payment (x402 challenge)"},
	"origin_not_allowed":          {http.StatusForbidden, "a browser request from an origin not in ALLOWED_ORIGINS"},
	"method_not_allowed":          {http.StatusMethodNotAllowed, "the method is not served by this route (see Allow)"},
	"request_too_large":           {http.StatusRequestEntityTooLarge, "request headers or body over the route's limit"},
	"internal_error":              {http.StatusInternalServerError, "an unexpected failure; details are only in the logs"},
	"bridge_misconfigured":        {http.StatusInternalServerError, "the bridge's configuration contradicts what the provider publishes (OIDC discovery issuer)"},
	"facilitator_unavailable":     {http.StatusBadGateway, "the x402 facilitator failed or refused; nothing was charged"},
	"provider_unavailable":        {http.StatusServiceUnavailable, "the auth provider could not be reached; retry after Retry-After"},
	"ledger_unavailable":          {http.StatusServiceUnavailable, "the payment ledger is unavailable; nothing was charged, retry after Retry-After"},
	"not_user_session":            {http.StatusUnauthorized, "a genuine credential that is not a user's session (machine, M2M, another app's token)"},
	"impersonation_refused":       {http.StatusUnauthorized, "an impersonation token (act claim) where impersonation is not allowed"},
	"session_lookup_throttled":    {http.StatusServiceUnavailable, "this instance used up its budget of provider session lookups; retry after Retry-After"},
	"not_found":                   {http.StatusNotFound, "no such dashboard asset"},
	"rate_limited":                {http.StatusTooManyRequests, "too many new payments; nothing was charged, retry after Retry-After"},
	"busy":                        {http.StatusServiceUnavailable, "too many payments in flight; nothing was charged, retry after Retry-After"},
	"deadline":                    {http.StatusServiceUnavailable, "not enough time left to settle; nothing was charged, retry"},
	"payment_in_flight":           {http.StatusServiceUnavailable, "the same payment is being presented concurrently; nothing was charged, retry"},
	"facilitator_busy":            {http.StatusServiceUnavailable, "the x402 facilitator is rate limiting; nothing was charged, retry later"},
	"response_too_large":          {http.StatusBadGateway, "the paid response exceeds the size limit; nothing was charged"},
	"no_priced_route":             {http.StatusNotFound, "the x402 gateway has no priced route for this method and path"},
	"invalid_path":                {http.StatusBadRequest, "the x402 gateway refuses a path an upstream could read as another (;, \\, %, control characters, escaped unreserved characters or slash, dot or empty segments); nothing is forwarded"},
	"insufficient_time":           {http.StatusServiceUnavailable, "not enough time left to call the upstream and settle; nothing was charged, retry"},
	"upstream_error":              {http.StatusBadGateway, "the gateway's upstream failed (5xx or an unexpected status); nothing was charged"},
	"upstream_redirect":           {http.StatusBadGateway, "the gateway's upstream answered with a redirect, which is not followed; nothing was charged"},
	"upstream_refused":            {http.StatusBadGateway, "the gateway's upstream refused the gateway's credential or asked for its own payment; nothing was charged"},
	"upstream_response_too_large": {http.StatusBadGateway, "the gateway's upstream answer exceeds X402_GATEWAY_MAX_RESPONSE_BYTES, or Lambda's 6 MB response payload once encoded; nothing was charged"},
	"upstream_unavailable":        {http.StatusBadGateway, "the gateway's upstream could not be reached; nothing was charged"},
	"upstream_timeout":            {http.StatusGatewayTimeout, "the gateway's upstream did not answer in time; nothing was charged"},

	// Wallets: Sign-In with Ethereum (token-wallet) and passes (x402-pass).
	"siwe_malformed":                   {http.StatusBadRequest, "the Sign-In with Ethereum message breaks the EIP-4361 grammar"},
	"siwe_unsupported_version":         {http.StatusBadRequest, "the Sign-In with Ethereum message's Version is not 1"},
	"siwe_domain_mismatch":             {http.StatusUnauthorized, "the sign-in message's domain is not the host of an allowed origin"},
	"siwe_uri_mismatch":                {http.StatusUnauthorized, "the sign-in message's URI is not on its domain"},
	"siwe_chain_mismatch":              {http.StatusUnauthorized, "the sign-in message names another chain than WALLET_CHAIN_ID"},
	"siwe_nonce_invalid":               {http.StatusUnauthorized, "the sign-in nonce was not issued by this API, or it expired"},
	"siwe_nonce_used":                  {http.StatusUnauthorized, "the sign-in nonce was used already"},
	"siwe_expired":                     {http.StatusUnauthorized, "the sign-in message was issued too long ago or its Expiration Time passed"},
	"siwe_not_yet_valid":               {http.StatusUnauthorized, "the sign-in message's Issued At or Not Before is in the future"},
	"siwe_signature_mismatch":          {http.StatusUnauthorized, "the signature was not made by the sign-in message's address"},
	"siwe_contract_wallet_unsupported": {http.StatusUnauthorized, "a smart-contract wallet signature, and XLAYER_RPC_URL is not set to verify it"},
	"siwe_verifier_unavailable":        {http.StatusServiceUnavailable, "the used-nonce record or the chain could not be reached; retry with a new nonce"},
	"unknown_pass":                     {http.StatusNotFound, "no pass of that product id is on sale (X402_PASS_PRODUCTS)"},
}
