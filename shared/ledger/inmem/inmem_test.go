package inmem_test

import (
	"testing"

	"github.com/insforge/edge-functions-go/shared/ledger/inmem"
	"github.com/insforge/edge-functions-go/shared/ledger/ledgertest"
)

func TestInMemoryLedgerConforms(t *testing.T) {
	ledgertest.Conformance(t, func(*testing.T) ledgertest.Ledger { return inmem.New() })
}
