#!/usr/bin/env bash
# Installs the test bed into project-local, git-ignored folders, pinned:
#   .venv/  moto[server] (EC2, RDS, S3 emulator), cfn-lint
#   .bin/   versitygw, aws-lambda-rie, staticcheck, gotestsum,
#           asl-validator (npm, in .bin/node_modules)
# A second run only checks what is there. Every failure says what to do.
set -euo pipefail
cd "$(dirname "$0")/.."

MOTO_VERSION=5.2.5
CFNLINT_VERSION=1.32.0
VERSITYGW_VERSION=v1.8.0
RIE_VERSION=v0.0.0-20261030222936-bef5c4ba774d
STATICCHECK_VERSION=v0.8.2
GOTESTSUM_VERSION=v1.13.0
ASL_VALIDATOR_VERSION=4.0.0

die() { echo "tools: $*" >&2; exit 1; }

command -v go >/dev/null || die "go not found: install Go 1.26 or newer and put it on PATH"
PYTHON=${PYTHON:-python3}
command -v "$PYTHON" >/dev/null || die "$PYTHON not found: install Python 3.9+ with venv (Debian: apt-get install -y python3 python3-venv), or set PYTHON=/path/to/python3"

stamp=".venv/.awsutils-moto-$MOTO_VERSION-cfnlint-$CFNLINT_VERSION"
if [ ! -f "$stamp" ]; then
  echo "tools: installing moto[server]==$MOTO_VERSION and cfn-lint==$CFNLINT_VERSION into .venv"
  rm -rf .venv
  "$PYTHON" -m venv .venv || die "could not create .venv with $PYTHON -m venv (Debian: apt-get install -y python3-venv), then run again"
  .venv/bin/pip install --quiet --disable-pip-version-check "moto[server]==$MOTO_VERSION" "cfn-lint==$CFNLINT_VERSION" \
    || { rm -rf .venv; die "pip install of moto[server]==$MOTO_VERSION failed (see above): check that PyPI is reachable (proxy, PIP_INDEX_URL), then run again"; }
  touch "$stamp"
fi

gobin() { # name version module-path
  local name=$1 version=$2 pkg=$3
  local stamp=".bin/.$name-$version"
  if [ ! -x ".bin/$name" ] || [ ! -f "$stamp" ]; then
    echo "tools: go install $pkg@$version into .bin"
    mkdir -p .bin
    GOBIN="$PWD/.bin" CGO_ENABLED=0 go install "$pkg@$version" \
      || die "go install $pkg@$version failed (see above): check that the Go module proxy is reachable (GOPROXY), then run again"
    rm -f .bin/."$name"-*
    touch "$stamp"
  fi
}

gobin versitygw "$VERSITYGW_VERSION" github.com/versity/versitygw/cmd/versitygw &
gobin aws-lambda-rie "$RIE_VERSION" github.com/aws/aws-lambda-runtime-interface-emulator/cmd/aws-lambda-rie &
gobin staticcheck "$STATICCHECK_VERSION" honnef.co/go/tools/cmd/staticcheck &
gobin gotestsum "$GOTESTSUM_VERSION" gotest.tools/gotestsum &
# asl-validator checks the upload state machine's definition (make asl).
npmbin() { # name version
  local name=$1 version=$2
  local stamp=".bin/.$name-$version"
  if [ ! -x ".bin/$name" ] || [ ! -f "$stamp" ]; then
    command -v npm >/dev/null || die "npm not found: install Node.js 18+ with npm (Debian: apt-get install -y nodejs npm), then run again"
    echo "tools: npm install $name@$version into .bin/node_modules"
    mkdir -p .bin
    npm install --silent --no-audit --no-fund --no-save --prefix .bin "$name@$version" \
      || die "npm install $name@$version failed (see above): check that the npm registry is reachable (npm config get registry), then run again"
    ln -sf "node_modules/.bin/$name" ".bin/$name"
    rm -f .bin/."$name"-*
    touch "$stamp"
  fi
}
npmbin asl-validator "$ASL_VALIDATOR_VERSION" &
fail=0
for job in $(jobs -p); do wait "$job" || fail=1; done
[ "$fail" = 0 ] || die "a tool failed to install (see above)"
echo "tools: ready (.venv, .bin)"
