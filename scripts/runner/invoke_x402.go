package runner

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/big"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/ethereum/go-ethereum/crypto"

	"github.com/insforge/edge-functions-go/scripts/runner/apigateway"
	"github.com/insforge/edge-functions-go/scripts/runner/runtimeapi"
	"github.com/insforge/edge-functions-go/shared/x402/payer"
)

// X402Placeholder marks the payment header of a paid-retry event.
const X402Placeholder = "{{x402-payment}}"

// payAndInvoke handles an event whose payment header is {{x402-payment}}: the
// request the event describes is sent without that header (the function answers
// 402 with its challenge), then the project's x402 payer client signs an EIP-3009
// authorization for that challenge and sends the request again with the payment.
// Both invocations take the same Runtime API path as any other.
func payAndInvoke(ctx context.Context, p *runtimeapi.Pool, raw []byte) (int, error) {
	var ev events.APIGatewayV2HTTPRequest
	if err := json.Unmarshal(raw, &ev); err != nil {
		return 1, fmt.Errorf("paid-retry event: %w", err)
	}
	body := []byte(ev.Body)
	if ev.IsBase64Encoded {
		b, err := base64.StdEncoding.DecodeString(ev.Body)
		if err != nil {
			return 1, fmt.Errorf("paid-retry event body: %w", err)
		}
		body = b
	}
	url := "http://localhost:3000" + ev.RawPath
	if ev.RawQueryString != "" {
		url += "?" + ev.RawQueryString
	}
	extra := http.Header{}
	for k, v := range ev.Headers {
		if !strings.Contains(v, X402Placeholder) {
			extra.Set(k, v)
		}
	}
	key, generated, err := payer.LoadKey(os.Getenv("X402_PAYER_KEY"))
	if err != nil {
		return 1, err
	}
	if generated {
		fmt.Fprintf(os.Stderr, "payer: generated dev key (X402_PAYER_KEY chooses one), address %s\n",
			crypto.PubkeyToAddress(key.PublicKey).Hex())
	}
	c := &payer.Client{Key: key, MaxAmount: big.NewInt(1_000_000),
		HTTP: &http.Client{Transport: &LambdaTransport{Pool: p, RouteKey: ev.RouteKey, Extra: extra}}}
	res, err := c.Pay(ctx, ev.RequestContext.HTTP.Method, url, body)
	if err != nil {
		return 1, fmt.Errorf("paying: %w", err)
	}
	fmt.Fprintf(os.Stderr, "x402: status %d, paid %v (%s)\n", res.Status, res.Paid, res.Style)
	if s := res.Settlement; s != nil {
		fmt.Fprintf(os.Stderr, "x402: settlement success=%v transaction=%s network=%s payer=%s\n",
			s.Success, s.Transaction, s.Network, s.Payer)
	}
	fmt.Println(string(res.Body))
	if res.Status >= 400 {
		return 1, nil
	}
	return 0, nil
}

// LambdaTransport sends HTTP requests to a function of the pool as payload 2.0
// events, adding the event's other headers, and reports each invocation as Lambda
// does (REPORT line on stderr).
type LambdaTransport struct {
	Pool     *runtimeapi.Pool
	RouteKey string
	Extra    http.Header // the event's other headers
}

func (t *LambdaTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	for k, v := range t.Extra {
		if r.Header.Get(k) == "" {
			r.Header[k] = v
		}
	}
	at := &apigateway.Transport{RouteKey: t.RouteKey, RequestID: fmt.Sprintf("invoke-%d", time.Now().UnixNano()), Invoke: t.invoke}
	return at.RoundTrip(r)
}

func (t *LambdaTransport) invoke(ctx context.Context, event []byte) ([]byte, error) {
	res, err := t.Pool.Invoke(ctx, event)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(os.Stderr, "REPORT RequestId: %s\tInit Duration: %s\tDuration: %s\n",
		res.RequestID, fmtMS(res.InitDuration), fmtMS(res.Duration))
	if res.Err != nil {
		return nil, fmt.Errorf("%s: %s", res.Err.Type, res.Err.Message)
	}
	return res.Payload, nil
}
