// Command x402-payments serves GET /x402/payments: latest payments and totals.
package main

import (
	"github.com/insforge/edge-functions-go/shared/launch"
	"github.com/insforge/edge-functions-go/shared/x402payments"
)

func main() { launch.HTTP("x402-payments", x402payments.Build) }
