package x402report

import (
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"strings"
	"sync"

	"github.com/insforge/edge-functions-go/shared/httpapi"
	"github.com/insforge/edge-functions-go/shared/paywall"
	"github.com/insforge/edge-functions-go/shared/x402"
)

// The report function serves GET /.well-known/x402 because it is the one
// priced function every x402 deployment has, it already holds every offer
// variable, and it needs no secret to describe them; the gateway (optional,
// holding upstream credentials) and the payments function (no go-ethereum)
// do not fit. Sellers of other features add their listings to Listings.

// discoveryMaxAge is how long clients and caches may keep the document: it
// changes only with a deployment.
const discoveryMaxAge = "public, max-age=300"

// maxCachedBases bounds the per-host cache (API Gateway has one host, custom
// domains add a few; anything beyond is rendered per request).
const maxCachedBases = 8

// discovery serves the document, rendered once per base URL: the resources
// are the URLs a 402 from this host names.
type discovery struct {
	listings []x402.Listing
	mu       sync.Mutex
	byBase   map[string]rendered
}

type rendered struct {
	body []byte
	etag string
}

func newDiscovery(listings []x402.Listing) (*discovery, error) {
	d := &discovery{listings: listings, byBase: map[string]rendered{}}
	// Render once now so a listing that cannot be rendered fails the cold start.
	if _, err := d.render("https://example.invalid"); err != nil {
		return nil, err
	}
	return d, nil
}

func (d *discovery) render(base string) (rendered, error) {
	d.mu.Lock()
	r, ok := d.byBase[base]
	d.mu.Unlock()
	if ok {
		return r, nil
	}
	b, err := x402.BuildDiscovery(base, d.listings)
	if err != nil {
		return rendered{}, err
	}
	sum := sha256.Sum256(b)
	r = rendered{body: b, etag: `"` + base64.RawURLEncoding.EncodeToString(sum[:16]) + `"`}
	d.mu.Lock()
	if len(d.byBase) < maxCachedBases {
		d.byBase[base] = r
	}
	d.mu.Unlock()
	return r, nil
}

func (d *discovery) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	base := strings.TrimSuffix(paywall.ResourceURL(r), r.URL.Path)
	doc, err := d.render(base)
	if err != nil {
		httpapi.WriteError(w, r, err)
		return
	}
	h := w.Header()
	h.Set("Cache-Control", discoveryMaxAge)
	h.Set("ETag", doc.etag)
	h.Set("Vary", "Host")
	if match := r.Header.Get("If-None-Match"); match != "" && etagMatches(match, doc.etag) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	h.Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		_, _ = w.Write(doc.body)
	}
}

// etagMatches implements If-None-Match's weak comparison (RFC 9110 §13.1.2).
func etagMatches(header, etag string) bool {
	for _, t := range strings.Split(header, ",") {
		t = strings.TrimPrefix(strings.TrimSpace(t), "W/")
		if t == "*" || t == etag {
			return true
		}
	}
	return false
}
