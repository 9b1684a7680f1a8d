// Package ledger is the exactly-once x402 payment ledger (table x402_payments,
// infra/migrations/0003) over the InsForge records client. A payment is claimed
// as a pending row before any settlement, so no money moves without a row; the
// table's UNIQUE keys make a second claim of the same authorization a replay
// instead of a second payment.
package ledger

import (
	"errors"
	"time"
)

// Table is the ledger table.
const Table = "x402_payments"

// Row statuses (CHECK constraint in migration 0005; docs/x402.md lists them).
const (
	// StatusPending: claimed before settling; the outcome is not known yet.
	StatusPending = "pending"
	// StatusSettled: the transfer happened (facilitator receipt or on-chain evidence).
	StatusSettled = "settled"
	// StatusFailed: definitively not settled; the authorization is spent for us.
	StatusFailed = "failed"
	// StatusReleased: the claim was given back before any settlement (verify
	// refused it, or the paid handler did not succeed). The same authorization
	// may be presented and paid again.
	StatusReleased = "released"
	// StatusNeedsReview: money may have moved but the evidence is not conclusive:
	// the authorization is used on-chain without a transfer log of ours, or the
	// facilitator returned a transaction hash another row already holds. Not revenue.
	StatusNeedsReview = "needs_review"
	// StatusCancelled: the payer cancelled the authorization on-chain
	// (AuthorizationCanceled); nothing was transferred. Not revenue.
	StatusCancelled = "cancelled"
	// StatusReverted: the settlement transaction reverted, or succeeded without
	// moving the tokens (USDG emits AuthorizationAlreadyUsed and returns). Not revenue.
	StatusReverted = "reverted"
)

// Statuses lists every row status.
var Statuses = []string{StatusPending, StatusSettled, StatusFailed, StatusReleased, StatusNeedsReview, StatusCancelled, StatusReverted}

// ErrTxHashConflict is returned when a transaction hash is already held by
// another row (UNIQUE tx_hash): the facilitator reported one transaction for two
// authorizations. The row is moved to needs_review, never retried.
var ErrTxHashConflict = errors.New("ledger: transaction hash already recorded for another payment")

// ErrUnavailable wraps any failure to reach or use the ledger.
var ErrUnavailable = errors.New("ledger: unavailable")

// ErrNotPending is returned when a conditional change finds no row in the state
// it requires (resolved already, e.g. by a concurrent reconciler run, or held
// by another presentation).
var ErrNotPending = errors.New("ledger: payment is not pending")

// Payment is one x402_payments row; its tags declare the table's columns
// (columns.go): the column name, who may read it and who writes it.
type Payment struct {
	ID              string     `json:"id" ledger:"auto"`
	PayerAddress    string     `json:"payer_address" ledger:"fixed"`
	Endpoint        string     `json:"endpoint"`
	Amount          string     `json:"amount"`
	TxHash          *string    `json:"tx_hash"`
	Chain           *string    `json:"chain" ledger:"fixed"`
	Status          string     `json:"status"`
	ResponseSummary *string    `json:"response_summary"`
	CreatedAt       time.Time  `json:"created_at" ledger:"auto"`
	Network         string     `json:"network" ledger:"fixed"`
	Asset           string     `json:"asset" ledger:"fixed"`
	PayTo           string     `json:"pay_to"`
	Nonce           string     `json:"nonce" ledger:"fixed"`
	ValidBefore     int64      `json:"valid_before"`
	Error           *string    `json:"error,omitempty" ledger:"private"` // upstream text: service reads only
	Mock            bool       `json:"mock"`
	UpdatedAt       *time.Time `json:"updated_at" ledger:"auto"`
	// DeliveredAt is set when the paid content was served: once per authorization.
	DeliveredAt *time.Time `json:"delivered_at"`
	// ConfirmedAt is set when the reconciler found the transfer on-chain.
	ConfirmedAt *time.Time `json:"confirmed_at"`
	// SettleSentAt is set by the claim's holder just before it sends the
	// settlement: from then on money may move, and only evidence resolves the row.
	SettleSentAt *time.Time `json:"settle_sent_at"`
	// LeaseBy is the presentation holding the row (a pending claim, or the one
	// re-delivery of a settled row) and LeaseUntil when its lease ends;
	// DeliveredBy the holder whose delivery was recorded. Service reads only.
	LeaseBy     *string    `json:"lease_by,omitempty" ledger:"private"`
	LeaseUntil  *time.Time `json:"lease_until,omitempty" ledger:"private"`
	DeliveredBy *string    `json:"delivered_by,omitempty" ledger:"private"`
}

// SettleSent reports whether the settlement may have been sent.
func (p *Payment) SettleSent() bool { return p.SettleSentAt != nil }

// Holder returns the presentation holding the row, or "".
func (p *Payment) Holder() string { return orEmpty(p.LeaseBy) }

// DeliveredTo returns the holder whose delivery was recorded, or "".
func (p *Payment) DeliveredTo() string { return orEmpty(p.DeliveredBy) }

// LeaseOver reports whether the row's lease ended before now (a row without a
// lease is free).
func (p *Payment) LeaseOver(now time.Time) bool {
	return p.LeaseUntil == nil || p.LeaseUntil.Before(now)
}

// Takeable reports whether another presentation may take over a pending claim
// at now: its holder never sent the settlement and its lease is over.
func (p *Payment) Takeable(now time.Time) bool {
	return p.Status == StatusPending && !p.SettleSent() && p.LeaseOver(now)
}

// Delivered reports whether the content was served for this payment.
func (p *Payment) Delivered() bool { return p.DeliveredAt != nil }

// Key identifies an EIP-3009 authorization (the ledger's UNIQUE key), canonical
// (lower-case hex).
type Key struct {
	Network, Asset, Payer, Nonce string
}

// Tx returns the transaction hash or "".
func (p *Payment) Tx() string { return orEmpty(p.TxHash) }

// ErrorText returns the error or "".
func (p *Payment) ErrorText() string { return orEmpty(p.Error) }

func orEmpty(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// Claim is what is known before settlement: everything needed to resolve the
// payment later (by authorization on-chain or by the facilitator).
type Claim struct {
	PayerAddress    string
	Endpoint        string
	Amount          string
	Network         string
	Asset           string
	PayTo           string
	Nonce           string
	ValidBefore     int64
	ResponseSummary string
	Mock            bool
	// Holder is the presenting attempt's own token ("" = a random one) and
	// LeaseUntil the end of its exclusive hold on the claim (zero = none).
	Holder     string
	LeaseUntil time.Time
}

// Stats summarise the ledger for dashboards. Only settled rows count; mock rows
// never count as revenue.
type Stats struct {
	TotalRequests int64      `json:"totalRequests"`
	TotalRevenue  string     `json:"totalRevenue"` // atomic units, exact
	LatestPayment *time.Time `json:"latestPayment"`
	// Endpoints breaks the totals down per paid route, sorted by endpoint.
	Endpoints []EndpointStats `json:"endpoints"`
	// Assets are the totals per token (network, asset), sorted. TotalRevenue
	// and each endpoint's revenue add atomic units of every accepted token;
	// only these figures keep tokens apart.
	Assets []AssetStats `json:"assets"`
}

// AssetStats are the totals of one token.
type AssetStats struct {
	Network       string     `json:"network"`
	Asset         string     `json:"asset"`
	Requests      int64      `json:"requests"`
	Revenue       string     `json:"revenue"` // atomic units of this asset
	LatestPayment *time.Time `json:"latestPayment"`
}

// EndpointStats are the totals of one paid route.
type EndpointStats struct {
	Endpoint      string     `json:"endpoint"`
	Requests      int64      `json:"requests"`
	Revenue       string     `json:"revenue"`
	LatestPayment *time.Time `json:"latestPayment"`
}
