package httpapi

import (
	"fmt"
	"maps"
	"net/http"
)

// Code is one error code a client can receive in {"error","message"}: its stable
// snake_case name, the HTTP status it is always sent with, and the message sent
// when a call site has nothing more precise to say. Codes are made only in this
// file, so every code a function can answer with is in Codes and its status is
// said once; docs/openapi.yaml documents exactly these codes (a contract test in
// scripts/internal/contract checks it). Adding a code is one declaration here and
// one enum entry in the spec.
type Code struct {
	name    string
	status  int
	message string // default client message
	meaning string // what the code tells a client (documentation)
}

// Name is the code as sent in the "error" member, e.g. "invalid_token".
func (c Code) Name() string { return c.name }

// String is the code's name.
func (c Code) String() string { return c.name }

// Status is the HTTP status the code is always sent with.
func (c Code) Status() int { return c.status }

// Message is the code's default client message.
func (c Code) Message() string { return c.message }

// Meaning says what the code tells a client.
func (c Code) Meaning() string { return c.meaning }

// Err is a client-facing error with the code's default message.
func (c Code) Err() *Error { return &Error{Code: c, Message: c.message} }

// New is a client-facing error with its own message (safe for clients).
func (c Code) New(message string) *Error { return &Error{Code: c, Message: message} }

// Cause is a client-facing error with the code's default message that keeps its
// cause for the logs.
func (c Code) Cause(cause error) *Error { return &Error{Code: c, Message: c.message, Err: cause} }

// Wrap is a client-facing error with its own message that keeps its cause for
// the logs.
func (c Code) Wrap(message string, cause error) *Error {
	return &Error{Code: c, Message: message, Err: cause}
}

// codes is every declared code by name, filled as the declarations below run.
var codes = map[string]Code{}

func code(name string, status int, message, meaning string) Code {
	if _, dup := codes[name]; dup || status < 400 || message == "" || meaning == "" {
		panic(fmt.Sprintf("httpapi: code %q declared twice or without an error status, a message and a meaning", name))
	}
	c := Code{name: name, status: status, message: message, meaning: meaning}
	codes[name] = c
	return c
}

// Codes is the table of every error code, by name (a copy).
func Codes() map[string]Code { return maps.Clone(codes) }

// CodeNamed is the code declared with name; ok is false when there is none.
func CodeNamed(name string) (c Code, ok bool) {
	c, ok = codes[name]
	return c, ok
}

// Requests and the shared HTTP layer.
var (
	InvalidRequest = code("invalid_request", http.StatusBadRequest, "request body could not be read",
		"the request could not be read (bad base64 body, invalid request line)")
	InvalidPreflight = code("invalid_preflight", http.StatusBadRequest, "a preflight request needs an Origin header",
		"a CORS preflight without an Origin header")
	OriginNotAllowed = code("origin_not_allowed", http.StatusForbidden, "this origin is not in ALLOWED_ORIGINS",
		"a browser request from an origin not in ALLOWED_ORIGINS")
	MethodNotAllowed = code("method_not_allowed", http.StatusMethodNotAllowed, "this method is not allowed",
		"the method is not served by this route (see Allow)")
	RequestTooLarge = code("request_too_large", http.StatusRequestEntityTooLarge, "the request is too large",
		"request headers or body over the route's limit")
	Internal = code("internal_error", http.StatusInternalServerError, "the server could not complete the request",
		"an unexpected failure; details are only in the logs")
	NotFound = code("not_found", http.StatusNotFound, "no such dashboard asset",
		"no such dashboard asset")
)

// Token bridges (shared/bridge, mapping shared/identity's kinds).
var (
	MissingCredential = code("missing_credential", http.StatusUnauthorized, "send a provider credential",
		"no provider credential (Authorization: Bearer or the provider's cookie)")
	InvalidToken = code("invalid_token", http.StatusUnauthorized, "the credential is not acceptable",
		"the provider credential is not acceptable (signature, issuer, audience, session)")
	TokenExpired = code("token_expired", http.StatusUnauthorized, "the credential has expired",
		"the provider credential has expired; get a fresh one from the provider")
	NotUserSession = code("not_user_session", http.StatusUnauthorized, "the credential is not a user's session",
		"a genuine credential that is not a user's session (machine, M2M, another app's token)")
	ImpersonationRefused = code("impersonation_refused", http.StatusUnauthorized, "impersonation is not allowed",
		"an impersonation token (act claim) where impersonation is not allowed")
	ProviderUnavailable = code("provider_unavailable", http.StatusServiceUnavailable, "the auth provider could not be reached; retry",
		"the auth provider could not be reached; retry after Retry-After")
	SessionLookupThrottled = code("session_lookup_throttled", http.StatusServiceUnavailable, "too many session lookups; retry",
		"this instance used up its budget of provider session lookups; retry after Retry-After")
	BridgeMisconfigured = code("bridge_misconfigured", http.StatusInternalServerError, "the bridge is misconfigured",
		"the bridge's configuration contradicts what the provider publishes (OIDC discovery issuer)")
)

// Paywall (x402 settlement).
var (
	InvalidPaymentHeader = code("invalid_payment_header", http.StatusBadRequest, "the payment header is not base64-encoded x402 JSON",
		"PAYMENT-SIGNATURE/X-PAYMENT is not base64 x402 JSON, or both were sent")
	PaymentRequired = code("payment_required", http.StatusPaymentRequired, "payment required",
		"the resource costs a payment (x402 challenge)")
	FacilitatorUnavailable = code("facilitator_unavailable", http.StatusBadGateway, "the payment facilitator failed; nothing was charged",
		"the x402 facilitator failed or refused; nothing was charged")
	LedgerUnavailable = code("ledger_unavailable", http.StatusServiceUnavailable, "the payment ledger is unavailable",
		"the payment ledger is unavailable; nothing was charged, retry after Retry-After")
	RateLimited = code("rate_limited", http.StatusTooManyRequests, "too many new payments; nothing was charged, retry later",
		"too many new payments; nothing was charged, retry after Retry-After")
	Busy = code("busy", http.StatusServiceUnavailable, "too many payments in flight; nothing was charged, retry shortly",
		"too many payments in flight; nothing was charged, retry after Retry-After")
	Deadline = code("deadline", http.StatusServiceUnavailable, "not enough time left to settle; nothing was charged, retry",
		"not enough time left to settle; nothing was charged, retry")
	PaymentInFlight = code("payment_in_flight", http.StatusServiceUnavailable, "this payment is being presented concurrently; nothing was charged, retry shortly",
		"the same payment is being presented concurrently; nothing was charged, retry")
	FacilitatorBusy = code("facilitator_busy", http.StatusServiceUnavailable, "the payment facilitator is rate limiting; nothing was charged, retry later",
		"the x402 facilitator is rate limiting; nothing was charged, retry later")
	ResponseTooLarge = code("response_too_large", http.StatusBadGateway, "the paid response exceeds the size limit; nothing was charged",
		"the paid response exceeds the size limit; nothing was charged")
)

// Priced gateway (shared/x402gateway).
var (
	NoPricedRoute = code("no_priced_route", http.StatusNotFound, "no priced route matches",
		"the x402 gateway has no priced route for this method and path")
	InvalidPath = code("invalid_path", http.StatusBadRequest, "the path is refused before any payment",
		"the x402 gateway refuses a path an upstream could read as another (;, \\, %, control characters, escaped unreserved characters or slash, dot or empty segments); nothing is forwarded")
	InsufficientTime = code("insufficient_time", http.StatusServiceUnavailable, "not enough time left to call the upstream and settle; nothing was charged, retry",
		"not enough time left to call the upstream and settle; nothing was charged, retry")
	UpstreamError = code("upstream_error", http.StatusBadGateway, "unexpected upstream status; nothing was charged",
		"the gateway's upstream failed (5xx or an unexpected status); nothing was charged")
	UpstreamRedirect = code("upstream_redirect", http.StatusBadGateway, "the upstream answered with a redirect, which is not followed; nothing was charged",
		"the gateway's upstream answered with a redirect, which is not followed; nothing was charged")
	UpstreamRefused = code("upstream_refused", http.StatusBadGateway, "the upstream refused the gateway; nothing was charged",
		"the gateway's upstream refused the gateway's credential or asked for its own payment; nothing was charged")
	UpstreamResponseTooLarge = code("upstream_response_too_large", http.StatusBadGateway, "the upstream response is too large; nothing was charged",
		"the gateway's upstream answer exceeds X402_GATEWAY_MAX_RESPONSE_BYTES, or Lambda's 6 MB response payload once encoded; nothing was charged")
	UpstreamUnavailable = code("upstream_unavailable", http.StatusBadGateway, "the upstream could not be reached; nothing was charged",
		"the gateway's upstream could not be reached; nothing was charged")
	UpstreamTimeout = code("upstream_timeout", http.StatusGatewayTimeout, "the upstream did not answer in time; nothing was charged",
		"the gateway's upstream did not answer in time; nothing was charged")
)

// Wallets: Sign-In with Ethereum (token-wallet, mapping shared/siwe's kinds) and
// passes (x402-pass).
var (
	SIWEMalformed = code("siwe_malformed", http.StatusBadRequest, "the sign-in message is malformed",
		"the Sign-In with Ethereum message breaks the EIP-4361 grammar")
	SIWEUnsupportedVersion = code("siwe_unsupported_version", http.StatusBadRequest, "Version must be 1",
		"the Sign-In with Ethereum message's Version is not 1")
	SIWEDomainMismatch = code("siwe_domain_mismatch", http.StatusUnauthorized, "the message's domain is not one of this API's allowed origins",
		"the sign-in message's domain is not the host of an allowed origin")
	SIWEURIMismatch = code("siwe_uri_mismatch", http.StatusUnauthorized, "the message's URI is not on its domain",
		"the sign-in message's URI is not on its domain")
	SIWEChainMismatch = code("siwe_chain_mismatch", http.StatusUnauthorized, "the message names another chain",
		"the sign-in message names another chain than WALLET_CHAIN_ID")
	SIWENonceInvalid = code("siwe_nonce_invalid", http.StatusUnauthorized, "the nonce was not issued by this API, or it expired",
		"the sign-in nonce was not issued by this API, or it expired")
	SIWENonceUsed = code("siwe_nonce_used", http.StatusUnauthorized, "this nonce was used already",
		"the sign-in nonce was used already")
	SIWEExpired = code("siwe_expired", http.StatusUnauthorized, "the sign-in message has expired",
		"the sign-in message was issued too long ago or its Expiration Time passed")
	SIWENotYetValid = code("siwe_not_yet_valid", http.StatusUnauthorized, "the sign-in message is not valid yet",
		"the sign-in message's Issued At or Not Before is in the future")
	SIWESignatureMismatch = code("siwe_signature_mismatch", http.StatusUnauthorized, "the signature was not made by the message's address",
		"the signature was not made by the sign-in message's address")
	SIWEContractWalletUnsupported = code("siwe_contract_wallet_unsupported", http.StatusUnauthorized, "smart-contract wallet signatures are not verified here",
		"a smart-contract wallet signature, and XLAYER_RPC_URL is not set to verify it")
	SIWEVerifierUnavailable = code("siwe_verifier_unavailable", http.StatusServiceUnavailable, "the sign-in could not be verified; retry with a new nonce",
		"the used-nonce record or the chain could not be reached; retry with a new nonce")
	SIWEVerifierThrottled = code("siwe_verifier_throttled", http.StatusServiceUnavailable, "too many smart-contract wallet sign-ins are being verified; retry",
		"this instance's budget of EIP-1271 calls to XLAYER_RPC_URL is used up; retry after Retry-After")
	UnknownPass = code("unknown_pass", http.StatusNotFound, "no pass of that name is on sale here",
		"no pass of that product id is on sale (X402_PASS_PRODUCTS)")
)
