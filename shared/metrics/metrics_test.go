package metrics

import (
	"bytes"
	"encoding/json"
	"io"
	"math"
	"testing"
	"time"
)

func TestCountWritesAnEMFLine(t *testing.T) {
	var buf bytes.Buffer
	r := New(&buf, "token-workos")
	r.now = func() time.Time { return time.UnixMilli(1700000000123) }
	r.Count("TokensMinted", map[string]string{"provider": "workos", "outcome": "ok"})

	var line struct {
		AWS struct {
			Timestamp         int64
			CloudWatchMetrics []struct {
				Namespace  string
				Dimensions [][]string
				Metrics    []struct{ Name, Unit string }
			}
		} `json:"_aws"`
		Level, Function, Provider, Outcome string
		TokensMinted                       float64
	}
	if err := json.Unmarshal(buf.Bytes(), &line); err != nil {
		t.Fatalf("not JSON: %q", buf.String())
	}
	m := line.AWS.CloudWatchMetrics
	if line.AWS.Timestamp != 1700000000123 || len(m) != 1 || m[0].Namespace != Namespace {
		t.Fatalf("envelope = %+v", line.AWS)
	}
	if got := m[0].Dimensions; len(got) != 2 || len(got[0]) != 3 || got[0][0] != "function" || got[0][1] != "outcome" || got[0][2] != "provider" || len(got[1]) != 0 {
		t.Fatalf("dimensions = %v", got)
	}
	if m[0].Metrics[0].Name != "TokensMinted" || m[0].Metrics[0].Unit != "Count" || line.TokensMinted != 1 {
		t.Fatalf("metric = %+v value %v", m[0].Metrics, line.TokensMinted)
	}
	if line.Level != "INFO" || line.Function != "token-workos" || line.Provider != "workos" || line.Outcome != "ok" {
		t.Fatalf("properties = %+v", line)
	}
	if bytes.Count(buf.Bytes(), []byte("\n")) != 1 {
		t.Fatal("want exactly one line")
	}
}

func TestDiscardWritesNothing(t *testing.T) {
	d := Discard()
	if d.w != io.Discard {
		t.Fatalf("Discard writes to %T, want io.Discard", d.w)
	}
	d.Count("X", nil)
	var r *Recorder
	r.Count("X", nil) // a nil recorder is safe

	// The contrast: the same call on a real writer produces exactly one line,
	// so the check above is about where Discard writes, not about Count.
	var buf bytes.Buffer
	New(&buf, "f").Count("X", nil)
	if n := bytes.Count(buf.Bytes(), []byte("\n")); n != 1 || !json.Valid(bytes.TrimSpace(buf.Bytes())) {
		t.Fatalf("Count on a buffer wrote %d lines: %q", n, buf.String())
	}
}

type discardLines struct{}

func (discardLines) Write(p []byte) (int, error) { return len(p), nil }

// BenchmarkCount is the cost a bridge pays per request for its EMF line.
func BenchmarkCount(b *testing.B) {
	r := New(discardLines{}, "token-better-auth")
	dims := map[string]string{"provider": "better-auth", "code": "token_expired"}
	b.ReportAllocs()
	for b.Loop() {
		r.Count("TokensRefused", dims)
	}
}

// TestLinesAreValidJSONForAwkwardValues: escaping, non-ASCII, no function,
// reserved dimension names dropped, NaN skipped.
func TestLinesAreValidJSONForAwkwardValues(t *testing.T) {
	cases := []struct {
		name     string
		function string
		metric   string
		value    float64
		dims     map[string]string
		wantDims []string
		wantLine bool
	}{
		{"quotes and control bytes", "fn", "Errors", 2.5, map[string]string{"code": "a\"b\\c\n<x>&"}, []string{"function", "code"}, true},
		{"non-ascii", "", "Pago", 1, map[string]string{"región": "São Paulo"}, []string{"región"}, true},
		{"reserved dimension dropped", "fn", "X", 1, map[string]string{"level": "DEBUG", "_aws": "x", "X": "y", "b": "1", "a": "2"}, []string{"function", "a", "b"}, true},
		{"no dimensions", "", "X", 1, nil, []string{}, true},
		{"NaN", "fn", "X", math.NaN(), nil, nil, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var buf bytes.Buffer
			New(&buf, c.function).Add(c.metric, c.value, "Count", c.dims)
			if !c.wantLine {
				if buf.Len() != 0 {
					t.Fatalf("wrote %q", buf.String())
				}
				return
			}
			var line map[string]any
			if err := json.Unmarshal(buf.Bytes(), &line); err != nil {
				t.Fatalf("not JSON: %v: %q", err, buf.String())
			}
			if line["level"] != "INFO" || line[c.metric] != c.value {
				t.Fatalf("line = %v", line)
			}
			for _, k := range c.wantDims {
				want := c.dims[k]
				if k == "function" {
					want = c.function
				}
				if line[k] != want {
					t.Fatalf("%s = %v, want %q", k, line[k], want)
				}
			}
			aws := line["_aws"].(map[string]any)["CloudWatchMetrics"].([]any)[0].(map[string]any)
			dims := aws["Dimensions"].([]any)[0].([]any)
			if len(dims) != len(c.wantDims) {
				t.Fatalf("dimensions = %v, want %v", dims, c.wantDims)
			}
			for i := range dims {
				if dims[i] != c.wantDims[i] {
					t.Fatalf("dimensions = %v, want %v", dims, c.wantDims)
				}
			}
		})
	}
}

func TestEmitPutsTheMetricOnTheRequestLine(t *testing.T) {
	var buf bytes.Buffer
	r := New(&buf, "token-clerk")
	r.Emit("token minted", "TokensMinted", 1, "Count", map[string]string{"provider": "clerk"},
		Prop{"request_id", "req-1"}, Prop{"email", false}, Prop{"expires_at", int64(1700000000)},
		Prop{"provider", "shadow"}, Prop{"function", "shadow"}, Prop{"_aws", "shadow"}, Prop{"TokensMinted", "shadow"})
	if bytes.Count(buf.Bytes(), []byte("\n")) != 1 {
		t.Fatalf("want one line: %q", buf.String())
	}
	var line map[string]any
	dec := json.NewDecoder(bytes.NewReader(buf.Bytes()))
	if err := dec.Decode(&line); err != nil {
		t.Fatalf("not JSON: %q", buf.String())
	}
	want := map[string]any{"msg": "token minted", "level": "INFO", "function": "token-clerk", "provider": "clerk",
		"request_id": "req-1", "email": false, "expires_at": float64(1700000000), "TokensMinted": float64(1)}
	for k, v := range want {
		if line[k] != v {
			t.Errorf("%s = %#v, want %#v", k, line[k], v)
		}
	}
	// A prop never duplicates a key: encoding/json would keep the last one, CloudWatch may not.
	for _, k := range []string{`"provider"`, `"function"`, `"_aws"`, `"TokensMinted"`} {
		if n := bytes.Count(buf.Bytes(), []byte(k+":")); n != 1 {
			t.Errorf("%s appears %d times: %s", k, n, buf.String())
		}
	}
}
