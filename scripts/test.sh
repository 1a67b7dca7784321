#!/usr/bin/env bash
# scripts/test.sh: every test, race detector on, twice over the AWS adapters:
# on the in-process kumo server (always) and on the local endpoint that
# localstack/up starts (moto_server, or LocalStack under Docker). `make test` runs
# it after lint. Exits with go test's status; localstack/down always runs.
set -uo pipefail
cd "$(dirname "$0")/.."

banner() {
  echo "######################################################################"
  for line in "$@"; do echo "##  $line"; done
  echo "######################################################################"
}

trap 'localstack/down || true' EXIT

up_out=$(localstack/up)
up_rc=$?
case $up_rc in
  0)
    endpoint=$(tail -n 1 <<<"$up_out")
    export CARTWHEEL_TEST_ENDPOINT=$endpoint
    if [[ -f localstack/.run/kind ]]; then
      CARTWHEEL_TEST_ENDPOINT_NAME=$(cat localstack/.run/kind)
      export CARTWHEEL_TEST_ENDPOINT_NAME
    fi
    echo "test.sh: integration tests run on kumo and on ${CARTWHEEL_TEST_ENDPOINT_NAME:-moto} at $endpoint"
    ;;
  3)
    unset CARTWHEEL_TEST_ENDPOINT
    banner "SKIP: no local AWS endpoint (see the localstack/up message above)." \
      "Integration tests run on the in-process kumo server ONLY;" \
      "the moto/LocalStack pass is SKIPPED. pip install 'moto[server]' to enable it."
    ;;
  *)
    echo "test.sh: localstack/up failed with status $up_rc" >&2
    exit "$up_rc"
    ;;
esac

go test -race -count=1 -timeout 20m ./...
status=$?
exit "$status"
