# InsForge edge functions in Go. `make dev` runs everything locally; `make test` is the test command.
SHELL := bash
GO ?= go

.PHONY: test lint unit
## test: format check, vet, and every Go test (real PostgreSQL is started when needed)
test: lint unit

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	  if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

unit:
	$(GO) test -count=1 ./...
