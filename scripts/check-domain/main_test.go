package main

import (
	"strings"
	"testing"

	"github.com/insforge/edge-functions-go/shared/x402/onchain/onchaintest"
)

// The command against the local X Layer: the devnet's USDG (at USDG's address,
// the default -token) and the strict variant both report the pair USDG uses.
func TestCheckDomainOnTheDevnet(t *testing.T) {
	d := onchaintest.New(t)
	t.Setenv("XLAYER_RPC_URL", "")
	t.Setenv("X402_ASSET", "")
	t.Setenv("X402_ASSET_NAME", "")
	t.Setenv("X402_ASSET_VERSION", "")
	for _, args := range [][]string{{"-rpc", d.URL}, {"-rpc", d.URL, "-token", d.Strict.Hex()}} {
		var out, errs strings.Builder
		if code := run(args, &out, &errs); code != 0 {
			t.Fatalf("%v: exit %d\n%s%s", args, code, out.String(), errs.String())
		}
		if !strings.Contains(out.String(), "on chain 196") || !strings.Contains(out.String(), `eip712Domain() name="Global Dollar" version="1"`) ||
			!strings.Contains(out.String(), `use X402_ASSET_NAME="Global Dollar" X402_ASSET_VERSION="1"`) {
			t.Fatalf("%v: output\n%s", args, out.String())
		}
	}
	// An address without a token fails, naming why.
	var out, errs strings.Builder
	if code := run([]string{"-rpc", d.URL, "-token", "0x0000000000000000000000000000000000000001"}, &out, &errs); code != 1 ||
		!strings.Contains(errs.String(), "neither DOMAIN_SEPARATOR() nor eip712Domain()") {
		t.Fatalf("exit %d: %s%s", code, out.String(), errs.String())
	}
}
