// Command x402-gateway serves ANY /pay/{proxy+}: priced routes of an upstream
// HTTP API, each charged per call with x402 and forwarded once paid.
package main

import (
	"github.com/insforge/edge-functions-go/shared/launch"
	"github.com/insforge/edge-functions-go/shared/x402gateway"
)

func main() { launch.HTTP("x402-gateway", x402gateway.Build) }
