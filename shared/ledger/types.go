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

// Row statuses.
const (
	StatusPending = "pending"
	StatusSettled = "settled"
	StatusFailed  = "failed"
)

// ErrUnavailable wraps any failure to reach or use the ledger.
var ErrUnavailable = errors.New("ledger: unavailable")

// ErrNotPending is returned when a status change finds no pending row (it was
// resolved already, e.g. by a concurrent reconciler run).
var ErrNotPending = errors.New("ledger: payment is not pending")

// Payment is one x402_payments row.
type Payment struct {
	ID              string     `json:"id"`
	PayerAddress    string     `json:"payer_address"`
	Endpoint        string     `json:"endpoint"`
	Amount          string     `json:"amount"`
	TxHash          *string    `json:"tx_hash"`
	Chain           *string    `json:"chain"`
	Status          string     `json:"status"`
	ResponseSummary *string    `json:"response_summary"`
	CreatedAt       time.Time  `json:"created_at"`
	Network         string     `json:"network"`
	Asset           string     `json:"asset"`
	PayTo           string     `json:"pay_to"`
	Nonce           string     `json:"nonce"`
	ValidBefore     int64      `json:"valid_before"`
	Error           *string    `json:"error"`
	Mock            bool       `json:"mock"`
	UpdatedAt       *time.Time `json:"updated_at"`
}

// Tx returns the transaction hash or "".
func (p *Payment) Tx() string {
	if p.TxHash == nil {
		return ""
	}
	return *p.TxHash
}

// ErrorText returns the error or "".
func (p *Payment) ErrorText() string {
	if p.Error == nil {
		return ""
	}
	return *p.Error
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
}

// Stats summarise the ledger for dashboards. Only settled rows count; mock rows
// never count as revenue.
type Stats struct {
	TotalRequests int64      `json:"totalRequests"`
	TotalRevenue  string     `json:"totalRevenue"` // atomic units, exact
	LatestPayment *time.Time `json:"latestPayment"`
}
