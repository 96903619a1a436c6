#!/usr/bin/env bash
# The whole test suite: vet, race-enabled unit and end-to-end tests (the
# end-to-end tests drive a real iamd listener with aws-sdk-go-v2 and the aws
# CLI), and a bounded run of every fuzz target.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== go vet"
go vet ./...

echo "== go test -race"
go test -race -count=1 -timeout 20m ./...

echo "== fuzz (bounded)"
fuzztime=${FUZZTIME:-5s}
for pkg in $(go list ./...); do
  dir=$(go list -f '{{.Dir}}' "$pkg")
  for target in $(grep -ho '^func Fuzz[A-Za-z0-9_]*' "$dir"/*_test.go 2>/dev/null | sed 's/^func //' | sort -u); do
    echo "-- $pkg $target"
    go test -run '^$' -fuzz "^${target}\$" -fuzztime "$fuzztime" "$pkg" > /tmp/iamd-fuzz.log 2>&1 || { cat /tmp/iamd-fuzz.log; exit 1; }
  done
done
echo "all tests passed"
