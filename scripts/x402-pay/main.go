// Command x402-pay pays an x402 resource: go run ./scripts/x402-pay <url>.
// The payer key comes from X402_PAYER_KEY; without it a throwaway dev key is
// generated and printed (fund it with USDG on X Layer for real settlements).
package main

import (
	"context"
	"encoding/hex"
	"flag"
	"fmt"
	"math/big"
	"os"
	"time"

	"github.com/ethereum/go-ethereum/crypto"

	"github.com/insforge/edge-functions-go/shared/x402/payer"
)

func main() {
	method := flag.String("X", "POST", "HTTP method")
	data := flag.String("d", "", "request body")
	max := flag.String("max", "10000", "refuse to pay more than this many atomic units")
	v1 := flag.Bool("v1", false, "pay with X-PAYMENT (x402 v1) instead of PAYMENT-SIGNATURE")
	asset := flag.String("asset", "", "pay with this token address (default: the first the challenge offers)")
	flag.Parse()
	if flag.NArg() != 1 {
		fmt.Fprintln(os.Stderr, "usage: x402-pay [-X POST] [-d body] [-max 10000] [-v1] [-asset 0x…] <url>")
		os.Exit(2)
	}
	key, generated, err := payer.LoadKey(os.Getenv("X402_PAYER_KEY"))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	addr := crypto.PubkeyToAddress(key.PublicKey)
	if generated {
		fmt.Fprintf(os.Stderr, "generated dev payer key (set X402_PAYER_KEY to reuse it): 0x%s\n", hex.EncodeToString(crypto.FromECDSA(key)))
	}
	fmt.Fprintf(os.Stderr, "payer: %s\n", addr.Hex())
	limit, ok := new(big.Int).SetString(*max, 10)
	if !ok {
		fmt.Fprintln(os.Stderr, "-max must be an integer")
		os.Exit(2)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	c := &payer.Client{Key: key, MaxAmount: limit, PreferV1: *v1, Asset: *asset}
	res, err := c.Pay(ctx, *method, flag.Arg(0), []byte(*data))
	if err != nil {
		fmt.Fprintln(os.Stderr, "payment failed:", err)
		os.Exit(1)
	}
	fmt.Fprintf(os.Stderr, "status: %d (paid: %v, style: %s)\n", res.Status, res.Paid, res.Style)
	if s := res.Settlement; s != nil {
		fmt.Fprintf(os.Stderr, "settlement: success=%v transaction=%s network=%s payer=%s reason=%s\n",
			s.Success, s.Transaction, s.Network, s.Payer, s.ErrorReason)
	}
	os.Stdout.Write(res.Body)
	fmt.Println()
	if res.Status >= 400 {
		os.Exit(1)
	}
}
