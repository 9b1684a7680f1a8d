// Package openapitest validates real responses against docs/openapi.yaml, so any
// test that produces a response can also prove it matches the published contract.
// OPENAPITEST_LOG=<file> appends one line per validated response (to count them).
// It uses github.com/pb33f/libopenapi-validator: OpenAPI 3.1 with JSON Schema
// 2020-12 (type arrays, const) is what it was built for, and it validates status,
// body and declared headers of a response in one call.
package openapitest

import (
	"bytes"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/pb33f/libopenapi"
	validator "github.com/pb33f/libopenapi-validator"
	"github.com/pb33f/libopenapi-validator/config"
	"gopkg.in/yaml.v3"
)

var (
	once    sync.Once
	shared  validator.Validator
	loadErr error
	methods map[string]map[string]bool // path → documented methods (upper case)
	mu      sync.Mutex                 // the validator is not documented as safe for concurrent use
)

// SpecPath is docs/openapi.yaml of this module.
func SpecPath() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "..", "docs", "openapi.yaml")
}

// Load parses the spec and builds a validator (format assertions on: date-time,
// uri). It fails when the document is not a valid OpenAPI 3.1 description.
func Load(path string) (validator.Validator, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	doc, err := libopenapi.NewDocument(raw)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	v, errs := validator.NewValidator(doc, config.WithFormatAssertions())
	if len(errs) > 0 {
		return nil, fmt.Errorf("%s: %v", path, errs)
	}
	if ok, verrs := v.ValidateDocument(); !ok {
		var b strings.Builder
		for _, e := range verrs {
			fmt.Fprintf(&b, "\n  %s: %s", e.Message, e.Reason)
			for _, s := range e.SchemaValidationErrors {
				fmt.Fprintf(&b, "\n    %s at %s", s.Reason, s.KeywordLocation)
			}
		}
		return nil, fmt.Errorf("%s is not a valid OpenAPI document:%s", path, b.String())
	}
	return v, nil
}

func get(t testing.TB) validator.Validator {
	t.Helper()
	once.Do(func() {
		shared, loadErr = Load(SpecPath())
		if loadErr == nil {
			methods, loadErr = pathMethods(SpecPath())
		}
	})
	if loadErr != nil {
		t.Fatal(loadErr)
	}
	return shared
}

// Validate checks one response to r; it returns the problems found, if any.
func Validate(t testing.TB, r *http.Request, status int, header http.Header, body []byte) error {
	t.Helper()
	v := get(t)
	res := &http.Response{StatusCode: status, Header: header.Clone(), Body: io.NopCloser(bytes.NewReader(body)), Request: r}
	if res.Header == nil {
		res.Header = http.Header{}
	}
	mu.Lock()
	ok, errs := v.ValidateHttpResponse(r, res)
	mu.Unlock()
	if f := os.Getenv("OPENAPITEST_LOG"); f != "" {
		// One line per validated response, to count and list what the suites cover.
		if lf, err := os.OpenFile(f, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644); err == nil {
			fmt.Fprintf(lf, "%s %s %d %v\n", r.Method, r.URL.Path, status, ok)
			_ = lf.Close()
		}
	}
	if ok {
		return nil
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s → %d does not match docs/openapi.yaml:", r.Method, r.URL.Path, status)
	for _, e := range errs {
		fmt.Fprintf(&b, "\n  %s: %s", e.Message, e.Reason)
		for _, s := range e.SchemaValidationErrors {
			fmt.Fprintf(&b, "\n    %s at %s", s.Reason, s.KeywordLocation)
		}
	}
	fmt.Fprintf(&b, "\n  body: %.300s", body)
	return fmt.Errorf("%s", b.String())
}

// Check validates one response and fails t when it does not match the spec.
func Check(t testing.TB, r *http.Request, status int, header http.Header, body []byte) {
	t.Helper()
	if err := Validate(t, r, status, header, body); err != nil {
		t.Error(err)
	}
}

// CheckRecorder validates what a handler wrote to w for r.
func CheckRecorder(t testing.TB, r *http.Request, w *httptest.ResponseRecorder) {
	t.Helper()
	Check(t, r, w.Code, w.Header(), w.Body.Bytes())
}

// CheckRoute validates what a handler wrote to w for r as if r had been sent to
// route (a concrete path, such as /token/kinde, that a path of the spec serves:
// see Match): handler tests call handlers on any path, the gateway's route
// decides which function runs. A 405 for a method the spec does
// not document (PUT, DELETE, ...) is checked against the route's documented 405.
func CheckRoute(t testing.TB, route string, r *http.Request, w *httptest.ResponseRecorder) {
	t.Helper()
	get(t)
	path, ok := Match(slices.Collect(maps.Keys(methods)), route)
	if !ok {
		t.Fatalf("openapitest: no path of docs/openapi.yaml serves %s", route)
	}
	ms := methods[path]
	c := r.Clone(r.Context())
	c.URL.Path, c.URL.RawPath = route, ""
	if !ms[c.Method] && w.Code == http.StatusMethodNotAllowed {
		for _, m := range []string{http.MethodPost, http.MethodGet} {
			if ms[m] {
				c.Method = m
				break
			}
		}
	}
	Check(t, c, w.Code, w.Header(), w.Body.Bytes())
}

// Match returns the path template of paths that serves the concrete path p, the
// way OpenAPI resolves them: a path without parameters that equals p wins, then,
// comparing segment by segment, a literal segment beats a {parameter}. A
// {parameter} stands for exactly one non-empty segment. It reports false when no
// path serves p.
func Match(paths []string, p string) (string, bool) {
	if slices.Contains(paths, p) {
		return p, true
	}
	want := strings.Split(p, "/")
	best, bestScore := "", []bool(nil)
	for _, tmpl := range paths {
		segs := strings.Split(tmpl, "/")
		if len(segs) != len(want) {
			continue
		}
		score := make([]bool, len(segs)) // true where the segment is literal
		ok := true
		for i, s := range segs {
			switch {
			case strings.HasPrefix(s, "{") && strings.HasSuffix(s, "}"):
				ok = ok && want[i] != ""
			case s == want[i]:
				score[i] = true
			default:
				ok = false
			}
		}
		if ok && (best == "" || moreLiteral(score, bestScore)) {
			best, bestScore = tmpl, score
		}
	}
	return best, best != ""
}

// moreLiteral reports whether a is more specific than b: at the first segment
// where they differ, a is literal.
func moreLiteral(a, b []bool) bool {
	for i := range a {
		if a[i] != b[i] {
			return a[i]
		}
	}
	return false
}

func pathMethods(path string) (map[string]map[string]bool, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var doc struct {
		Paths map[string]map[string]any `yaml:"paths"`
	}
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		return nil, err
	}
	out := map[string]map[string]bool{}
	for p, item := range doc.Paths {
		out[p] = map[string]bool{}
		for m := range item {
			out[p][strings.ToUpper(m)] = true
		}
	}
	return out, nil
}
