# InsForge edge functions in Go. `make dev` runs everything locally; `make test` is the test command.
SHELL := bash
GO ?= go

.PHONY: test lint unit spa
## test: format check, vet, every Go test (real PostgreSQL is started when needed), the browser modules' tests
test: lint unit spa

# The browser modules (the token client in shared/spa, the dashboard's realtime
# acceptance) have no dependencies: Node's built-in test runner.
spa:
	@if command -v node >/dev/null; then node --test --test-timeout=60000 --disable-warning=ExperimentalWarning shared/spa/*.test.mjs shared/x402payments/dashboard/*.test.mjs; \
	  elif [ "$$CI" = true ] || [ "$$CI" = 1 ]; then echo "spa: node is required in CI"; exit 1; \
	  else echo "spa: node not found, shared/spa tests not run"; fi

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	  if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

unit: ensure-postgres ensure-devnet
	$(GO) test -count=1 ./...

# The README's two commands are the whole set-up: what they need is installed by the
# project's own scripts (quick no-ops once present).
.PHONY: ensure-postgres ensure-devnet
ensure-postgres:
	@scripts/ensure-postgres

# Anvil (the local X Layer) and solc-js, pinned in shared/localchain/node (npm ci; a no-op once present).
ensure-devnet:
	@scripts/ensure-devnet

# ---------------------------------------------------------------------------------------------
# Lambda builds, SAM and the local runner (template.yaml is the single source of truth).

.PHONY: build dev invoke env-example deploy sam-check deploy-rehearsal

# Flags for Lambda binaries: static (no cgo, so AL2023's glibc does not matter), no net/rpc path
# (only the retired go1.x runtime used it), reproducible and stripped (about half the size).
LAMBDA_GOENV := CGO_ENABLED=0 GOOS=linux GOARCH=arm64
LAMBDA_FLAGS := -tags lambda.norpc -trimpath -buildvcs=false -ldflags="-s -w -buildid="
SAMTOOL      := $(GO) run ./scripts/internal/cmd/samtool

## build: cross-compile every function in template.yaml to bin/<LogicalId>/bootstrap (linux/arm64)
build:
	@fns=$$($(SAMTOOL) functions) && echo "$$fns" | while read -r id pkg; do \
	  echo "build $$id ($$pkg)"; \
	  $(LAMBDA_GOENV) $(GO) build $(LAMBDA_FLAGS) -o bin/$$id/bootstrap $$pkg || exit 1; \
	done

# sam build (BuildMethod: makefile) runs `make build-<LogicalId>` with ARTIFACTS_DIR set. The
# package comes from the function's Metadata.GoPackage in template.yaml.
build-%:
	@test -n "$(ARTIFACTS_DIR)" || { echo "build-$*: ARTIFACTS_DIR is unset (sam build calls this target)"; exit 1; }
	pkg=$$($(SAMTOOL) package $*) && \
	  $(LAMBDA_GOENV) $(GO) build $(LAMBDA_FLAGS) -o "$(ARTIFACTS_DIR)/bootstrap" "$$pkg"

## dev: serve every route of template.yaml on 127.0.0.1:3000 with zero configuration
##      (DEV_ARGS="--env-vars env.json" etc. are passed through; DEV_ARGS=--devnet settles x402 on a local devnet)
# Without PostgreSQL (no apt-get, no root) make dev still serves every bridge; the x402 functions then
# have no local ledger, which its banner says.
dev:
	@scripts/ensure-postgres || echo "make dev: PostgreSQL could not be installed; continuing without the local InsForge stack" >&2
	@scripts/ensure-devnet || echo "make dev: Anvil could not be installed; --devnet falls back to the mock facilitator" >&2
	$(GO) run ./scripts/dev $(DEV_ARGS)

## invoke: run one function once with an event, e.g. make invoke FN=TokenClerkFunction EVENT=events/token-clerk-valid.json
invoke:
	@scripts/ensure-postgres || echo "make invoke: PostgreSQL could not be installed; continuing without the local InsForge stack" >&2
	@test -n "$(FN)" -a -n "$(EVENT)" || { echo "usage: make invoke FN=<LogicalId> EVENT=events/<file>.json"; exit 2; }
	$(GO) run ./scripts/invoke $(INVOKE_ARGS) $(FN) $(EVENT)

## env-example: regenerate env.example.json (for sam local --env-vars) from template.yaml's variables
env-example:
	$(GO) run ./scripts/envexample

## sam-check: real SAM CLI (pip venv, cached): sam validate --lint, sam build, arm64 artifact checks, cfn-lint
sam-check:
	./scripts/sam-check

## arm64-smoke: boot every linux/arm64 artifact of `make sam-check` (.aws-sam/build) under qemu-aarch64-static
##              through the runner; each sample event must get the host build's answer
.PHONY: arm64-smoke
ARM64_WRAPPER ?= $(if $(filter aarch64 arm64,$(shell uname -m)),,qemu-aarch64-static)
arm64-smoke: ensure-postgres
	scripts/ensure-qemu
	$(GO) run ./scripts/arm64-smoke --exec-wrapper "$(ARM64_WRAPPER)"

## deploy: sam build && sam deploy; the first time it asks which features to deploy and only what they need
deploy:
	./scripts/deploy

## deploy-rehearsal: the real sam deploy --guided / sam deploy / sam delete against moto (one bridge; everything),
##                   per resource type what moto created and what it cannot, every deployed function booted
deploy-rehearsal:
	./scripts/deploy-rehearsal

# ---------------------------------------------------------------------------------------------
# End-to-end against real peers (npm + Debian Chromium), through the local runner.

.PHONY: e2e
## e2e: Better Auth, OIDC issuers, the @x402 client, @insforge/sdk in Chromium — real binaries via the Runtime API
e2e:
	scripts/e2e/ensure-deps
	cd scripts/e2e && npm test

# ---------------------------------------------------------------------------------------------
# Performance (never part of `make test`: times are reported, not asserted; sizes are asserted).

.PHONY: bench size-check
## bench: hot path vs floors, load through the local runner, cold starts, sizes → docs/benchmarks.md + .svg
bench:
	$(GO) run ./scripts/bench $(BENCH_ARGS)

## size-check: build every function for linux/arm64 (LAMBDA_FLAGS); fail over budget or if a bridge links go-ethereum/pgx
size-check:
	$(GO) run ./scripts/size-check
