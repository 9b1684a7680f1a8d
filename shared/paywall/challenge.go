package paywall

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/insforge/edge-functions-go/shared/config"
	"github.com/insforge/edge-functions-go/shared/httpapi"
	"github.com/insforge/edge-functions-go/shared/x402"
)

// Reason codes of our own (402 bodies carry only these and x402's).
const (
	ReasonRowMismatch  = "payment_recorded_for_another_offer"
	ReasonUnderReview  = "payment_under_review"
	ReasonInsufficient = "insufficient_funds"
)

// challenge writes a 402 that all three client styles can pay: the v2
// PAYMENT-REQUIRED header (also read by the guide's hybrid client) and the v1
// JSON body, which doubles as the project's {"error","message"} shape.
func (p *Paywall) challenge(w http.ResponseWriter, resourceURL, reason, message string) error {
	c, err := p.cfg.Offer.Challenge(resourceURL, reason, message)
	if err != nil {
		return err
	}
	w.Header().Set(x402.HeaderPaymentRequired, c.Header)
	w.Header().Set("Cache-Control", "no-store")
	httpapi.WriteJSON(w, http.StatusPaymentRequired, c.Body)
	return nil
}

// pendingBody is the 202 answer while a settlement is unconfirmed.
type pendingBody struct {
	Status      string `json:"status"`
	Message     string `json:"message"`
	Transaction string `json:"transaction,omitempty"`
}

// pending answers 202: the payment may have moved, so no new challenge (a client
// would sign and pay again), and no content until the settlement is confirmed.
// Re-sending the same payment later returns the content once it is settled.
func (p *Paywall) pending(w http.ResponseWriter, style x402.Style, payer, tx, why string) error {
	return p.pendingFor(w, style, payer, tx, why, p.cfg.PendingRetryAfter)
}

// pendingFor is pending with its own Retry-After (a lease's remaining time).
func (p *Paywall) pendingFor(w http.ResponseWriter, style x402.Style, payer, tx, why string, retry time.Duration) error {
	p.setResponse(w, style, x402.SettlementResponse{Success: false, ErrorReason: "settlement_pending", Payer: payer,
		Transaction: tx, Network: p.cfg.Offer.Requirements().Network})
	w.Header().Set("Retry-After", strconv.Itoa(int((retry+time.Second-1)/time.Second)))
	w.Header().Set("Cache-Control", "no-store")
	httpapi.WriteJSON(w, http.StatusAccepted, pendingBody{
		Status:      "pending",
		Message:     why + ": do not pay again; retry the same request with the same payment header later",
		Transaction: tx,
	})
	return nil
}

func (p *Paywall) setResponse(w http.ResponseWriter, style x402.Style, s x402.SettlementResponse) {
	if h, err := x402.EncodeHeader(s); err == nil {
		w.Header().Set(style.ResponseHeader(), h)
	}
}

// paymentHeader finds the payment header. Sending both is ambiguous: 400.
func paymentHeader(r *http.Request) (name, value string, err error) {
	sig := r.Header.Get(x402.HeaderPaymentSignature)
	xp := r.Header.Get(x402.HeaderXPayment)
	switch {
	case sig != "" && xp != "":
		return "", "", httpapi.InvalidPaymentHeader.New("send either PAYMENT-SIGNATURE or X-PAYMENT, not both")
	case xp != "":
		return x402.HeaderXPayment, xp, nil
	case sig != "":
		return x402.HeaderPaymentSignature, sig, nil
	}
	return "", "", nil
}

// styleOf classifies a decoded payment: X-PAYMENT is v1; in PAYMENT-SIGNATURE, v2
// echoes "accepted" while the guide's hybrid client sends a v1-shaped payload.
func styleOf(header string, p *x402.PaymentPayload) x402.Style {
	switch {
	case header == x402.HeaderXPayment:
		return x402.StyleV1
	case p.Accepted != nil || p.X402Version == 2 && p.Scheme == "" && p.Network == "":
		return x402.StyleV2
	}
	return x402.StyleHybrid
}

// resourceURL is the URL clients paid for: https, except plain http on loopback
// (local runner, tests).
func resourceURL(r *http.Request) string {
	scheme := "https"
	host := r.Host
	h := host
	if i := strings.LastIndex(h, ":"); i >= 0 && !strings.HasSuffix(h, "]") {
		h = h[:i]
	}
	if r.TLS == nil && config.IsLoopback(strings.Trim(h, "[]")) {
		scheme = "http"
	}
	return fmt.Sprintf("%s://%s%s", scheme, host, r.URL.Path)
}
