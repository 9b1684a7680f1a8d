package x402

import (
	"math/big"
	"strings"

	"github.com/ethereum/go-ethereum/common"
)

// KnownAsset is an EIP-3009 token whose address, EIP-712 domain and decimals
// are pinned from primary sources (docs/x402.md, "Assets") and checked against
// viem-made signatures (testdata/usdt0_vectors.json). Extra assets of an offer
// (X402_EXTRA_ASSETS) are named by Symbol and come only from this table: a
// payment domain typed by hand is a payment nobody can settle.
type KnownAsset struct {
	Symbol   string // what X402_EXTRA_ASSETS lists
	Network  string // CAIP-2
	Address  string // EIP-55
	Name     string // EIP-712 domain name
	Version  string // EIP-712 domain version
	Decimals int
}

// knownAssets: USDG's domain is the default of X402_ASSET_NAME/VERSION (the
// on-chain value decides; scripts/check-domain). USD₮0 on X Layer: address,
// name "USD₮0" (U+20AE), version "1", 6 decimals, as in OKX's Go SDK
// (github.com/okx/payments go/x402/mechanisms/evm/constants.go) and Java SDK
// (java/core/src/main/java/com/okx/x402/config/AssetRegistry.java).
var knownAssets = []KnownAsset{
	{Symbol: "USDG", Network: "eip155:196", Address: "0x4ae46a509F6b1D9056937BA4500cb143933D2dc8",
		Name: "Global Dollar", Version: "1", Decimals: 6},
	{Symbol: "USDT0", Network: "eip155:196", Address: "0x779Ded0c9e1022225f8E0630b35a9b54bE713736",
		Name: "USD\u20ae0", Version: "1", Decimals: 6},
}

// LookupAsset finds a known asset on network by symbol (case-insensitive) or
// by address.
func LookupAsset(network, symbolOrAddress string) (KnownAsset, bool) {
	for _, a := range knownAssets {
		if a.Network != network {
			continue
		}
		if strings.EqualFold(a.Symbol, symbolOrAddress) ||
			common.IsHexAddress(symbolOrAddress) && common.HexToAddress(symbolOrAddress) == common.HexToAddress(a.Address) {
			return a, true
		}
	}
	return KnownAsset{}, false
}

// KnownAssets returns the table (a copy).
func KnownAssets() []KnownAsset { return append([]KnownAsset(nil), knownAssets...) }

// scale converts an amount from one token's atomic units to another's:
// exact or refused (ok false), never rounded.
func scale(amount *big.Int, from, to int) (*big.Int, bool) {
	switch {
	case to == from:
		return new(big.Int).Set(amount), true
	case to > from:
		return new(big.Int).Mul(amount, new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(to-from)), nil)), true
	}
	q, r := new(big.Int).QuoRem(amount, new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(from-to)), nil), new(big.Int))
	return q, r.Sign() == 0 && q.Sign() > 0
}
