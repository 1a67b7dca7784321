#!/usr/bin/env bash
# scripts/fuzz.sh [TIME]: run every fuzz target in the module for TIME each
# (default 10s). `make test` runs it with a short time; `make fuzz` longer.
set -euo pipefail
cd "$(dirname "$0")/.."
time=${1:-10s}
count=0
for pkg in $(go list ./...); do
  dir=$(go list -f '{{.Dir}}' "$pkg")
  grep -lq '^func Fuzz' "$dir"/*_test.go 2>/dev/null || continue
  for target in $(grep -ho '^func Fuzz[A-Za-z0-9_]*' "$dir"/*_test.go | sed 's/^func //'); do
    echo "fuzz: $pkg $target for $time"
    go test -run='^$' -fuzz="^${target}\$" -fuzztime="$time" "$pkg" | tail -n 1
    count=$((count + 1))
  done
done
echo "fuzz: $count targets ran without finding a failure"
