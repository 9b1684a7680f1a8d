package main

import (
	"encoding/xml"
	"io"
	"math"
	"strings"
	"testing"
)

func TestParseBenchReadsResultLinesOnly(t *testing.T) {
	out := `goos: linux
BenchmarkFloorRS256-2           	    9826	    107726 ns/op	    7114 B/op	      96 allocs/op
BenchmarkDecodePaymentHeader-2    	   24106	     17844 ns/op	  58.73 MB/s	    2160 B/op	      28 allocs/op
BenchmarkColdStart/TokenClerkFunction-2  20  5123456 ns/op  3.1 init-ms/op
BenchmarkBroken-2 fail
PASS
ok  	x	1.0s`
	got := parseBench(strings.NewReader(out))
	if len(got) != 3 {
		t.Fatalf("got %+v", got)
	}
	if got[0] != (benchLine{"FloorRS256", 107726, 7114, 96}) {
		t.Fatalf("line 0 = %+v", got[0])
	}
	if got[1].Name != "DecodePaymentHeader" || got[1].BOp != 2160 || got[1].Allocs != 28 {
		t.Fatalf("line 1 = %+v", got[1])
	}
	if got[2].Name != "ColdStart/TokenClerkFunction" || got[2].BOp != -1 {
		t.Fatalf("line 2 = %+v", got[2])
	}
}

func TestPercentileNearestRank(t *testing.T) {
	xs := []float64{5, 1, 4, 2, 3, 10, 9, 8, 7, 6}
	cases := map[float64]float64{50: 5, 90: 9, 99: 10, 100: 10, 1: 1}
	for p, want := range cases {
		if got := percentile(xs, p); got != want {
			t.Errorf("p%v = %v, want %v", p, got, want)
		}
	}
	if !math.IsNaN(median(nil)) {
		t.Error("median of nothing must be NaN")
	}
	if xs[0] != 5 {
		t.Error("percentile sorted its input in place")
	}
}

func TestRenderSVGIsWellFormedAndEscaped(t *testing.T) {
	s := renderSVG("A & B", []panel{
		{Title: "cold <start>", Unit: "ms", Bars: []bar{{Label: "token-clerk", Value: 5, Whisker: 7, Budget: 20, Note: "≤ 20"}}},
		{Title: "latency", Unit: "ms", Series: []string{"p50", "p99"}, Bars: []bar{{Label: "bridge"}}, Values: [][]float64{{1.5, 3}}},
	})
	d := xml.NewDecoder(strings.NewReader(s))
	for {
		_, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("not well-formed XML: %v\n%s", err, s)
		}
	}
	for _, want := range []string{"A &amp; B", "cold &lt;start&gt;", "token-clerk", "p99 3.00", `class="bud"`} {
		if !strings.Contains(s, want) {
			t.Errorf("svg lacks %q", want)
		}
	}
}

func TestNiceCeil(t *testing.T) {
	for in, want := range map[float64]float64{0.7: 1, 3: 5, 17: 20, 40: 50, 51: 100, 100: 100} {
		if got := niceCeil(in); got != want {
			t.Errorf("niceCeil(%v) = %v, want %v", in, got, want)
		}
	}
}

func TestParseInitTrace(t *testing.T) {
	out := []byte(`init internal/bytealg @0 ms, 0 ms clock, 0 bytes, 0 allocs
init github.com/insforge/edge-functions-go/shared/identity @2.5 ms, 0.61 ms clock, 118624 bytes, 1695 allocs
{"level":"ERROR","msg":"init failed"}
init math @1.2 ms, 0.009 ms clock,`)
	got := parseInitTrace(out)
	if len(got) != 2 || got[1] != (pkgInit{"github.com/insforge/edge-functions-go/shared/identity", 0.61, 1695}) {
		t.Fatalf("got %+v", got)
	}
}

func TestRatioIsTheMedianOfPairedRounds(t *testing.T) {
	m := microResult{Runs: map[string][]benchLine{
		// Round 2 is slowed down for both by outside load: its ratio stays 1.2.
		"Floor":   {{NsOp: 100}, {NsOp: 300}, {NsOp: 100}},
		"Subject": {{NsOp: 120}, {NsOp: 360}, {NsOp: 150}},
	}}
	if r, ok := m.ratio("Subject", "Floor"); !ok || math.Abs(r-1.2) > 1e-9 {
		t.Fatalf("ratio = %v, %v; want 1.2", r, ok)
	}
	if _, ok := m.ratio("Subject", "Missing"); ok {
		t.Fatal("a ratio without a floor")
	}
	if med, _ := m.med("Floor"); med.NsOp != 100 {
		t.Fatalf("median = %v", med.NsOp)
	}
}
