// Command x402-reconcile resolves pending x402 payments (scheduled).
package main

import (
	"github.com/insforge/edge-functions-go/shared/launch"
	"github.com/insforge/edge-functions-go/shared/ledger/reconcile"
)

func main() { launch.Task("x402-reconcile", reconcile.Build) }
