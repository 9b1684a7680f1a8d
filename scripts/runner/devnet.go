package runner

import (
	"context"
	"errors"
	"fmt"
	"html"
	"math/big"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/ethereum/go-ethereum"
	"github.com/ethereum/go-ethereum/common"

	"github.com/insforge/edge-functions-go/shared/localchain"
	"github.com/insforge/edge-functions-go/shared/localokx"
)

// DevChain is the local X Layer of `make dev DEV_ARGS=--devnet`: Anvil with the
// test USDG, the OKX emulator settling on it, a faucet and a local explorer.
type DevChain struct {
	Devnet *localchain.Devnet
	URL    string // base of the OKX emulator, the faucet (/faucet) and the explorer (/tx/)
	srv    *http.Server
}

// FaucetAmount is what one faucet call mints: 100 test USDG (6 decimals).
var FaucetAmount = big.NewInt(100_000_000)

// StartDevChain starts the devnet and its HTTP side on a loopback port.
func StartDevChain(ctx context.Context) (*DevChain, error) {
	d, err := localchain.Start(ctx, localchain.Options{})
	if err != nil {
		return nil, err
	}
	okx := localokx.New("v2")
	okx.SettleOn(d)
	c := &DevChain{Devnet: d}
	mux := http.NewServeMux()
	mux.Handle("/api/", okx)
	mux.HandleFunc("POST /faucet", c.faucet)
	mux.HandleFunc("GET /tx/{hash}", c.explorer)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		d.Close()
		return nil, err
	}
	c.URL = "http://" + ln.Addr().String()
	c.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = c.srv.Serve(ln) }()
	return c, nil
}

// Close stops the HTTP side and the node.
func (c *DevChain) Close() error {
	err := c.srv.Close()
	c.Devnet.Close()
	return err
}

// Vars point the x402 functions at the devnet: real settlements through the OKX
// emulator, the balance check and the reconciler on its RPC, explorer links to
// the local explorer.
func (c *DevChain) Vars() map[string]string {
	return map[string]string{
		"MOCK_OKX_FACILITATOR": "false",
		"OKX_BASE_URL":         c.URL,
		"OKX_API_KEY":          localokx.Key,
		"OKX_SECRET_KEY":       localokx.Secret,
		"OKX_PASSPHRASE":       localokx.Passphrase,
		"XLAYER_RPC_URL":       c.Devnet.URL,
		"X402_EXPLORER_TX_URL": c.URL + "/tx/",
	}
}

// faucet mints FaucetAmount test USDG to ?address=.
func (c *DevChain) faucet(w http.ResponseWriter, r *http.Request) {
	a := r.URL.Query().Get("address")
	if !common.IsHexAddress(a) {
		http.Error(w, "address= must be a 0x address", http.StatusBadRequest)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 10*time.Second)
	defer cancel()
	if err := c.Devnet.Mint(ctx, c.Devnet.USDG, common.HexToAddress(a), FaucetAmount); err != nil {
		http.Error(w, "mint failed", http.StatusBadGateway)
		return
	}
	fmt.Fprintf(w, "minted 100 test USDG to %s on the local devnet\n", common.HexToAddress(a).Hex())
}

// explorer shows a transaction of the devnet, saying plainly that it is local.
func (c *DevChain) explorer(w http.ResponseWriter, r *http.Request) {
	h := r.PathValue("hash")
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Security-Policy", "default-src 'none'")
	fmt.Fprintf(w, "<!doctype html><title>Local devnet transaction</title><h1>Local devnet — not X Layer</h1>"+
		"<p>This transaction lives on the Anvil devnet of <code>make dev</code> (chain id 196, test tokens, gone when it stops).</p>"+
		"<p><code>%s</code></p>", html.EscapeString(h))
	if len(h) != 66 || !strings.HasPrefix(h, "0x") {
		fmt.Fprint(w, "<p>Not a transaction hash.</p>")
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
	defer cancel()
	rc, err := c.Devnet.Receipt(ctx, common.HexToHash(h))
	switch {
	case errors.Is(err, ethereum.NotFound):
		fmt.Fprint(w, "<p>Unknown to the devnet (not mined, or dropped).</p>")
	case err != nil:
		fmt.Fprint(w, "<p>The devnet did not answer.</p>")
	default:
		fmt.Fprintf(w, "<p>Block %d, status %d, %d logs.</p>", rc.BlockNumber.Uint64(), rc.Status, len(rc.Logs))
	}
}
