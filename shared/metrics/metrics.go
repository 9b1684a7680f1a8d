// Package metrics writes CloudWatch Embedded Metric Format (EMF) lines: one JSON
// object per line on stdout, which CloudWatch Logs turns into metrics without any
// API call, agent or extra latency. Outside AWS they are ordinary JSON log lines.
package metrics

import (
	"encoding/json"
	"io"
	"sort"
	"sync"
	"time"
)

// Namespace is the CloudWatch namespace of every metric this project emits.
const Namespace = "InsForgeEdge"

// Recorder emits metrics for one function.
type Recorder struct {
	mu       sync.Mutex
	w        io.Writer
	function string
	now      func() time.Time
}

// New returns a Recorder writing to w, dimensioned by function name.
func New(w io.Writer, function string) *Recorder {
	return &Recorder{w: w, function: function, now: time.Now}
}

// Discard is a Recorder that writes nothing (tests, tools).
func Discard() *Recorder { return New(io.Discard, "") }

// Count records one occurrence of name with the given dimensions (e.g. provider,
// outcome). Dimension values must be low-cardinality: never user ids or tokens.
func (r *Recorder) Count(name string, dims map[string]string) {
	r.Add(name, 1, "Count", dims)
}

// Add records value of name with unit ("Count", "Milliseconds", …).
func (r *Recorder) Add(name string, value float64, unit string, dims map[string]string) {
	if r == nil || r.w == io.Discard {
		return
	}
	keys := make([]string, 0, len(dims)+1)
	line := map[string]any{"level": "INFO", "msg": "metric", name: value}
	if r.function != "" {
		keys = append(keys, "function")
		line["function"] = r.function
	}
	for k, v := range dims {
		keys = append(keys, k)
		line[k] = v
	}
	sort.Strings(keys[min(1, len(keys)):])
	line["_aws"] = map[string]any{
		"Timestamp": r.now().UnixMilli(),
		"CloudWatchMetrics": []any{map[string]any{
			"Namespace":  Namespace,
			"Dimensions": [][]string{keys},
			"Metrics":    []any{map[string]string{"Name": name, "Unit": unit}},
		}},
	}
	b, err := json.Marshal(line)
	if err != nil {
		return
	}
	b = append(b, '\n')
	r.mu.Lock()
	defer r.mu.Unlock()
	_, _ = r.w.Write(b)
}
