// Package runner is the local Lambda environment: it reads template.yaml, builds
// each function for the host, computes each function's environment the way
// `sam local` does (template values, shell, --env-vars file), adds the zero-config
// development profile and creates one runtimeapi.Pool per function.
//
// The subsystem, from the outside in:
//
//	Serve (serve.go)          make dev: loopback HTTP API, rate() schedules, banner
//	InvokeOnce (invoke.go)    make invoke: one event, one function, {{x402-payment}} paid retry
//	parity.Smoke              make arm64-smoke: sam build's arm64 artifacts under qemu vs host builds
//	Start (env.go)            template → host binaries → Runner{Pools, Issuer, Insforge, Upstream}
//	  apigateway              API Gateway HTTP API (payload 2.0): route match, event, response mapping,
//	                          and Transport (an http.RoundTripper in front of one function)
//	  runtimeapi              Lambda Runtime API per process; Pool: warm reuse, timeout, init errors
//	dev profile (profile.go)  shared/localidentity/devserver (JWKS, Stytch, Better Auth), a generated
//	                          INSFORGE_JWT_SECRET, the mock facilitator, shared/localinsforge on a
//	                          throwaway PostgreSQL, a local upstream for the x402 gateway (upstream.go)
//	rie                       the same functions under AWS's Runtime Interface Emulator: parity check
//	parity                    sample events through two runs reduced to what must be equal
//	testfn                    a small function binary the runner's own tests run
//	bootstraptest             builds testfn (or any main package) into a bootstrap for those tests
//
// scripts/bench and scripts/cost-model start the same Runner to measure functions
// through the path production takes. Host binaries, not containers: the arm64
// artifacts run only in parity.Smoke. See docs/local-dev.md.
package runner
