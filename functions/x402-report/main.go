// Command x402-report serves POST /x402/report behind the x402 paywall.
package main

import (
	"github.com/insforge/edge-functions-go/shared/launch"
	"github.com/insforge/edge-functions-go/shared/x402report"
)

func main() { launch.HTTP("x402-report", x402report.Build) }
