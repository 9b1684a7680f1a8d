package tokenwallet

import (
	"errors"
	"net/http"
	"testing"

	"github.com/insforge/edge-functions-go/shared/httpapi"
	"github.com/insforge/edge-functions-go/shared/siwe"
)

// Every kind is answered with the httpapi code of its name (the codes on the
// wire are pinned by the attack test) and the status and headers clients have
// always seen; the message is the siwe error's, the cause stays in the logs.
func TestEverySIWEKindMapsToItsHTTPAnswer(t *testing.T) {
	status := map[siwe.Kind]int{siwe.KindMalformed: http.StatusBadRequest, siwe.KindVersion: http.StatusBadRequest,
		siwe.KindUnavailable: http.StatusServiceUnavailable, siwe.KindThrottled: http.StatusServiceUnavailable}
	retry := map[siwe.Kind]string{siwe.KindUnavailable: "2", siwe.KindThrottled: "1"}
	cause := errors.New("the cause, for the logs only")
	for _, k := range siwe.Kinds {
		t.Run(k.Code(), func(t *testing.T) {
			want, www := http.StatusUnauthorized, `SIWE error="`+k.Code()+`"`
			if s, ok := status[k]; ok {
				want, www = s, ""
			}
			in := &siwe.Error{Kind: k, Message: "refused: " + k.Code(), Err: cause}
			var e *httpapi.Error
			if !errors.As(walletError(in), &e) {
				t.Fatalf("walletError(%v) is not an *httpapi.Error", in)
			}
			if e.Status() != want || e.Code.Name() != k.Code() || e.Message != in.Message || e.Err != cause {
				t.Fatalf("mapped to %+v, want status %d code %q message %q and the cause", e, want, k.Code(), in.Message)
			}
			if got := e.Header.Get("Www-Authenticate"); got != www {
				t.Fatalf("WWW-Authenticate %q, want %q", got, www)
			}
			if got := e.Header.Get("Retry-After"); got != retry[k] {
				t.Fatalf("Retry-After %q, want %q", got, retry[k])
			}
		})
	}
}

func TestWalletErrorPassesOtherErrorsThrough(t *testing.T) {
	plain := errors.New("mint wallet token: boom")
	unknown := &siwe.Error{Kind: siwe.Kind("no_such_kind"), Message: "?"}
	for _, err := range []error{nil, plain, httpapi.InvalidRequest.New("bad body"), unknown} {
		if got := walletError(err); got != err {
			t.Fatalf("walletError(%v) = %v, want it unchanged", err, got)
		}
	}
}
