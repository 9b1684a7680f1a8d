package ledger_test

import (
	"testing"

	"github.com/insforge/edge-functions-go/shared/insforge/insforgetest"
	"github.com/insforge/edge-functions-go/shared/ledger"
	"github.com/insforge/edge-functions-go/shared/ledger/ledgertest"
)

func TestPostgreSQLLedgerConforms(t *testing.T) {
	ledgertest.Conformance(t, func(t *testing.T) ledgertest.Ledger {
		return ledger.New(insforgetest.New(t).ServiceClient())
	})
}
