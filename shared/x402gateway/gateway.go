// Package x402gateway sells an existing HTTP API per call with x402
// (functions/x402-gateway, ANY /pay/{proxy+}): a table of priced routes, each
// behind its own paywall offer, forwarding paid requests to one upstream.
//
// The upstream is called after the payment is verified and claimed in the
// ledger, and before it is settled; the paywall settles only when the upstream
// answered 2xx, so a caller pays only for what was delivered. Configuration,
// forwarding rules and the failure matrix: docs/gateway.md.
package x402gateway

import (
	"bytes"
	"io"
	"maps"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/insforge/edge-functions-go/shared/httpapi"
	"github.com/insforge/edge-functions-go/shared/internal/text"
	"github.com/insforge/edge-functions-go/shared/launch"
	"github.com/insforge/edge-functions-go/shared/paywall"
	"github.com/insforge/edge-functions-go/shared/x402"
)

// Build wires the function from the environment.
func Build(rt launch.Runtime) (http.Handler, error) {
	var c Config
	return paywall.Build(rt, c.Specs(), &c.Paywall, &c.Facilitator, &c.InsForge, func(up paywall.Upstreams) (http.Handler, error) {
		return New(c, up.Deps(rt))
	})
}

// recordTimeout is the paywall's bound on recording a settlement; the rest of
// X402_GATEWAY_SETTLE_RESERVE bounds the settle call itself.
const recordTimeout = 3 * time.Second

// Deps are the parts New does not build from Config (tests inject them).
type Deps = paywall.Deps

// New builds the handler. c must have passed Validate (config.Load runs it).
func New(c Config, d Deps) (http.Handler, error) {
	d = d.WithDefaults()
	now, fac, l, log := d.Now, d.Facilitator, d.Ledger, d.Logger
	routes, err := ParseRoutes(c.Routes)
	if err != nil {
		return nil, err
	}
	base, err := upstreamBase(c.UpstreamURL)
	if err != nil {
		return nil, err
	}
	client := newUpstreamClient(c.UpstreamTimeout)
	rec := d.Metrics
	g := &dispatcher{mux: http.NewServeMux()}
	methods := map[string]bool{http.MethodOptions: true}
	var first *paywall.Paywall
	// Browsers may send the forwarded headers and read the relayed ones.
	allowHeaders := slices.Concat(paywall.CORSAllowHeaders, RequestHeaders)
	exposeHeaders := slices.Concat(paywall.CORSExposeHeaders, ResponseHeaders)
	for _, rt := range routes {
		allowHeaders = append(allowHeaders, rt.ForwardHeaders...)
		exposeHeaders = append(exposeHeaders, rt.ResponseHeaders...)
	}
	allowHeaders, exposeHeaders = dedupe(allowHeaders), dedupe(exposeHeaders)
	outer := outerHeaderBytes(c.AllowedOrigins, exposeHeaders)
	for _, rt := range routes {
		offer, err := routeOffer(c.Paywall, rt)
		if err != nil {
			return nil, err
		}
		pc := paywall.Options{
			Offer: offer, Facilitator: fac, Ledger: l, Endpoint: rt.Key(), Summary: rt.Description,
			Mock: c.Facilitator.MockFacilitator, Now: now, Metrics: rec, Balances: d.Balances,
			// The settle reserve is what the paywall needs after the upstream call.
			SettleTimeout: c.SettleReserve - recordTimeout, RecordTimeout: recordTimeout,
			MaxResponseBytes: int(c.MaxResponseBytes),
		}
		c.Paywall.Limits(&pc)
		pw, err := paywall.New(pc)
		if err != nil {
			return nil, err
		}
		// One set of abuse bounds for the whole function, not one per route.
		if first == nil {
			first = pw
		} else {
			pw.ShareBoundsWith(first)
		}
		authHeader := http.CanonicalHeaderKey(strings.TrimSpace(c.UpstreamAuthHeader))
		fw := &forwarder{
			route: rt, base: base, client: client, authHeader: authHeader,
			auth: c.UpstreamAuth, receiptKey: []byte(c.ReceiptKey), timeout: c.UpstreamTimeout, reserve: c.SettleReserve,
			maxResponse: c.MaxResponseBytes, now: now, offer: offer,
			responses: newResponseFilter(rt, authHeader, c.UpstreamAuth), outerHeaders: outer,
		}
		h := &routeHandler{route: rt, h: httpapi.Chain(pw.Wrap(fw),
			httpapi.Limits(httpapi.DefaultMaxHeaderBytes, rt.MaxRequestBytes),
			bufferBody,
		)}
		if err := register(g.mux, rt, h); err != nil {
			return nil, err
		}
		methods[rt.Method] = true
	}
	allow := slices.Sorted(maps.Keys(methods))
	// Methods are refused per route (404 for an unpriced one), not here.
	return paywall.Edge(g, log, httpapi.CORS{AllowedOrigins: c.AllowedOrigins, AllowMethods: allow,
		AllowHeaders: allowHeaders, ExposeHeaders: exposeHeaders}, MaxRequestBytesLimit), nil
}

// routeOffer is what rt sells: its price and description with the paywall's
// recipient, network and assets.
func routeOffer(pc paywall.Config, rt RouteSpec) (*x402.Offer, error) {
	offer, err := pc.Offer(rt.Price, rt.Description, rt.MimeType)
	if err != nil {
		return nil, configErr(VarRoutes, err, "route %s", rt.Key())
	}
	return offer, nil
}

// Listings are the gateway's routes for the discovery document
// (GET /.well-known/x402), from the route table X402_GATEWAY_ROUTES.
func Listings(pc paywall.Config, routesJSON string) ([]x402.Listing, error) {
	routes, err := ParseRoutes(routesJSON)
	if err != nil {
		return nil, err
	}
	return x402.ListEach(routes, func(rt RouteSpec) (x402.Listing, error) {
		offer, err := routeOffer(pc, rt)
		return x402.Listing{Method: rt.Method, Path: Prefix + rt.Path, Offer: offer,
			InputSchema: rt.InputSchema, OutputSchema: rt.OutputSchema}, err
	})
}

// dispatcher finds the priced route of a request; anything unpriced is 404
// before any payment processing.
type dispatcher struct{ mux *http.ServeMux }

type routeHandler struct {
	route RouteSpec
	h     http.Handler
}

func (rh *routeHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) { rh.h.ServeHTTP(w, r) }

func (d *dispatcher) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rh, err := d.find(r)
	switch {
	case err != nil:
		httpapi.WriteError(w, r, httpapi.InvalidPath.Wrap(err.Error()+"; refused before any payment (docs/gateway.md, Paths)", err))
	case rh == nil:
		httpapi.WriteError(w, r, httpapi.NoPricedRoute.New("no priced route matches "+text.PrintableHead(r.Method, 8)+" "+text.PrintableHead(r.URL.Path, 200)))
	default:
		rh.ServeHTTP(w, r)
	}
}

// find returns the priced route of r, nil when there is none, or an error when
// the path could be read differently upstream (canonicalPath): refused before
// any route is looked up.
func (d *dispatcher) find(r *http.Request) (*routeHandler, error) {
	decoded, _, found, err := canonicalPath(r)
	if !found || err != nil {
		return nil, err
	}
	probe := *r
	u := *r.URL
	u.Path, u.RawPath = decoded, ""
	probe.URL = &u
	h, _ := d.mux.Handler(&probe)
	rh, ok := h.(*routeHandler) // not ServeMux's own redirect or 404/405 handlers
	if !ok || rh.route.Method != r.Method {
		return nil, nil // ServeMux lets GET routes answer HEAD; a price is per method
	}
	return rh, nil
}

// bufferBody reads the (size-limited) body before the paywall, so an oversized
// or unreadable body is refused before any facilitator or ledger call.
func bufferBody(next http.Handler) http.Handler {
	return httpapi.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		b, err := httpapi.ReadBody(r)
		if err != nil {
			return err
		}
		r.Body, r.ContentLength = io.NopCloser(bytes.NewReader(b)), int64(len(b))
		next.ServeHTTP(w, r)
		return nil
	})
}

// dedupe drops repeated header names, keeping the first spelling.
func dedupe(names []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, n := range names {
		if c := http.CanonicalHeaderKey(n); !seen[c] {
			seen[c] = true
			out = append(out, n)
		}
	}
	return out
}

// receiptOf fills the payment fields of a receipt.
func receiptOf(p paywall.Payment, offer *x402.Offer) Receipt {
	req := offer.Requirements()
	return Receipt{
		PaymentID: p.PaymentID, Payer: p.Payer, Amount: p.Amount, Network: p.Network, Asset: p.Asset,
		PayTo: strings.ToLower(req.PayTo), Nonce: p.Nonce,
	}
}

func jwtTime(t time.Time) *jwt.NumericDate { return jwt.NewNumericDate(t) }
