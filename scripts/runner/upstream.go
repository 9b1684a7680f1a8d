package runner

import (
	"encoding/json"
	"net"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/insforge/edge-functions-go/scripts/internal/samtemplate"
	"github.com/insforge/edge-functions-go/shared/httpapi"
	"github.com/insforge/edge-functions-go/shared/x402gateway"
)

// DevGatewayRoutes are the priced routes of the x402 gateway in development,
// served by the local upstream below (GET /pay/quote, POST /pay/echo, GET /pay/fail).
const DevGatewayRoutes = `[
 {"method":"GET","path":"/quote","price":"1000","description":"Demo quote from the local upstream"},
 {"method":"POST","path":"/echo","price":"500","description":"Echoes the request as the upstream saw it","maxRequestBytes":16384},
 {"method":"GET","path":"/fail","price":"1","description":"The upstream always fails here: never charged"}
]`

// Upstream is the tiny API the gateway sells in development. It checks what a
// real upstream should: the gateway's credential and the signed payment receipt.
type Upstream struct {
	URL        string
	Credential string // the whole Authorization value the gateway sends
	ReceiptKey string
	srv        *http.Server
}

// StartUpstream listens on a free loopback port.
func StartUpstream() (*Upstream, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	u := &Upstream{URL: "http://" + ln.Addr().String(), Credential: "Bearer dev-upstream-" + randomSecret()[:16],
		ReceiptKey: randomSecret()}
	u.srv = &http.Server{Handler: u.handler(), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = u.srv.Serve(ln) }()
	return u, nil
}

// Close stops the upstream.
func (u *Upstream) Close() error { return u.srv.Close() }

// Vars are the gateway's variables for this upstream.
func (u *Upstream) Vars() map[string]string {
	return map[string]string{
		x402gateway.VarUpstreamURL:  u.URL,
		x402gateway.VarRoutes:       DevGatewayRoutes,
		x402gateway.VarUpstreamAuth: u.Credential,
		x402gateway.VarReceiptKey:   u.ReceiptKey,
	}
}

func (u *Upstream) handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /quote", func(w http.ResponseWriter, r *http.Request) {
		rc, ok := u.check(w, r)
		if !ok {
			return
		}
		sym := strings.ToUpper(r.URL.Query().Get("symbol"))
		if sym == "" {
			sym = "BTC"
		}
		httpapi.WriteJSON(w, http.StatusOK, map[string]any{"symbol": sym, "price": "84250.00", "source": "local dev upstream",
			"paid_by": rc.Payer, "amount": rc.Amount, "payment_id": rc.PaymentID})
	})
	mux.HandleFunc("POST /echo", func(w http.ResponseWriter, r *http.Request) {
		rc, ok := u.check(w, r)
		if !ok {
			return
		}
		var body json.RawMessage
		if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20)).Decode(&body); err != nil {
			httpapi.WriteJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid_json", "message": "send a JSON body"})
			return
		}
		names := make([]string, 0, len(r.Header))
		for k := range r.Header {
			names = append(names, k)
		}
		sort.Strings(names)
		httpapi.WriteJSON(w, http.StatusOK, map[string]any{"method": r.Method, "path": r.URL.Path, "query": r.URL.RawQuery,
			"body": body, "headers": names, "receipt": rc})
	})
	mux.HandleFunc("GET /fail", func(w http.ResponseWriter, r *http.Request) {
		if _, ok := u.check(w, r); !ok {
			return
		}
		httpapi.WriteJSON(w, http.StatusInternalServerError, map[string]string{"error": "demo_failure", "message": "this route always fails"})
	})
	return mux
}

// check refuses requests without the gateway's credential or a valid receipt.
func (u *Upstream) check(w http.ResponseWriter, r *http.Request) (*x402gateway.Receipt, bool) {
	if r.Header.Get("Authorization") != u.Credential {
		httpapi.WriteJSON(w, http.StatusUnauthorized, map[string]string{"error": "unauthorized", "message": "not the gateway"})
		return nil, false
	}
	rc, err := x402gateway.VerifyReceipt([]byte(u.ReceiptKey), r.Header.Get(x402gateway.HeaderReceipt), u.URL, time.Now())
	if err != nil || rc.Method != r.Method || rc.Path != r.URL.Path {
		httpapi.WriteJSON(w, http.StatusUnauthorized, map[string]string{"error": "invalid_receipt", "message": "no valid payment receipt"})
		return nil, false
	}
	return rc, true
}

func needsUpstream(fns []samtemplate.Function) bool {
	for _, f := range fns {
		if _, ok := f.Env[x402gateway.VarUpstreamURL]; ok {
			return true
		}
	}
	return false
}
