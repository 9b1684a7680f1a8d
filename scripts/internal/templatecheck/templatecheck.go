// Package templatecheck holds the deployment rules template.yaml must keep, as
// tests written over every function (so a function added later is checked too):
// no secret in plain text, each role reads only its own secrets, every function
// has a log group with retention, reserved concurrency and an Errors alarm that
// rolls its deployment back, and every alarm watches a metric that exists (AWS's,
// or one the code emits, cross-checked against the Metric* constants in shared/).
package templatecheck
