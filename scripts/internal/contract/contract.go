// Package contract holds the tests that keep docs/openapi.yaml, template.yaml and
// the error-code table (httpapi.Codes()) in step. Responses themselves are validated
// where they are produced (shared/httpapi/openapitest).
package contract
