// Package archcheck holds the module's dependency rules as tests (archcheck_test.go):
// it reads the build graph with `go list -deps -json` and reports every import that
// breaks a rule. docs/architecture.md states the rules; this package enforces them.
package archcheck
