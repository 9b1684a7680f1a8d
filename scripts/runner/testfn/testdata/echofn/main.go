// Command echofn is the runner's test function, wired like functions/*/main.go.
package main

import (
	"github.com/insforge/edge-functions-go/scripts/runner/testfn"
	"github.com/insforge/edge-functions-go/shared/launch"
)

func main() { launch.HTTP("echofn", testfn.Build) }
