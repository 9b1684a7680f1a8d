package samtemplate

import (
	"os"
	"path/filepath"
)

// sampleCases name, in order of preference, the sample event a tool sends to a
// function it starts once (cold-start benchmarks): events/<dir>-<case>.json, the
// aws-lambda-go testdata convention of one file per case beside its function's
// name. status is what the function answers (0: not an HTTP function).
var sampleCases = []struct {
	name   string
	status int
}{{"valid", 200}, {"challenge", 402}, {"list", 200}, {"scheduled", 0}, {"nonce", 200}} // nonce: the wallet bridge's first call

// SampleEvent is a function's first-invocation event under root/events and the
// HTTP status it answers; ok is false when the function has none.
func (f Function) SampleEvent(root string) (file string, status int, ok bool) {
	dir := f.Dir()
	for _, c := range sampleCases {
		name := dir + "-" + c.name + ".json"
		if _, err := os.Stat(filepath.Join(root, "events", name)); err == nil {
			return name, c.status, true
		}
	}
	return "", 0, false
}

// Dir is the function's directory name (functions/<dir>), from Metadata.GoPackage.
func (f Function) Dir() string { return filepath.Base(f.Package) }
