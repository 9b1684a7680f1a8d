package runner

import (
	"fmt"
	"strings"
)

// Overrides parses SAM's --parameter-overrides syntax ("K=V K2=V2" or repeated
// flags) into a map; it implements flag.Value.
type Overrides map[string]string

func (o Overrides) String() string {
	parts := make([]string, 0, len(o))
	for k, v := range o {
		parts = append(parts, k+"="+v)
	}
	return strings.Join(parts, " ")
}

// Set adds "K=V" pairs separated by spaces.
func (o Overrides) Set(s string) error {
	for _, kv := range strings.Fields(s) {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return fmt.Errorf("parameter override %q: want Name=Value", kv)
		}
		// SAM also accepts ParameterKey=K,ParameterValue=V.
		if strings.HasPrefix(kv, "ParameterKey=") {
			pk, pv, _ := strings.Cut(strings.TrimPrefix(kv, "ParameterKey="), ",ParameterValue=")
			k, v = pk, pv
		}
		o[k] = v
	}
	return nil
}
