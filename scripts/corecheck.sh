#!/usr/bin/env bash
# Fails if any package under core/ imports something outside the standard library
# (other core/ packages are allowed). core/ is the pure logic: no AWS, no I/O libraries.
set -euo pipefail
mod=$(go list -m)
bad=0
while read -r pkg imports; do
  for imp in $imports; do
    case "$imp" in
      "$mod"/core/*) ;;
      *.*/*|*.*) echo "core import violation: $pkg imports $imp"; bad=1 ;;
    esac
  done
done < <(go list -f '{{.ImportPath}} {{join .Imports " "}}' ./core/...)
if [ "$bad" -ne 0 ]; then exit 1; fi
echo "corecheck: core/ imports only the standard library"
