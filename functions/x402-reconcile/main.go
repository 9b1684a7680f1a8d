// Command x402-reconcile resolves pending x402 payments (scheduled).
package main

import (
	"github.com/insforge/edge-functions-go/shared/launch"
	"github.com/insforge/edge-functions-go/shared/x402reconcile"
)

func main() { launch.Task("x402-reconcile", x402reconcile.Build) }
