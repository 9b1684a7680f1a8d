// Command token-wallet signs wallets in with Sign-In with Ethereum (EIP-4361):
// GET /token/wallet/nonce issues a nonce, POST /token/wallet exchanges a signed
// message for an InsForge token whose sub is the wallet's CAIP-10 account id.
// Wiring only: configured by INSFORGE_JWT_SECRET, TOKEN_TTL, ALLOWED_ORIGINS,
// WALLET_CHAIN_ID, XLAYER_RPC_URL and INSFORGE_BASE_URL / INSFORGE_SERVICE_KEY
// (the used-nonce record), all read by shared/tokenwallet; a bad value fails the
// cold start naming it.
package main

import (
	"github.com/insforge/edge-functions-go/shared/launch"
	"github.com/insforge/edge-functions-go/shared/tokenwallet"
)

func main() {
	launch.HTTP("token-wallet", tokenwallet.Build)
}
