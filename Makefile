# awsutils: `make test` is the one test command (CI runs it through .ci/run).
SHELL := /bin/bash
GO ?= go
PKGS := ./...

.PHONY: all build tools lint test unit

all: build

build:
	$(GO) build $(PKGS)

# Installs the test bed (moto server, versitygw, aws-lambda-rie, staticcheck,
# cfn-lint) into .venv and .bin; a second run reuses them.
tools:
	@scripts/tools.sh

lint: tools
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go' -not -path './.*')); \
	  if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet $(PKGS)
	.bin/staticcheck $(PKGS)

# Everything: lint, unit tests and integration tests against the real servers.
test: lint
	AWSUTILS_INTEGRATION=1 .bin/gotestsum --format pkgname --format-hide-empty-pkg -- -count=1 -timeout 20m $(PKGS)

# Unit tests only; no servers needed.
unit:
	$(GO) test $(PKGS)
