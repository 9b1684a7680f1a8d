package paywall

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
	// MetricDelivered counts paid responses served (one per authorization).
	MetricDelivered = "PaymentsDelivered"
	// MetricReleased counts claims given back unsettled (verify refused, handler
	// failed, no time left to settle, facilitator refused to settle).
	MetricReleased = "PaymentsReleased"
	// MetricReplayRefused counts re-presentations of a delivered or spent
	// authorization (402 with the original receipt, no facilitator call).
	MetricReplayRefused = "PaymentReplaysRefused"
	// MetricRowMismatch counts ledger rows that do not match this paywall's
	// offer (mock mode, pay_to, asset, network, amount, endpoint): refused.
	MetricRowMismatch = "PaymentRowMismatch"
	// MetricRateLimited counts 429s from the per-payer / per-IP bounds, and
	// MetricBusy 503s from the per-instance upstream concurrency bound.
	MetricRateLimited = "PaymentsRateLimited"
	MetricBusy        = "PaymentsBusy"
	// MetricDeadline counts claims released because the invocation had too
	// little time left to settle and record.
	MetricDeadline = "PaymentsDeadlineRefused"
	// MetricTxHashConflict counts settlements whose transaction hash another
	// row already holds (row → needs_review); MetricInvalidTxHash settlements
	// reported successful with a malformed hash (row → needs_review).
	MetricTxHashConflict = "TxHashConflict"
	MetricInvalidTxHash  = "FacilitatorInvalidTxHash"
)

// Stages of MetricFailed.
const (
	StageVerify        = "verify"         // the facilitator rejected the payment
	StageVerifyError   = "verify_error"   // the facilitator could not be reached
	StageLedgerClaim   = "ledger_claim"   // no ledger row could be written; nothing settled
	StageSettleRefused = "settle_refused" // the facilitator refused before moving money
	StageSettle        = "settle"         // the settlement failed
	StageBalance       = "balance"        // the payer's on-chain balance is below the price
	StageLedgerLookup  = "ledger_lookup"  // the ledger could not be read; nothing called, nothing settled
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
