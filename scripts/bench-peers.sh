#!/usr/bin/env bash
# Installs the peer tools that `make bench` compares awsutils with, pinned
# where the source allows it:
#   .bin/s5cmd     s5cmd v2.3.0, built from the Go module proxy in a
#                  throwaway module (`go install` of it fails: its go.mod
#                  has replace directives)
#   /usr/bin/aws   AWS CLI v2 (Debian package awscli)
#   /usr/bin/rclone rclone (Debian package rclone)
# plus the test bed (versitygw, moto server, aws-lambda-rie) via
# scripts/tools.sh. A second run only checks what is there.
#
# BENCH_PEERS_OPTIONAL=1 turns a failed apt install into a warning, so the
# smoke run works on a machine without apt; the benchmark then leaves those
# contenders out and says so.
set -euo pipefail
cd "$(dirname "$0")/.."

S5CMD_VERSION=v2.3.0

say() { echo "bench-peers: $*"; }
die() { echo "bench-peers: $*" >&2; exit 1; }
warn_or_die() {
  if [ "${BENCH_PEERS_OPTIONAL:-}" = 1 ]; then
    echo "bench-peers: warning: $*" >&2
  else
    die "$*"
  fi
}

command -v go >/dev/null || die "go not found: install Go 1.26 or newer and put it on PATH"

scripts/tools.sh

# s5cmd: a stamp file records the version the binary was built at.
stamp=".bin/.s5cmd-$S5CMD_VERSION"
if [ ! -x .bin/s5cmd ] || [ ! -f "$stamp" ]; then
  say "building s5cmd $S5CMD_VERSION into .bin (throwaway module; about a minute)"
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  mkdir -p .bin
  (
    cd "$tmp"
    go mod init s5cmdbuild >/dev/null 2>&1
    go get -tool "github.com/peak/s5cmd/v2@$S5CMD_VERSION" >/dev/null
    CGO_ENABLED=0 go build -o "$OLDPWD/.bin/s5cmd" github.com/peak/s5cmd/v2
  ) || die "building s5cmd $S5CMD_VERSION failed (see above): check that the Go module proxy is reachable (GOPROXY), then run again"
  rm -f .bin/.s5cmd-*
  touch "$stamp"
fi
say "s5cmd: $(.bin/s5cmd version 2>/dev/null || echo '?')"

# apt packages: install only what is missing; apt-get update once, and only
# when something is missing.
need=()
[ -x /usr/bin/aws ] || need+=(awscli)
[ -x /usr/bin/rclone ] || need+=(rclone)
if [ ${#need[@]} -gt 0 ]; then
  if ! command -v apt-get >/dev/null; then
    warn_or_die "apt-get not found: install ${need[*]} by hand (the AWS CLI must be /usr/bin/aws), then run again"
  else
    sudo=""
    [ "$(id -u)" = 0 ] || sudo="sudo"
    say "installing ${need[*]} with apt-get (needs root)"
    if ! { $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${need[@]}" >/dev/null; }; then
      warn_or_die "apt-get install ${need[*]} failed (see above): check that Debian's package mirror is reachable, then run again"
    fi
  fi
fi
if [ -x /usr/bin/aws ]; then
  say "aws: $(/usr/bin/aws --version 2>&1 | head -n1)"
else
  warn_or_die "/usr/bin/aws missing: the AWS CLI contender will be skipped"
fi
if [ -x /usr/bin/rclone ]; then
  say "rclone: $(/usr/bin/rclone version 2>/dev/null | head -n1)"
else
  warn_or_die "/usr/bin/rclone missing: the rclone contender will be skipped"
fi
say "ready"
