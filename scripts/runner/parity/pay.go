package parity

import (
	"context"
	"crypto/ecdsa"
	"encoding/json"
	"fmt"
	"math/big"
	"net/http"

	"github.com/aws/aws-lambda-go/events"

	"github.com/insforge/edge-functions-go/shared/x402/payer"
)

// Pay plays the paid sample event with the project's x402 payer: the request
// without payment (402 challenge), an EIP-3009 authorization signed with key, the
// paid retry. It returns the outcome's view: everything but the transaction hash,
// which is one per payment. A payment that does not settle is an error.
func Pay(ctx context.Context, rt http.RoundTripper, key *ecdsa.PrivateKey, paidEvent []byte) (any, error) {
	var ev events.APIGatewayV2HTTPRequest
	if err := json.Unmarshal(paidEvent, &ev); err != nil {
		return nil, err
	}
	c := &payer.Client{Key: key, MaxAmount: big.NewInt(1_000_000), HTTP: &http.Client{Transport: rt}}
	target := "http://" + ev.Headers["host"] + ev.RawPath
	res, err := c.Pay(ctx, ev.RequestContext.HTTP.Method, target, []byte(ev.Body))
	if err != nil {
		return nil, err
	}
	if res.Status != http.StatusOK || !res.Paid || res.Settlement == nil || !res.Settlement.Success {
		return nil, fmt.Errorf("status %d paid %v settlement %+v: %s", res.Status, res.Paid, res.Settlement, res.Body)
	}
	s := *res.Settlement
	if len(s.Transaction) != 66 {
		return nil, fmt.Errorf("settlement transaction %q is not a transaction hash", s.Transaction)
	}
	s.Transaction = ""
	return map[string]any{"status": res.Status, "style": res.Style, "requirement": res.Requirement,
		"settlement": s, "body": BodyView(string(res.Body))}, nil
}

// RouteKey of a payload 2.0 event.
func RouteKey(event []byte) string {
	var ev struct {
		RouteKey string `json:"routeKey"`
	}
	_ = json.Unmarshal(event, &ev)
	return ev.RouteKey
}
