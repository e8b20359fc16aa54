#!/usr/bin/env bash
# Builds each Lambda function as a static `bootstrap` for provided.al2023 and
# zips it, reproducibly, into $DIST/<function>-<arch>.zip:
#   startstop  ./cmd/startstop-lambda  (+ aws_resource_start_stop.yml if given)
#   s3upload   ./cmd/s3upload-lambda   (+ aws_s3_upload.yml if given)
#
# Settings (environment, or make variables: `make package ARCH=arm64 CONFIG=...`):
#   ARCH              arm64 | x86_64 | all (default: all)
#   CONFIG            one or more config files, space-separated, routed by file
#                     name: aws_resource_start_stop.yml -> startstop zip,
#                     aws_s3_upload.yml -> s3upload zip
#   STARTSTOP_CONFIG  a config file of any name, stored as aws_resource_start_stop.yml
#   UPLOAD_CONFIG     a config file of any name, stored as aws_s3_upload.yml
#   DIST              output folder (default: dist)
#   VERSION, COMMIT   stamped into main.version / main.commit
#                     (default: `git describe --tags --always`, `git rev-parse HEAD`)
#   FUNCTIONS         "name=package ..." to build other functions (tests only)
#
# The same source, settings and Go version give the same zip bytes: -trimpath,
# no build ID, no VCS stamp (the commit comes from COMMIT instead, so an
# unrelated uncommitted file does not change the binary), fixed zip times.
set -euo pipefail
cd "$(dirname "$0")/.."

die() { echo "package: $*" >&2; exit 2; }

GO=${GO:-go}
DIST=${DIST:-dist}
ARCH=${ARCH:-all}
FUNCTIONS=${FUNCTIONS:-"startstop=./cmd/startstop-lambda s3upload=./cmd/s3upload-lambda"}

case "$ARCH" in
  all) arches="arm64 x86_64" ;;
  arm64|aarch64) arches="arm64" ;;
  x86_64|amd64) arches="x86_64" ;;
  *) die "ARCH=$ARCH: want arm64, x86_64 or all" ;;
esac

# config files per function, as name=path arguments for mkzip
declare -A config=()
addconfig() { # function entry-name path
  local fn=$1 name=$2 path=$3
  [ -f "$path" ] || die "config file $path: not found"
  [ -z "${config[$fn]:-}" ] || die "two config files for $fn: ${config[$fn]#*=} and $path"
  config[$fn]="$name=$path"
}
for c in ${CONFIG:-}; do
  case "$(basename "$c")" in
    aws_resource_start_stop.yml) addconfig startstop aws_resource_start_stop.yml "$c" ;;
    aws_s3_upload.yml) addconfig s3upload aws_s3_upload.yml "$c" ;;
    *) die "CONFIG=$c: the file name must be aws_resource_start_stop.yml or aws_s3_upload.yml; use STARTSTOP_CONFIG= or UPLOAD_CONFIG= for other names" ;;
  esac
done
[ -z "${STARTSTOP_CONFIG:-}" ] || addconfig startstop aws_resource_start_stop.yml "$STARTSTOP_CONFIG"
[ -z "${UPLOAD_CONFIG:-}" ] || addconfig s3upload aws_s3_upload.yml "$UPLOAD_CONFIG"
for fn in "${!config[@]}"; do
  case " $FUNCTIONS " in
    *" $fn="*) ;;
    *) die "a config file was given for $fn, which is not built here (FUNCTIONS=$FUNCTIONS)" ;;
  esac
done

if [ -z "${VERSION:-}" ]; then
  VERSION=$(git describe --tags --always 2>/dev/null || echo dev)
fi
if [ -z "${COMMIT:-}" ]; then
  COMMIT=$(git rev-parse HEAD 2>/dev/null || echo unknown)
fi

mkdir -p "$DIST"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# mkzip is built once for this machine, not per zip.
CGO_ENABLED=0 "$GO" build -trimpath -o "$work/mkzip" ./internal/mkzip

for arch in $arches; do
  case $arch in
    arm64) goarch=arm64 ;;
    x86_64) goarch=amd64 ;;
  esac
  for f in $FUNCTIONS; do
    fn=${f%%=*} pkg=${f#*=}
    bin="$work/$fn-$arch/bootstrap"
    echo "package: $DIST/$fn-$arch.zip ($pkg, $VERSION)"
    # GOAMD64/GOARM64 pinned to the baseline every Lambda host runs, and so
    # that a developer's own setting cannot change the bytes.
    CGO_ENABLED=0 GOOS=linux GOARCH=$goarch GOAMD64=v1 GOARM64=v8.0 "$GO" build \
      -tags lambda.norpc -trimpath -buildvcs=false \
      -ldflags "-s -w -buildid= -X main.version=$VERSION -X main.commit=$COMMIT" \
      -o "$bin" "$pkg"
    entries=("bootstrap=$bin")
    [ -z "${config[$fn]:-}" ] || entries+=("${config[$fn]}")
    "$work/mkzip" -o "$DIST/$fn-$arch.zip" "${entries[@]}"
  done
done
