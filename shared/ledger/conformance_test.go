package ledger_test

import (
	"errors"
	"testing"

	"github.com/insforge/edge-functions-go/shared/insforge/insforgetest"
	"github.com/insforge/edge-functions-go/shared/ledger"
	"github.com/insforge/edge-functions-go/shared/ledger/ledgertest"
	"github.com/insforge/edge-functions-go/shared/localinsforge"
)

func TestPostgreSQLLedgerConforms(t *testing.T) {
	// Skipped as a whole without PostgreSQL (each subtest would skip anyway).
	if _, err := localinsforge.SharedCluster(); errors.Is(err, localinsforge.ErrNoPostgres) && !insforgetest.RequireCI() {
		t.Skipf("%v (CI=true or CI=1 turns this into a failure)", err)
	}
	ledgertest.Conformance(t, func(t *testing.T) ledgertest.Ledger {
		return ledger.New(insforgetest.New(t).ServiceClient())
	})
}
