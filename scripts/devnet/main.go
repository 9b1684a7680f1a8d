// Command devnet runs the local X Layer on its own: Anvil with chain id 196 and
// the test tokens (shared/localchain), and the OKX facilitator emulator settling
// on it (shared/localokx). It prints one JSON line — RPC URL, token addresses,
// the deployer's (minting) key, the OKX emulator's URL and credentials — and runs
// until interrupted. Used by e2e; handy for pointing a wallet at a local chain.
//
//	go run ./scripts/devnet
//
// POST <okx>/script/settle?status=pending|timeout|fail|http502|"" scripts the
// emulator's next settlements (none: normal).
package main

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/ethereum/go-ethereum/crypto"

	"github.com/insforge/edge-functions-go/scripts/internal/cli"
	"github.com/insforge/edge-functions-go/shared/localchain"
	"github.com/insforge/edge-functions-go/shared/localokx"
)

func run(ctx context.Context) error {
	startCtx, cancel := context.WithTimeout(ctx, time.Minute)
	d, err := localchain.Start(startCtx, localchain.Options{})
	cancel()
	if err != nil {
		return err
	}
	defer d.Close()
	okx := localokx.New("v2")
	okx.SettleOn(d)
	mux := http.NewServeMux()
	mux.Handle("/api/", okx)
	mux.HandleFunc("POST /script/settle", func(w http.ResponseWriter, r *http.Request) {
		okx.SettleStatus("")
		okx.SettleFail("")
		okx.HTTPError("settle", 0)
		switch st := r.URL.Query().Get("status"); st {
		case "pending", "timeout":
			okx.SettleStatus(st)
		case "fail":
			okx.SettleFail("scripted")
		case "http502":
			okx.HTTPError("settle", http.StatusBadGateway)
		}
		w.WriteHeader(http.StatusNoContent)
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()
	info := map[string]any{
		"rpc": d.URL, "chainId": d.ChainID.Int64(), "usdg": d.USDG.Hex(), "strict": d.Strict.Hex(),
		"deployerKey": "0x" + localchain.DeployerKey, "facilitator": localchain.Address(d.Facilitator).Hex(),
		"okxUrl": "http://" + ln.Addr().String(), "okxKey": localokx.Key, "okxSecret": localokx.Secret,
		"okxPassphrase": localokx.Passphrase, "startMs": d.StartTime.Milliseconds(),
		"deployer": crypto.PubkeyToAddress(d.Deployer.PublicKey).Hex(),
	}
	if err := json.NewEncoder(os.Stdout).Encode(info); err != nil {
		return err
	}
	<-ctx.Done()
	return nil
}

func main() { cli.Main("devnet", run) }
