package ledgertest

import (
	"context"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/insforge/edge-functions-go/shared/ledger"
)

// Querier runs a query: a pool, a connection or a transaction (e.g. one
// under a client role, insforgetest.Stack.AsRole).
type Querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

// Payments reads x402_payments rows with SQL: SELECT cols FROM
// public.x402_payments, then tail (WHERE, ORDER BY …, with args), each row
// scanned into a ledger.Payment by column name (Payment.Fields); columns not
// selected stay zero. No cols: every column (ledger.Columns).
func Payments(ctx context.Context, q Querier, cols []string, tail string, args ...any) ([]ledger.Payment, error) {
	if len(cols) == 0 {
		cols = ledger.Columns()
	}
	rows, err := q.Query(ctx, `SELECT `+strings.Join(cols, ", ")+` FROM public.x402_payments `+tail, args...)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (ledger.Payment, error) {
		var p ledger.Payment
		err := r.Scan(p.Fields(cols...)...)
		return p, err
	})
}
