// Command check-domain reads an EIP-3009 token's EIP-712 domain from an RPC
// (DOMAIN_SEPARATOR() and eip712Domain()) and says which name/version pair
// matches, so X402_ASSET_NAME / X402_ASSET_VERSION can be set from chain truth.
//
//	go run ./scripts/check-domain [-rpc https://rpc.xlayer.tech] [-token 0x4ae4…]
package main

import (
	"cmp"
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/ethereum/go-ethereum/common"

	"github.com/insforge/edge-functions-go/shared/config"
	"github.com/insforge/edge-functions-go/shared/x402/onchain"
)

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

// run is the command: 0 when a candidate matches, 1 otherwise or on error.
func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("check-domain", flag.ContinueOnError)
	fs.SetOutput(stderr)
	rpc := fs.String("rpc", cmp.Or(os.Getenv("XLAYER_RPC_URL"), "https://rpc.xlayer.tech"), "JSON-RPC URL")
	token := fs.String("token", cmp.Or(os.Getenv("X402_ASSET"), "0x4ae46a509f6b1d9056937ba4500cb143933d2dc8"), "token address")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	fail := func(err error) int {
		fmt.Fprintln(stderr, "check-domain:", err)
		return 1
	}
	if _, err := config.CheckURL("rpc", *rpc); err != nil {
		return fail(err)
	}
	if !common.IsHexAddress(*token) {
		return fail(fmt.Errorf("token %q is not an address", *token))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c, err := onchain.Dial(*rpc) // refuses redirects, like every outbound client
	if err != nil {
		return fail(err)
	}
	defer c.Close()
	configured := [2]string{os.Getenv("X402_ASSET_NAME"), os.Getenv("X402_ASSET_VERSION")}
	r, err := onchain.CheckDomain(ctx, c, common.HexToAddress(*token), configured)
	if err != nil {
		return fail(err)
	}
	fmt.Fprintf(stdout, "token %s on chain %s\n", r.Token.Hex(), r.ChainID)
	if r.OnChainSeparator != nil {
		fmt.Fprintf(stdout, "DOMAIN_SEPARATOR() = %s\n", r.OnChainSeparator.Hex())
	}
	if r.HasEIP712Domain {
		fmt.Fprintf(stdout, "eip712Domain() name=%q version=%q\n", r.DomainName, r.DomainVersion)
	}
	for _, cand := range r.Candidates {
		mark := " "
		if cand.Match {
			mark = "✓"
		}
		fmt.Fprintf(stdout, "%s name=%q version=%q separator=%s\n", mark, cand.Name, cand.Version, cand.Separator.Hex())
	}
	m, ok := r.Match()
	if !ok {
		fmt.Fprintln(stdout, "no candidate matches: do not go live until X402_ASSET_NAME/X402_ASSET_VERSION are right")
		return 1
	}
	fmt.Fprintf(stdout, "use X402_ASSET_NAME=%q X402_ASSET_VERSION=%q\n", m.Name, m.Version)
	return 0
}
