#!/usr/bin/env bash
# Fails if any package under core/ imports something outside the standard library
# (other core/ packages are allowed). core/ is the pure logic: no AWS, no I/O libraries.
# Its tests may also import the property-test library (pgregory.net/rapid) and
# the pure test suites (internal/coordtest, repairtest, testclock and the
# conformance suites in infra/storetest), which are held to the same rule, so
# no core test binary links an AWS SDK or an I/O library.
set -euo pipefail
mod=$(go list -m)
suites="$mod/internal/coordtest $mod/internal/repairtest $mod/internal/testclock $mod/infra/storetest"
bad=0
check() { # $1: what may be imported besides std and core/; stdin: "pkg imports..."
  local extra=$1 pkg imports imp
  while read -r pkg imports; do
    for imp in $imports; do
      case "$imp" in
        "$mod"/core/*) ;;
        *.*/*|*.*)
          if [ -n "$extra" ] && [[ " $extra " == *" $imp "* ]]; then continue; fi
          echo "core import violation: $pkg imports $imp"; bad=1 ;;
      esac
    done
  done
}
check "" < <(go list -f '{{.ImportPath}} {{join .Imports " "}}' ./core/...)
check "$suites pgregory.net/rapid" < <(go list -f '{{.ImportPath}} {{join .TestImports " "}} {{join .XTestImports " "}}' ./core/...)
check "$suites" < <(go list -f '{{.ImportPath}} {{join .Imports " "}}' $suites)
if [ "$bad" -ne 0 ]; then exit 1; fi
echo "corecheck: core/ imports only the standard library (its tests also rapid and the pure test suites)"
