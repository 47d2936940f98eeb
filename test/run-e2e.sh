#!/usr/bin/env bash
# Runs the real-Kafka suites (test/e2e, Go and Python) for `make test`.
# Uses KAFKA_BROKERS when set; otherwise starts a broker with
# test/kafka/kafka.sh and takes it down afterwards. Without Java or Python on a
# developer laptop the suites are SKIPPED with the reason; with CI=true
# nothing may be skipped.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

skip() {
	if [[ ${CI:-} == true ]]; then
		echo "e2e: cannot run in CI: $*" >&2
		exit 1
	fi
	echo "e2e: SKIPPED: $*"
	exit 0
}

started=false
if [[ -z ${KAFKA_BROKERS:-} ]]; then
	command -v java >/dev/null || skip "no java on PATH (Java 17+ runs the test broker)"
	command -v mvn >/dev/null || [[ -d ${XDG_CACHE_HOME:-$HOME/.cache}/eventguard ]] || skip "no mvn on PATH (Maven fetches the broker jars)"
	eval "$(test/kafka/kafka.sh up)"
	export KAFKA_BROKERS KAFKA_LOG KAFKA_DIR
	started=true
fi
cleanup() { if $started; then test/kafka/kafka.sh down >/dev/null 2>&1 || true; fi; }
trap cleanup EXIT

export EVENTGUARD_KAFKA_SCRIPT="$PWD/test/kafka/kafka.sh"
go test -race -count=1 -timeout 15m ./test/e2e/... "$@"
