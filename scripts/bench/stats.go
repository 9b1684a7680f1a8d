package main

import (
	"bufio"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
)

// benchLine is one `go test -bench` result line.
type benchLine struct {
	Name   string // without the -GOMAXPROCS suffix
	NsOp   float64
	BOp    float64
	Allocs float64
}

// parseBench reads benchmark result lines from go test output. Lines that are not
// results (PASS, ok, goos, log lines) are ignored.
func parseBench(r io.Reader) []benchLine {
	var out []benchLine
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 4 || !strings.HasPrefix(f[0], "Benchmark") {
			continue
		}
		if _, err := strconv.Atoi(f[1]); err != nil {
			continue
		}
		l := benchLine{Name: trimProcs(strings.TrimPrefix(f[0], "Benchmark")), NsOp: -1, BOp: -1, Allocs: -1}
		for i := 2; i+1 < len(f); i += 2 {
			v, err := strconv.ParseFloat(f[i], 64)
			if err != nil {
				continue
			}
			switch f[i+1] {
			case "ns/op":
				l.NsOp = v
			case "B/op":
				l.BOp = v
			case "allocs/op":
				l.Allocs = v
			}
		}
		if l.NsOp >= 0 {
			out = append(out, l)
		}
	}
	return out
}

// trimProcs drops the "-2" GOMAXPROCS suffix go test appends.
func trimProcs(name string) string {
	if i := strings.LastIndex(name, "-"); i > 0 {
		if _, err := strconv.Atoi(name[i+1:]); err == nil {
			return name[:i]
		}
	}
	return name
}

// median of xs (NaN when empty).
func median(xs []float64) float64 { return percentile(xs, 50) }

// percentile by nearest rank on a sorted copy (NaN when empty).
func percentile(xs []float64, p float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	rank := int(math.Ceil(p / 100 * float64(len(s))))
	return s[min(max(rank, 1), len(s))-1]
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func durationsMS(ds []time.Duration) []float64 {
	out := make([]float64, len(ds))
	for i, d := range ds {
		out[i] = ms(d)
	}
	return out
}
