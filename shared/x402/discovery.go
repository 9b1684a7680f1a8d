package x402

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// DiscoveryPath is where a deployment lists what it sells.
const DiscoveryPath = "/.well-known/x402"

// Discovery is the GET /.well-known/x402 document. Its shape is the reference
// SDK's Bazaar list (/discovery/resources: x402Version, items, pagination),
// served by the resource server itself: every item is listed (one page), the
// accepts entries are the v2 requirements the 402 of that resource carries,
// and what Bazaar keeps in the discovery extension's info (method, input and
// output schemas) is in each item's metadata. docs/x402.md, "Discovery".
type Discovery struct {
	X402Version int             `json:"x402Version"`
	Items       []DiscoveryItem `json:"items"`
	Pagination  Pagination      `json:"pagination"`
}

// DiscoveryItem is one priced resource.
type DiscoveryItem struct {
	Resource    string            `json:"resource"`
	Type        string            `json:"type"` // "http"
	X402Version int               `json:"x402Version"`
	Accepts     []Requirements    `json:"accepts"`
	Metadata    DiscoveryMetadata `json:"metadata"`
}

// DiscoveryMetadata says how to call a resource and what it returns.
type DiscoveryMetadata struct {
	Description string          `json:"description"`
	MimeType    string          `json:"mimeType"`
	Input       DiscoveryInput  `json:"input"`
	Output      *DiscoveryShape `json:"output,omitempty"`
}

// DiscoveryInput is the request: the HTTP method, and the body's JSON Schema
// when the seller gave one.
type DiscoveryInput struct {
	Type   string          `json:"type"` // "http"
	Method string          `json:"method"`
	Schema json.RawMessage `json:"schema,omitempty"`
}

// DiscoveryShape is a response: its JSON Schema.
type DiscoveryShape struct {
	Schema json.RawMessage `json:"schema"`
}

// Pagination is Bazaar's; everything is on the one page.
type Pagination struct {
	Limit  int `json:"limit"`
	Offset int `json:"offset"`
	Total  int `json:"total"`
}

// Listing is one priced resource of a deployment, given by the feature that
// sells it (the report, each gateway route, …). Path is relative to the
// deployment's base URL; a gateway pattern keeps its {name} segments.
type Listing struct {
	Method       string
	Path         string
	Offer        *Offer
	InputSchema  json.RawMessage // optional JSON Schema of the request body
	OutputSchema json.RawMessage // optional JSON Schema of the response
}

// ListEach makes the listing of each item in order, stopping at the first
// error (a feature's table of priced resources → its listings).
func ListEach[T any](items []T, list func(T) (Listing, error)) ([]Listing, error) {
	out := make([]Listing, 0, len(items))
	for _, it := range items {
		l, err := list(it)
		if err != nil {
			return nil, err
		}
		out = append(out, l)
	}
	return out, nil
}

// BuildDiscovery renders the listings for base (scheme://host, no trailing
// slash), in order. It holds only public offer data.
func BuildDiscovery(base string, listings []Listing) ([]byte, error) {
	doc := Discovery{X402Version: 2, Items: make([]DiscoveryItem, 0, len(listings))}
	for _, l := range listings {
		if l.Offer == nil || l.Method == "" || !strings.HasPrefix(l.Path, "/") {
			return nil, errors.New("x402: a listing needs a method, a path and an offer")
		}
		url := base + l.Path
		it := DiscoveryItem{
			Resource: url, Type: "http", X402Version: 2, Accepts: l.Offer.Accepts(),
			Metadata: DiscoveryMetadata{Description: l.Offer.description, MimeType: l.Offer.mimeType,
				Input: DiscoveryInput{Type: "http", Method: l.Method, Schema: l.InputSchema}},
		}
		if len(l.OutputSchema) > 0 {
			it.Metadata.Output = &DiscoveryShape{Schema: l.OutputSchema}
		}
		doc.Items = append(doc.Items, it)
	}
	doc.Pagination = Pagination{Limit: len(doc.Items), Total: len(doc.Items)}
	b, err := json.Marshal(doc)
	if err != nil {
		return nil, fmt.Errorf("x402: discovery: %w", err)
	}
	return b, nil
}
