// Command x402-pass sells passes: POST /x402/pass/{product} is paid with x402
// and delivers an entitlement for the payer's wallet (x402_entitlements, written
// with the payment's record) and an InsForge token for that wallet. Wiring only:
// configured by X402_PASS_PRODUCTS, the paywall's and facilitator's variables,
// INSFORGE_BASE_URL / INSFORGE_SERVICE_KEY and INSFORGE_JWT_SECRET / TOKEN_TTL
// (shared/x402pass); a bad value fails the cold start naming it.
package main

import (
	"github.com/insforge/edge-functions-go/shared/launch"
	"github.com/insforge/edge-functions-go/shared/x402pass"
)

func main() {
	launch.HTTP("x402-pass", x402pass.Build)
}
