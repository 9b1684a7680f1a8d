package paywall

import (
	"context"
	"math/big"
	"sync"
	"time"

	"github.com/ethereum/go-ethereum/common"
)

// balanceCache remembers balances briefly: a payer's repeated purchases cost one
// RPC call per TTL.
type balanceCache struct {
	r   BalanceReader
	ttl time.Duration
	mu  sync.Mutex
	m   map[string]balanceEntry
}

type balanceEntry struct {
	bal *big.Int
	at  time.Time
}

func (c *balanceCache) get(ctx context.Context, token, holder common.Address, now time.Time) (*big.Int, error) {
	k := token.Hex() + holder.Hex()
	c.mu.Lock()
	e, ok := c.m[k]
	c.mu.Unlock()
	if ok && now.Sub(e.at) < c.ttl {
		return e.bal, nil
	}
	bctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	bal, err := c.r.BalanceOf(bctx, token, holder)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	if len(c.m) > 10000 {
		c.m = map[string]balanceEntry{}
	}
	c.m[k] = balanceEntry{bal: bal, at: now}
	c.mu.Unlock()
	return bal, nil
}
