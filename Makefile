# awsutils: `make test` is the one test command (CI runs it through .ci/run).
SHELL := /bin/bash
GO ?= go
PKGS := ./...

.PHONY: all build tools lint test unit package cfnlint asl demo soak fuzz

all: build

VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT ?= $(shell git rev-parse HEAD 2>/dev/null || echo unknown)

# The CLI as ./awsutils, stamped with version and commit (`awsutils version`).
build:
	$(GO) build -trimpath -ldflags "-X main.version=$(VERSION) -X main.commit=$(COMMIT)" -o awsutils ./cmd/awsutils

# Installs the test bed (moto server, versitygw, aws-lambda-rie, staticcheck,
# cfn-lint, asl-validator) into .venv and .bin; a second run reuses them.
tools:
	@scripts/tools.sh

lint: tools cfnlint asl
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

# Lambda zips: dist/<function>-<arch>.zip for startstop and s3upload.
# ARCH=arm64|x86_64|all (default all); CONFIG=path/aws_resource_start_stop.yml
# and/or path/aws_s3_upload.yml (routed by name), or STARTSTOP_CONFIG=,
# UPLOAD_CONFIG= for files of other names. See scripts/package.sh.
package:
	@GO="$(GO)" scripts/package.sh

# The CloudFormation template must pass cfn-lint with no errors or warnings.
cfnlint: tools
	.venv/bin/cfn-lint deploy/template.yaml

# asl-validator on the upload state machine, read out of the template.
asl: tools
	$(GO) run ./internal/statemachine/aslcheck

# A full local demo of both jobs against moto server, through the CLI and
# both Lambda functions under the Runtime Interface Emulator. No AWS account.
demo: tools
	$(GO) run ./internal/demo

# Benchmarks side by side with s5cmd, the AWS CLI v2 and rclone, which
# scripts/bench-peers.sh installs first: writes bench/results/<time>.csv,
# bench/results/latest.csv and docs/BENCHMARKS.md. Takes a while and is not
# part of `make test`. BENCH_FLAGS passes flags to `go run ./bench`, e.g.
# BENCH_FLAGS="-workloads W1,W2 -reps 3 -startstop=false".
.PHONY: bench bench-smoke
bench:
	@scripts/bench-peers.sh
	$(GO) run ./bench $(BENCH_FLAGS)

# The same harness, tiny (W1 at 200 files, one round; s5cmd if installed),
# into bench/work/smoke/: well under a minute. `make test` runs a similar
# smoke run as a Go test (bench/main_test.go).
bench-smoke: tools
	$(GO) run ./bench -smoke

# Longer fault runs than CI's (AWSUTILS_SOAK=1: 10x the files and rounds);
# see docs/RELIABILITY.md.
soak: tools
	AWSUTILS_INTEGRATION=1 AWSUTILS_SOAK=1 $(GO) test -count=1 -timeout 60m -run 'Fault|Kill|Signal|Chang|Throttl|Deadline' ./s3upload/ ./startstop/ ./cmd/awsutils/

# Each fuzz target for FUZZTIME (default 60s); CI runs only their seeds.
FUZZTIME ?= 60s
fuzz:
	@for t in $$($(GO) test -list '^Fuzz' ./... 2>/dev/null | grep -E '^(Fuzz|ok)' | awk '/^Fuzz/{f=f","$$1} /^ok/{if(f!="")print $$2":"substr(f,2); f=""}'); do \
	  pkg=$${t%%:*}; for f in $$(echo $${t#*:} | tr ',' ' '); do echo "== $$pkg $$f"; \
	  $(GO) test -run '^$$' -fuzz "^$$f\$$" -fuzztime $(FUZZTIME) $$pkg || exit 1; done; done
