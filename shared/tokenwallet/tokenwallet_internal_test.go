package tokenwallet

import (
	"errors"
	"net/http"
	"testing"

	"github.com/insforge/edge-functions-go/shared/httpapi"
	"github.com/insforge/edge-functions-go/shared/siwe"
)

// Every kind is answered with the httpapi code of its name and the status and
// headers clients have always seen; the message is the siwe error's, the cause
// stays in the logs.
func TestEverySIWEKindMapsToItsHTTPAnswer(t *testing.T) {
	const (
		badRequest   = http.StatusBadRequest
		unauthorized = http.StatusUnauthorized
		unavailable  = http.StatusServiceUnavailable
	)
	want := map[siwe.Kind]struct {
		status int
		code   string
		retry  string // Retry-After, "" = absent
	}{
		siwe.KindMalformed:      {badRequest, "siwe_malformed", ""},
		siwe.KindVersion:        {badRequest, "siwe_unsupported_version", ""},
		siwe.KindDomain:         {unauthorized, "siwe_domain_mismatch", ""},
		siwe.KindURI:            {unauthorized, "siwe_uri_mismatch", ""},
		siwe.KindChain:          {unauthorized, "siwe_chain_mismatch", ""},
		siwe.KindNonce:          {unauthorized, "siwe_nonce_invalid", ""},
		siwe.KindNonceUsed:      {unauthorized, "siwe_nonce_used", ""},
		siwe.KindExpired:        {unauthorized, "siwe_expired", ""},
		siwe.KindNotYetValid:    {unauthorized, "siwe_not_yet_valid", ""},
		siwe.KindSignature:      {unauthorized, "siwe_signature_mismatch", ""},
		siwe.KindContractWallet: {unauthorized, "siwe_contract_wallet_unsupported", ""},
		siwe.KindUnavailable:    {unavailable, "siwe_verifier_unavailable", "2"},
		siwe.KindThrottled:      {unavailable, "siwe_verifier_throttled", "1"},
	}
	if len(want) != len(siwe.Kinds) {
		t.Fatalf("the table has %d kinds, siwe.Kinds %d", len(want), len(siwe.Kinds))
	}
	cause := errors.New("the cause, for the logs only")
	for _, k := range siwe.Kinds {
		t.Run(k.String(), func(t *testing.T) {
			c, ok := want[k]
			if !ok {
				t.Fatalf("kind %v has no expected HTTP answer in this table", k)
			}
			in := &siwe.Error{Kind: k, Message: "refused: " + k.String(), Err: cause}
			var e *httpapi.Error
			if !errors.As(walletError(in), &e) {
				t.Fatalf("walletError(%v) is not an *httpapi.Error", in)
			}
			if e.Status() != c.status || e.Code.Name() != c.code || e.Message != in.Message || e.Err != cause {
				t.Fatalf("mapped to %+v, want status %d code %q message %q and the cause", e, c.status, c.code, in.Message)
			}
			www := ""
			if c.status == unauthorized {
				www = `SIWE error="` + c.code + `"`
			}
			if got := e.Header.Get("Www-Authenticate"); got != www {
				t.Fatalf("WWW-Authenticate %q, want %q", got, www)
			}
			if got := e.Header.Get("Retry-After"); got != c.retry {
				t.Fatalf("Retry-After %q, want %q", got, c.retry)
			}
		})
	}
}

func TestWalletErrorPassesOtherErrorsThrough(t *testing.T) {
	plain := errors.New("mint wallet token: boom")
	unknown := &siwe.Error{Kind: siwe.Kind(99), Message: "?"}
	for _, err := range []error{nil, plain, httpapi.InvalidRequest.New("bad body"), unknown} {
		if got := walletError(err); got != err {
			t.Fatalf("walletError(%v) = %v, want it unchanged", err, got)
		}
	}
}
