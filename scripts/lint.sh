#!/usr/bin/env bash
# Lint with the pinned golangci-lint (.golangci.yml), built once from the Go
# module proxy into the Go bin directory.
set -euo pipefail
cd "$(dirname "$0")/.."

version=v2.15.0
bin="$(go env GOPATH)/bin/golangci-lint-$version"
if [[ ! -x "$bin" ]]; then
  echo "   (building golangci-lint $version)"
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  GOBIN="$tmp" go install "github.com/golangci/golangci-lint/v2/cmd/golangci-lint@$version"
  mkdir -p "$(dirname "$bin")"
  mv "$tmp/golangci-lint" "$bin"
fi
"$bin" run ./...
