#!/usr/bin/env bash
# scripts/install-chromium.sh: install Debian's chromium (for the dashboard's
# browser test, cmd/cartwheel/ui_test.go) when it is missing. Idempotent: does
# nothing when a chromium binary is already on the PATH (or CARTWHEEL_CHROMIUM
# names one). Needs root or sudo for apt-get.
set -euo pipefail

for b in "${CARTWHEEL_CHROMIUM:-}" chromium chromium-browser google-chrome; do
  if [[ -n "$b" ]] && command -v "$b" >/dev/null 2>&1; then
    echo "install-chromium.sh: $(command -v "$b") is installed"
    exit 0
  fi
done

sudo=""
if [[ $(id -u) -ne 0 ]]; then
  if command -v sudo >/dev/null 2>&1; then
    sudo="sudo"
  else
    echo "install-chromium.sh: chromium is missing and apt-get needs root (no sudo)" >&2
    exit 1
  fi
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "install-chromium.sh: chromium is missing and this is not a Debian/Ubuntu system; install it by hand" >&2
  exit 1
fi
echo "install-chromium.sh: installing chromium with apt-get"
$sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq
$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium
command -v chromium
