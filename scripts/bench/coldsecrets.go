package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"time"
)

// coldSecrets is the cold start as deployed: every secret-tagged variable moved
// into a Secrets Manager secret on a local moto_server, the function given only
// CONFIG_SECRETS (BenchmarkColdStartWithSecrets in scripts/runner, which
// starts moto through scripts/ensure-moto).
type coldSecrets struct {
	Runs  int
	Total map[string]float64 // function directory → mean exec → first response, ms
	Init  map[string]float64 // function directory → mean init, ms
	Err   string
}

func runColdSecrets(ctx context.Context, root string, n int) *coldSecrets {
	res := &coldSecrets{Runs: n, Total: map[string]float64{}, Init: map[string]float64{}}
	cmd := exec.CommandContext(ctx, goTool(), "test", "-run", "^$", "-bench", "^BenchmarkColdStartWithSecrets$",
		"-benchtime", strconv.Itoa(n)+"x", "-count", "1", "-v", "./scripts/runner/")
	cmd.Dir = root
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	dirs := map[string]string{}
	fnCases, terr := templateColdCases(root)
	if terr != nil {
		res.Err = terr.Error()
	}
	for _, c := range fnCases {
		dirs[c.Fn] = c.Dir
	}
	sc := bufio.NewScanner(&out)
	for sc.Scan() {
		// BenchmarkColdStartWithSecrets/TokenWorkOSFunction-2  30  8707530 ns/op  7.462 init-ms/op
		f := strings.Fields(sc.Text())
		if len(f) < 6 || !strings.HasPrefix(f[0], "BenchmarkColdStartWithSecrets/") || f[3] != "ns/op" || f[5] != "init-ms/op" {
			if strings.Contains(sc.Text(), "SKIP") || strings.Contains(sc.Text(), "moto unavailable") {
				res.Err = strings.TrimSpace(sc.Text())
			}
			continue
		}
		fn := strings.TrimPrefix(f[0], "BenchmarkColdStartWithSecrets/")
		if i := strings.LastIndexByte(fn, '-'); i > 0 {
			fn = fn[:i]
		}
		ns, err1 := strconv.ParseFloat(f[2], 64)
		initMS, err2 := strconv.ParseFloat(f[4], 64)
		if err1 != nil || err2 != nil || dirs[fn] == "" {
			continue
		}
		res.Total[dirs[fn]] = ns / float64(time.Millisecond)
		res.Init[dirs[fn]] = initMS
	}
	if err != nil && res.Err == "" {
		res.Err = fmt.Sprintf("%v: %.300s", err, out.String())
	}
	if len(res.Total) == 0 && res.Err == "" {
		res.Err = "no result: " + strings.TrimSpace(out.String())
	}
	return res
}

// markdown renders the comparison with the cold starts measured without secrets.
func (s *coldSecrets) markdown(cold []*coldResult) string {
	if s == nil {
		return ""
	}
	var b strings.Builder
	w := func(f string, a ...any) { fmt.Fprintf(&b, f, a...) }
	w("### Cold starts with the secret fetch (as deployed)\n\n")
	w("The same functions with their secret variables moved into a Secrets Manager secret on a local `moto_server` and only ")
	w("`CONFIG_SECRETS` set: init makes one signed GetSecretValue call per listed secret (`BenchmarkColdStartWithSecrets`, ")
	w("%d cold starts each, mean). moto is a Python server: most of the difference is its own time, not the client's ", s.Runs)
	w("(`go test -run '^$' -bench FieldsColdConnection ./shared/secretstore/`).\n\n")
	if s.Err != "" && len(s.Total) == 0 {
		w("Not measured: %s\n\n", oneLine(s.Err))
		return b.String()
	}
	w("| function | without secrets (median above) | with secrets from moto (mean) | init with secrets (mean) | budget |\n|---|--:|--:|--:|---|\n")
	for _, c := range cold {
		tot, ok := s.Total[c.Case.Dir]
		if !ok || c.Case.Floor {
			continue
		}
		bud := coldBudget(c.Case.Dir)
		w("| %s | %s | %s | %s | ≤ %d ms %s |\n", c.Case.Dir, msStr(median(durationsMS(c.Total))), msStr(tot), msStr(s.Init[c.Case.Dir]),
			bud.Milliseconds(), verdict(tot <= ms(bud)))
	}
	w("\n")
	return b.String()
}
