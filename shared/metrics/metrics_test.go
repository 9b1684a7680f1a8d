package metrics

import (
	"bytes"
	"encoding/json"
	"io"
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
	if got := m[0].Dimensions; len(got) != 1 || len(got[0]) != 3 || got[0][0] != "function" || got[0][1] != "outcome" || got[0][2] != "provider" {
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
	Discard().Count("X", nil)
	var r *Recorder
	r.Count("X", nil) // a nil recorder is safe
	if New(io.Discard, "f").w != io.Discard {
		t.Fatal("unexpected")
	}
}
