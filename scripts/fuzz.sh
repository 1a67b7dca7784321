#!/usr/bin/env bash
# scripts/fuzz.sh [TIME]: run every fuzz target in the module for TIME each
# (default 10s). `make test` runs it with a short time; `make fuzz` longer.
set -euo pipefail
cd "$(dirname "$0")/.."
time=${1:-10s}
count=0
out=$(mktemp)
trap 'rm -f "$out"' EXIT

# fuzz_once PKG TARGET DIR: one fuzzing run. On success it prints the last
# line; on failure the whole output, and it exits the script (status 1) when
# the run saved a failing input under DIR/testdata/fuzz (a real failure).
fuzz_once() {
  local before after
  before=$(find "$3/testdata/fuzz/$2" -type f 2>/dev/null | wc -l)
  if go test -run='^$' -fuzz="^${2}\$" -fuzztime="$time" "$1" >"$out" 2>&1; then
    tail -n 1 "$out"
    return 0
  fi
  cat "$out"
  after=$(find "$3/testdata/fuzz/$2" -type f 2>/dev/null | wc -l)
  if [ "$after" -gt "$before" ]; then
    echo "fuzz: $2 found a failing input (saved under $3/testdata/fuzz/$2)"
    exit 1
  fi
  return 1
}
for pkg in $(go list ./...); do
  dir=$(go list -f '{{.Dir}}' "$pkg")
  grep -lq '^func Fuzz' "$dir"/*_test.go 2>/dev/null || continue
  for target in $(grep -ho '^func Fuzz[A-Za-z0-9_]*' "$dir"/*_test.go | sed 's/^func //'); do
    echo "fuzz: $pkg $target for $time"
    if ! fuzz_once "$pkg" "$target" "$dir"; then
      # No failing input was saved: the fuzzing engine itself failed (a
      # worker that hung or died under load), not the code. Say so, and
      # try once more; a second failure fails the run.
      echo "fuzz: $target: the engine failed without a failing input (output above); running it again"
      fuzz_once "$pkg" "$target" "$dir" || exit 1
    fi
    count=$((count + 1))
  done
done
echo "fuzz: $count targets ran without finding a failure"
