// Package onchaintest starts the local X Layer (shared/localchain: Anvil with the
// test tokens) for a test and stops it when the test ends. Without Anvil the
// test is skipped, except under CI where that is a failure.
package onchaintest

import (
	"context"
	"errors"
	"math/big"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"

	"github.com/insforge/edge-functions-go/shared/internal/ci"
	"github.com/insforge/edge-functions-go/shared/localchain"
)

// Options are localchain's.
type Options = localchain.Options

// New starts a devnet for t.
func New(t testing.TB) *localchain.Devnet { return NewWith(t, Options{}) }

// NewWith starts a devnet with o for t.
func NewWith(t testing.TB, o Options) *localchain.Devnet {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	d, err := localchain.Start(ctx, o)
	if errors.Is(err, localchain.ErrNoAnvil) && !ci.Required() {
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(d.Close)
	return d
}

// Mint credits holder with value units of token, failing t on error.
func Mint(t testing.TB, d *localchain.Devnet, token, holder common.Address, value int64) {
	t.Helper()
	if err := d.Mint(context.Background(), token, holder, big.NewInt(value)); err != nil {
		t.Fatal(err)
	}
}
