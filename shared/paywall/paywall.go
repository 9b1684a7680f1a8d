// Package paywall is the net/http middleware that charges for a handler with
// x402: challenge, local checks, facilitator verify, ledger claim, settle, record,
// serve. The whole money path is one function, Paywall.serve, read top to bottom.
package paywall

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/insforge/edge-functions-go/shared/config"
	"github.com/insforge/edge-functions-go/shared/facilitator"
	"github.com/insforge/edge-functions-go/shared/httpapi"
	"github.com/insforge/edge-functions-go/shared/ledger"
	"github.com/insforge/edge-functions-go/shared/metrics"
	"github.com/insforge/edge-functions-go/shared/x402"
)

// Ledger is what the paywall needs from the payment ledger.
type Ledger interface {
	// Claim inserts a pending row; replay is true (with the existing row) when
	// the authorization was claimed before.
	Claim(ctx context.Context, c ledger.Claim) (row *ledger.Payment, replay bool, err error)
	// Settle marks a pending row settled with its transaction.
	Settle(ctx context.Context, id, txHash string, mock bool) error
	// Fail marks a pending row failed.
	Fail(ctx context.Context, id, reason string) error
	// RecordTx stores the transaction of a still-pending row.
	RecordTx(ctx context.Context, id, txHash string) error
}

// Config wires a paywall.
type Config struct {
	Offer       *x402.Offer
	Facilitator facilitator.Facilitator
	Ledger      Ledger
	// Endpoint and Summary are recorded in each row (endpoint, response_summary).
	Endpoint string
	Summary  string
	// Mock marks rows as mock (MOCK_OKX_FACILITATOR=true).
	Mock bool
	// Now is the clock for the local checks (nil = time.Now).
	Now func() time.Time
	// SettleRecordAttempts bounds the tries to mark a row settled after the
	// money moved (default 4). A failure leaves the pending row for the reconciler.
	SettleRecordAttempts int
	// SettleRecordBackoff is the first pause between those tries (default 100 ms).
	SettleRecordBackoff time.Duration
	// PendingRetryAfter is sent with 202 "settlement pending" answers (default 10 s).
	PendingRetryAfter time.Duration
	// Metrics receives the payment outcomes (CloudWatch EMF); nil records nothing.
	Metrics *metrics.Recorder
}

// Metric names (namespace metrics.Namespace), all dimensioned by endpoint.
// PaymentsFailed also carries the stage that failed (a fixed set, below).
const (
	MetricSettled = "PaymentsSettled"
	MetricFailed  = "PaymentsFailed"
	MetricPending = "PaymentsPending"
	// MetricLedgerRetries counts extra attempts to record a settled payment;
	// MetricLedgerRecordFailed counts settled payments left pending for the reconciler.
	MetricLedgerRetries      = "LedgerRetries"
	MetricLedgerRecordFailed = "LedgerRecordFailed"
)

// Stages of MetricFailed.
const (
	StageVerify        = "verify"         // the facilitator rejected the payment
	StageVerifyError   = "verify_error"   // the facilitator could not be reached
	StageLedgerClaim   = "ledger_claim"   // no ledger row could be written; nothing settled
	StageSettleRefused = "settle_refused" // the facilitator refused before moving money
	StageSettle        = "settle"         // the settlement failed
)

func (p *Paywall) count(name string, value float64, stage string) {
	if p.cfg.Metrics == nil {
		return
	}
	dims := map[string]string{"endpoint": p.cfg.Endpoint}
	if stage != "" {
		dims["stage"] = stage
	}
	p.cfg.Metrics.Add(name, value, "Count", dims)
}

// Paywall is the middleware.
type Paywall struct {
	cfg      Config
	verifier *x402.Verifier
}

// New validates cfg.
func New(cfg Config) (*Paywall, error) {
	if cfg.Offer == nil || cfg.Facilitator == nil || cfg.Ledger == nil {
		return nil, errors.New("paywall: Offer, Facilitator and Ledger are required")
	}
	if cfg.Endpoint == "" {
		return nil, errors.New("paywall: Endpoint is required")
	}
	if cfg.SettleRecordAttempts <= 0 {
		cfg.SettleRecordAttempts = 4
	}
	if cfg.SettleRecordBackoff <= 0 {
		cfg.SettleRecordBackoff = 100 * time.Millisecond
	}
	if cfg.PendingRetryAfter <= 0 {
		cfg.PendingRetryAfter = 10 * time.Second
	}
	return &Paywall{cfg: cfg, verifier: &x402.Verifier{Offer: cfg.Offer, Now: cfg.Now}}, nil
}

// Payment is what a paid handler learns about the payment (PaymentFrom).
type Payment struct {
	Transaction string
	Payer       string
	Amount      string
	Network     string
	Mock        bool
	// Replay is true when this request re-presented an already settled payment.
	Replay bool
}

type paymentKey struct{}

// PaymentFrom returns the settled payment of a request served by the paywall.
func PaymentFrom(ctx context.Context) (Payment, bool) {
	p, ok := ctx.Value(paymentKey{}).(Payment)
	return p, ok
}

// Wrap returns next behind the paywall.
func (p *Paywall) Wrap(next http.Handler) http.Handler {
	return httpapi.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		return p.serve(w, r, next)
	})
}

// Middleware adapts Wrap to httpapi.Chain.
func (p *Paywall) Middleware() httpapi.Middleware { return p.Wrap }

// serve is the money path.
func (p *Paywall) serve(w http.ResponseWriter, r *http.Request, next http.Handler) error {
	log := httpapi.Logger(r.Context())
	resourceURL := resourceURL(r)

	// 1. Which client style, and is there a payment at all?
	header, value, err := paymentHeader(r)
	if err != nil {
		return err
	}
	if value == "" {
		return p.challenge(w, resourceURL, "", "this resource costs "+p.cfg.Offer.Requirements().Amount+
			" atomic units; pay with PAYMENT-SIGNATURE (x402 v2) or X-PAYMENT (x402 v1)")
	}

	// 2. Decode: a header that cannot be decoded is a malformed request (400).
	payload, err := x402.DecodePaymentPayload(header, value)
	if err != nil {
		return httpapi.Wrap(http.StatusBadRequest, "invalid_payment_header",
			header+" is not base64-encoded x402 JSON", err)
	}
	style := styleOf(header, payload)

	// 3. Local checks against our own offer. Nothing leaves the process before they pass.
	verified, err := p.verifier.Verify(style, payload)
	if err != nil {
		var ce *x402.CheckError
		if errors.As(err, &ce) {
			return p.challenge(w, resourceURL, ce.Reason, ce.Message)
		}
		return err
	}
	msg := verified.Msg
	payer := strings.ToLower(msg.From.Hex())
	freq := facilitator.Request{
		Payment:      payload.Payload,
		Requirements: p.cfg.Offer.Requirements(),
		Resource:     p.cfg.Offer.Resource(resourceURL),
	}

	// 4. Facilitator verify (balance, nonce state, token domain: what needs the chain).
	vr, err := p.cfg.Facilitator.Verify(r.Context(), freq)
	if err != nil {
		p.count(MetricFailed, 1, StageVerifyError)
		return httpapi.Wrap(http.StatusBadGateway, "facilitator_unavailable",
			"the payment facilitator could not verify the payment; nothing was charged", err)
	}
	if !vr.Valid {
		reason := vr.Reason
		if reason == "" {
			reason = x402.ReasonUnexpectedVerify
		}
		p.count(MetricFailed, 1, StageVerify)
		return p.challenge(w, resourceURL, reason, "the facilitator rejected the payment: "+clip(firstNonEmpty(vr.Message, reason)))
	}

	// From here the work must finish even if the client goes away: a settlement
	// in flight has to be recorded. Every call below has its own deadline.
	ctx := context.WithoutCancel(r.Context())

	// 5. Claim the authorization in the ledger BEFORE settling: no row, no money.
	row, replay, err := p.cfg.Ledger.Claim(ctx, ledger.Claim{
		PayerAddress: payer, Endpoint: p.cfg.Endpoint, Amount: msg.Value.String(),
		Network: freq.Requirements.Network, Asset: strings.ToLower(freq.Requirements.Asset),
		PayTo: strings.ToLower(freq.Requirements.PayTo), Nonce: strings.ToLower(msg.Nonce.Hex()),
		ValidBefore: msg.ValidBefore.Int64(), ResponseSummary: p.cfg.Summary, Mock: p.cfg.Mock,
	})
	if err != nil {
		p.count(MetricFailed, 1, StageLedgerClaim)
		e := httpapi.Wrap(http.StatusServiceUnavailable, "ledger_unavailable",
			"the payment ledger is unavailable; nothing was charged, retry later", err)
		e.Header = http.Header{"Retry-After": {"5"}}
		return e
	}
	if replay {
		return p.replay(w, r, next, verified, row, resourceURL)
	}

	// 6. Settle. Exactly one request per authorization gets here.
	sr, err := p.cfg.Facilitator.Settle(ctx, freq)
	switch {
	case err != nil && facilitator.IsDefinitive(err):
		// The facilitator refused before acting: no money moved.
		p.fail(ctx, log, row.ID, "settle refused: "+err.Error())
		p.count(MetricFailed, 1, StageSettleRefused)
		return httpapi.Wrap(http.StatusBadGateway, "facilitator_unavailable",
			"the payment facilitator refused the settlement; nothing was charged", err)
	case err != nil:
		// Outcome unknown (timeout, 5xx): the pending row holds everything the
		// reconciler needs. Unpaid content is never served.
		log.Error("settle outcome unknown; row left pending", slog.String("payment_id", row.ID), slog.String("error", err.Error()))
		p.count(MetricPending, 1, "")
		return p.pending(w, style, payer, "", "settlement outcome unknown")
	case sr.Status == facilitator.StatusFailed:
		reason := firstNonEmpty(sr.Reason, x402.ReasonUnexpectedSettle)
		p.fail(ctx, log, row.ID, reason+": "+sr.Message)
		p.count(MetricFailed, 1, StageSettle)
		p.setResponse(w, style, x402.SettlementResponse{Success: false, ErrorReason: reason, Payer: payer, Network: freq.Requirements.Network})
		return p.challenge(w, resourceURL, reason, "settlement failed: "+clip(firstNonEmpty(sr.Message, reason)))
	case !sr.Settled():
		// pending / timeout: broadcast but unconfirmed. Keep the hash for the reconciler.
		if sr.Transaction != "" {
			if err := p.cfg.Ledger.RecordTx(ctx, row.ID, strings.ToLower(sr.Transaction)); err != nil {
				log.Error("could not record the pending transaction", slog.String("payment_id", row.ID),
					slog.String("tx", sr.Transaction), slog.String("error", err.Error()))
			}
		}
		p.count(MetricPending, 1, "")
		return p.pending(w, style, payer, sr.Transaction, "settlement "+sr.Status)
	}

	// 7. Money moved: record it, retrying. If it still fails, the pending row
	// (payer, nonce, amount) lets the reconciler resolve it, and the payer is served.
	tx := strings.ToLower(sr.Transaction)
	p.count(MetricSettled, 1, "")
	retries, err := p.recordSettled(ctx, row.ID, tx, sr.Mock || p.cfg.Mock)
	if retries > 0 {
		p.count(MetricLedgerRetries, float64(retries), "")
	}
	if err != nil {
		p.count(MetricLedgerRecordFailed, 1, "")
		log.Error("settled payment could not be recorded; row left pending for the reconciler",
			slog.String("payment_id", row.ID), slog.String("tx", tx), slog.String("error", err.Error()))
	}

	// 8. Serve, with the settlement receipt.
	p.setResponse(w, style, x402.SettlementResponse{Success: true, Payer: payer, Transaction: tx, Network: freq.Requirements.Network})
	next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), paymentKey{}, Payment{
		Transaction: tx, Payer: payer, Amount: msg.Value.String(), Network: freq.Requirements.Network, Mock: sr.Mock || p.cfg.Mock,
	})))
	return nil
}

// replay answers a second presentation of an already claimed authorization
// without settling again. Settled: the payment is a receipt for this resource,
// valid as long as the authorization (the local checks already required
// validBefore in the future), so an idempotent retry — a lost response, a
// pending answer — gets the content. Pending: 202 again. Failed: 402.
func (p *Paywall) replay(w http.ResponseWriter, r *http.Request, next http.Handler, v *x402.Verified, row *ledger.Payment, resourceURL string) error {
	payer := strings.ToLower(v.Msg.From.Hex())
	switch row.Status {
	case ledger.StatusSettled:
		if row.Endpoint != p.cfg.Endpoint {
			return p.challenge(w, resourceURL, x402.ReasonNonceUsed, "this payment was made for another resource")
		}
		p.setResponse(w, v.Style, x402.SettlementResponse{Success: true, Payer: payer, Transaction: row.Tx(), Network: row.Network})
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), paymentKey{}, Payment{
			Transaction: row.Tx(), Payer: payer, Amount: row.Amount, Network: row.Network, Mock: row.Mock, Replay: true,
		})))
		return nil
	case ledger.StatusPending:
		return p.pending(w, v.Style, payer, row.Tx(), "this payment is being settled")
	default:
		return p.challenge(w, resourceURL, x402.ReasonNonceUsed, "this payment authorization was already used and failed: sign a new one")
	}
}

// recordSettled marks the row settled, retrying; it returns how many retries it took.
func (p *Paywall) recordSettled(ctx context.Context, id, tx string, mock bool) (int, error) {
	var err error
	wait := p.cfg.SettleRecordBackoff
	for i := 0; i < p.cfg.SettleRecordAttempts; i++ {
		if i > 0 {
			time.Sleep(wait)
			wait *= 2
		}
		if err = p.cfg.Ledger.Settle(ctx, id, tx, mock); err == nil || errors.Is(err, ledger.ErrNotPending) {
			return i, nil
		}
	}
	return p.cfg.SettleRecordAttempts - 1, err
}

func (p *Paywall) fail(ctx context.Context, log *slog.Logger, id, reason string) {
	if err := p.cfg.Ledger.Fail(ctx, id, clip(reason)); err != nil && !errors.Is(err, ledger.ErrNotPending) {
		log.Error("could not mark payment failed; row left pending", slog.String("payment_id", id), slog.String("error", err.Error()))
	}
}

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
	p.setResponse(w, style, x402.SettlementResponse{Success: false, ErrorReason: "settlement_pending", Payer: payer,
		Transaction: tx, Network: p.cfg.Offer.Requirements().Network})
	w.Header().Set("Retry-After", strconv.Itoa(int(p.cfg.PendingRetryAfter/time.Second)))
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
		return "", "", httpapi.NewError(http.StatusBadRequest, "invalid_payment_header",
			"send either PAYMENT-SIGNATURE or X-PAYMENT, not both")
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

func clip(s string) string {
	if len(s) > 200 {
		return s[:200] + "…"
	}
	return s
}

func firstNonEmpty(v ...string) string {
	for _, s := range v {
		if s != "" {
			return s
		}
	}
	return ""
}
