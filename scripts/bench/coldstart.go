package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/insforge/edge-functions-go/scripts/internal/samtemplate"
	"github.com/insforge/edge-functions-go/scripts/runner"
	"github.com/insforge/edge-functions-go/scripts/runner/runtimeapi"
)

// coldCase is one function and the sample event of its first invocation.
type coldCase struct {
	Fn, Dir, Event string
	Status         int    // expected HTTP status; 0 for non-HTTP (scheduled) functions
	Payload        []byte // inline event (instead of events/<Event>)
	Floor          bool   // a reference, not a function with a budget
}

// floorFn is the runner's own test function (scripts/runner/testfn/testdata/echofn):
// launch.HTTP + config.Load + a trivial handler. Its cold start and its latency
// through the runner are the floor every function pays before doing any work.
const floorFn = "echofn"

var floorEvent = []byte(`{"version":"2.0","routeKey":"ANY /echo","rawPath":"/echo","rawQueryString":"","headers":{"host":"localhost"},` +
	`"requestContext":{"http":{"method":"GET","path":"/echo","protocol":"HTTP/1.1","sourceIp":"127.0.0.1"},"requestId":"floor","stage":"$default"},"isBase64Encoded":false}`)

var floorCold = coldCase{Fn: floorFn, Dir: "floor: echofn (launch.HTTP, trivial handler)", Payload: floorEvent, Status: 200, Floor: true}

// templateColdCases lists every function of template.yaml with its sample event
// (samtemplate's events/<dir>-<case>.json convention); a function without one is
// listed with no event and reported as such.
func templateColdCases(root string) ([]coldCase, error) {
	_, fns, err := samtemplate.LoadFunctions(filepath.Join(root, "template.yaml"))
	if err != nil {
		return nil, err
	}
	out := make([]coldCase, 0, len(fns))
	for _, f := range fns {
		event, status, _ := f.SampleEvent(root)
		out = append(out, coldCase{Fn: f.LogicalID, Dir: f.Dir(), Event: event, Status: status})
	}
	return out, nil
}

// coldResult is one function's cold starts.
type coldResult struct {
	Case  coldCase
	Init  []time.Duration // process exec → first /next (init done)
	Total []time.Duration // process exec → first response posted
	Err   string
}

// coldBudget is the cold-start budget for a function directory name.
func coldBudget(dir string) time.Duration {
	if strings.HasPrefix(dir, "token-") {
		return 20 * time.Millisecond
	}
	return 40 * time.Millisecond
}

// runCold starts every function n times from a fresh process (a new pool each
// time, so nothing is warm) through the runner's Runtime API implementation. The
// functions are interleaved round-robin so a burst of outside load is shared.
func runCold(ctx context.Context, env *runner.Runner, specs map[string]runtimeapi.Spec, cases []coldCase, root string, n int,
	log func(string, ...any)) []*coldResult {
	res := make([]*coldResult, len(cases))
	payloads := make([][]byte, len(cases))
	for i, c := range cases {
		res[i] = &coldResult{Case: c}
		if _, ok := specs[c.Fn]; !ok {
			res[i].Err = "not available: the runner has no " + c.Fn
			continue
		}
		if c.Payload != nil {
			payloads[i] = c.Payload
			continue
		}
		if c.Event == "" {
			res[i].Err = "no sample event: events/" + c.Dir + "-{valid,challenge,list,scheduled,nonce}.json"
			continue
		}
		raw, err := os.ReadFile(filepath.Join(root, "events", c.Event))
		if err != nil {
			res[i].Err = err.Error()
			continue
		}
		payloads[i] = raw
	}
	for it := 1; it <= n; it++ {
		if it == 1 || it%5 == 0 {
			log("cold starts: round %d/%d", it, n)
		}
		for i, c := range cases {
			r := res[i]
			if r.Err != "" {
				continue
			}
			payload, err := runner.Fill(payloads[i], env.Issuer)
			if err != nil {
				r.Err = err.Error()
				continue
			}
			p := runtimeapi.NewPool(specs[c.Fn])
			out, err := p.Invoke(ctx, payload)
			p.Close()
			switch {
			case err != nil:
				r.Err = err.Error()
			case out.Err != nil:
				r.Err = out.Err.Error()
			case !out.ColdStart:
				r.Err = "invocation was not a cold start"
			default:
				if st := statusOf(out.Payload); c.Status != 0 && st != c.Status {
					r.Err = fmt.Sprintf("first response status %d, want %d: %.200s", st, c.Status, out.Payload)
				}
			}
			if r.Err != "" {
				continue
			}
			r.Init = append(r.Init, out.InitDuration)
			r.Total = append(r.Total, out.InitDuration+out.Duration)
		}
	}
	return res
}

func statusOf(payload []byte) int {
	var r struct {
		StatusCode int `json:"statusCode"`
	}
	_ = json.Unmarshal(payload, &r)
	return r.StatusCode
}

// initTrace is a binary's package-initialisation cost (GODEBUG=inittrace=1).
type initTrace struct {
	ClockMS float64 // sum over packages, median over runs
	Allocs  float64
	Top     []pkgInit // heaviest packages (median clock)
}

type pkgInit struct {
	Pkg     string
	ClockMS float64
	Allocs  float64
}

// parseInitTrace reads "init <pkg> @<t> ms, <clock> ms clock, <bytes> bytes, <allocs> allocs" lines.
func parseInitTrace(b []byte) []pkgInit {
	var out []pkgInit
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		// init <pkg> @<t> ms, <clock> ms clock, <bytes> bytes, <allocs> allocs
		if len(f) != 11 || f[0] != "init" || f[3] != "ms," || f[5] != "ms" || f[10] != "allocs" {
			continue
		}
		clock, err1 := strconv.ParseFloat(f[4], 64)
		allocs, err2 := strconv.ParseFloat(f[9], 64)
		if err1 != nil || err2 != nil {
			continue
		}
		out = append(out, pkgInit{Pkg: f[1], ClockMS: clock, Allocs: allocs})
	}
	return out
}

// runInitTrace runs bin n times with GODEBUG=inittrace=1 and no configuration:
// package initialisation runs, then main fails on the missing variables and exits.
func runInitTrace(ctx context.Context, bin string, n int) (initTrace, error) {
	var clocks, allocs []float64
	per := map[string][]float64{}
	perAllocs := map[string][]float64{}
	for i := 0; i < n; i++ {
		cmd := exec.CommandContext(ctx, bin)
		cmd.Env = []string{"GODEBUG=inittrace=1", "PATH=/usr/bin:/bin"}
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		_ = cmd.Run() // exits 1: no configuration
		pk := parseInitTrace(stderr.Bytes())
		if len(pk) == 0 {
			return initTrace{}, fmt.Errorf("%s printed no init trace: %.300s", bin, stderr.String())
		}
		var c, a float64
		for _, p := range pk {
			c += p.ClockMS
			a += p.Allocs
			per[p.Pkg] = append(per[p.Pkg], p.ClockMS)
			perAllocs[p.Pkg] = append(perAllocs[p.Pkg], p.Allocs)
		}
		clocks, allocs = append(clocks, c), append(allocs, a)
	}
	t := initTrace{ClockMS: median(clocks), Allocs: median(allocs)}
	for p, cs := range per {
		t.Top = append(t.Top, pkgInit{Pkg: p, ClockMS: median(cs), Allocs: median(perAllocs[p])})
	}
	sort.Slice(t.Top, func(i, j int) bool { return t.Top[i].ClockMS > t.Top[j].ClockMS })
	t.Top = t.Top[:min(3, len(t.Top))]
	return t, nil
}
