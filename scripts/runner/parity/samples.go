// Package parity compares Lambda responses of the same function run in two ways
// (under AWS's Runtime Interface Emulator and the local runner, or as the host
// build and as the linux/arm64 artifact under emulation): it finds each sample
// event's function and reduces responses to what must be equal.
package parity

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/insforge/edge-functions-go/scripts/internal/samtemplate"
)

// PaymentPlaceholder marks a paid-retry event: each run signs its own payment.
const PaymentPlaceholder = "{{x402-payment}}"

// Sample is one file of events/.
type Sample struct {
	Name     string // file name without .json
	File     string
	Function string // logical id
	Raw      []byte
	HTTP     bool // a payload 2.0 event (else a schedule)
	Paid     bool // carries PaymentPlaceholder
}

// Samples reads every events/*.json under dir and names the function that takes
// it: HTTP events by their route key (so /pay/quote finds ANY /pay/{proxy+}),
// scheduled events by the scheduled function whose
// package the file name carries. An event no function takes is an error.
func Samples(dir string, fns []samtemplate.Function) ([]Sample, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil {
		return nil, err
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("no sample events in %s", dir)
	}
	sort.Strings(files)
	routes := map[string]string{}
	for _, f := range fns {
		for _, r := range f.Routes {
			routes[r.Path] = f.LogicalID
		}
	}
	var out []Sample
	for _, file := range files {
		raw, err := os.ReadFile(file)
		if err != nil {
			return nil, err
		}
		var probe struct {
			Source   string `json:"source"`
			RawPath  string `json:"rawPath"`
			RouteKey string `json:"routeKey"`
		}
		if err := json.Unmarshal(raw, &probe); err != nil {
			return nil, fmt.Errorf("%s: %w", file, err)
		}
		_, routePath, _ := strings.Cut(probe.RouteKey, " ")
		s := Sample{Name: strings.TrimSuffix(filepath.Base(file), ".json"), File: file, Raw: raw,
			Function: routes[routePath], HTTP: probe.Source == "" && probe.RawPath != "",
			Paid: bytes.Contains(raw, []byte(PaymentPlaceholder))}
		if probe.Source == "aws.events" {
			for _, f := range fns {
				if len(f.Schedules) > 0 && strings.Contains(s.Name, filepath.Base(f.Package)) {
					s.Function = f.LogicalID
				}
			}
		}
		if s.Function == "" {
			return nil, fmt.Errorf("%s: no function of the template takes this event", file)
		}
		out = append(out, s)
	}
	return out, nil
}
