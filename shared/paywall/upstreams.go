package paywall

import (
	"fmt"
	"log/slog"
	"time"

	"github.com/insforge/edge-functions-go/shared/facilitator"
	"github.com/insforge/edge-functions-go/shared/insforge"
	"github.com/insforge/edge-functions-go/shared/ledger"
	"github.com/insforge/edge-functions-go/shared/x402/onchain"
)

// Upstreams are the money path's collaborators, built from configuration at
// cold start by every paid function: the ledger in InsForge, the facilitator
// and, when XLAYER_RPC_URL is set, the balance reader.
type Upstreams struct {
	Ledger      *ledger.Ledger
	Facilitator facilitator.Facilitator
	Balances    BalanceReader // nil: no balanceOf check
}

// UpstreamsFromConfig builds the Upstreams of a paid function.
func UpstreamsFromConfig(c Config, fc facilitator.Config, ic insforge.Config, log *slog.Logger) (Upstreams, error) {
	l, err := ledger.FromConfig(ic)
	if err != nil {
		return Upstreams{}, err
	}
	fac, err := facilitator.FromConfig(fc, log)
	if err != nil {
		return Upstreams{}, err
	}
	// The facilitator's /supported is checked in the background; a mismatch
	// known within the wait fails the cold start naming the variable, an
	// unreachable facilitator does not hold it up.
	checked := facilitator.CheckCapabilities(fac, c.Needs(), log)
	if err := checked.WaitFirst(facilitator.CapabilitiesInitWait); err != nil {
		return Upstreams{}, err
	}
	up := Upstreams{Ledger: l, Facilitator: checked}
	if c.XLayerRPCURL != "" {
		// Dial does not connect for HTTP endpoints; every call carries its own deadline.
		ec, err := onchain.Dial(c.XLayerRPCURL)
		if err != nil {
			return Upstreams{}, fmt.Errorf("XLAYER_RPC_URL: %w", err)
		}
		up.Balances = onchain.Reader{Caller: ec, Timeout: 2 * time.Second}
	}
	return up, nil
}
