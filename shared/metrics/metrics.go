// Package metrics writes CloudWatch Embedded Metric Format (EMF) lines: one JSON
// object per line on stdout, which CloudWatch Logs turns into metrics without any
// API call, agent or extra latency. Outside AWS they are ordinary JSON log lines.
package metrics

import (
	"encoding/json"
	"io"
	"math"
	"slices"
	"strconv"
	"sync"
	"time"
)

// Namespace is the CloudWatch namespace of every metric this project emits. Each
// metric is published twice: with its dimensions (function, provider, …) and as a
// total with none, which is what the template's alarms read.
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

// Add records value of name with unit ("Count", "Milliseconds", …) on a line of
// its own.
func (r *Recorder) Add(name string, value float64, unit string, dims map[string]string) {
	r.Emit("metric", name, value, unit, dims)
}

// Prop is a field of an Emit line that is not a dimension (request id, subject…):
// CloudWatch keeps it in the log event and creates no metric for it. Value is a
// string, bool or int64.
type Prop struct {
	Key   string
	Value any
}

// Emit writes the request's own log line (msg and props) with the metric in it:
// EMF allows any other fields beside the metric values, so a request that is
// logged and counted costs one line, not two. The line is always INFO and is
// written whatever LOG_LEVEL says, because the metric must not be filtered away.
//
// The line is assembled by hand rather than with maps and json.Marshal: this runs
// on every bridge request, and the generic version cost ~13 µs and 53 allocations
// per line (about a tenth of a whole token exchange).
func (r *Recorder) Emit(msg, name string, value float64, unit string, dims map[string]string, props ...Prop) {
	if r == nil || r.w == io.Discard || math.IsNaN(value) || math.IsInf(value, 0) {
		return
	}
	var kb [8]string
	keys := kb[:0]
	for k := range dims {
		if !reserved(k, name) {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)

	b := make([]byte, 0, 512)
	b = append(b, `{"level":"INFO","msg":`...)
	b = appendString(b, msg)
	if r.function != "" {
		b = appendField(b, "function", r.function)
	}
	for _, k := range keys {
		b = appendField(b, k, dims[k])
	}
	for _, p := range props {
		if reserved(p.Key, name) || dims[p.Key] != "" {
			continue
		}
		b = append(b, ',')
		b = appendString(b, p.Key)
		b = append(b, ':')
		switch v := p.Value.(type) {
		case string:
			b = appendString(b, v)
		case bool:
			b = strconv.AppendBool(b, v)
		case int64:
			b = strconv.AppendInt(b, v, 10)
		case int:
			b = strconv.AppendInt(b, int64(v), 10)
		default:
			q, _ := json.Marshal(v)
			b = append(b, q...)
		}
	}
	b = append(b, ',')
	b = appendString(b, name)
	b = append(b, ':')
	b = strconv.AppendFloat(b, value, 'g', -1, 64)
	b = append(b, `,"_aws":{"Timestamp":`...)
	b = strconv.AppendInt(b, r.now().UnixMilli(), 10)
	b = append(b, `,"CloudWatchMetrics":[{"Namespace":`...)
	b = appendString(b, Namespace)
	b = append(b, `,"Dimensions":[[`...)
	first := true
	if r.function != "" {
		b = appendString(b, "function")
		first = false
	}
	for _, k := range keys {
		if !first {
			b = append(b, ',')
		}
		b = appendString(b, k)
		first = false
	}
	b = append(b, ']')
	if !first {
		// A second, empty dimension set publishes the total across functions and
		// dimension values as well: the alarms watch it, so a function added later
		// is covered without a new alarm (CloudWatch identifies a metric by all of
		// its dimensions and cannot sum them in an alarm otherwise).
		b = append(b, ",[]"...)
	}
	b = append(b, `],"Metrics":[{"Name":`...)
	b = appendString(b, name)
	b = append(b, `,"Unit":`...)
	b = appendString(b, unit)
	b = append(b, "}]}]}}\n"...)

	r.mu.Lock()
	defer r.mu.Unlock()
	_, _ = r.w.Write(b)
}

// reserved keys cannot be dimensions: they would duplicate a key of the line.
func reserved(k, metric string) bool {
	return k == "level" || k == "msg" || k == "function" || k == "_aws" || k == metric || k == ""
}

func appendField(b []byte, k, v string) []byte {
	b = append(b, ',')
	b = appendString(b, k)
	b = append(b, ':')
	return appendString(b, v)
}

// appendString writes s as a JSON string: printable ASCII directly, anything
// else through encoding/json (rare: names and dimensions are short identifiers).
func appendString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c > 0x7e || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			q, _ := json.Marshal(s)
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}
