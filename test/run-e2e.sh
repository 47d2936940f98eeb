#!/usr/bin/env bash
# Runs the real-Kafka suites for `make test-e2e` (and so `make test`): the Go
# e2e tests in test/e2e, which also drive the Python interop suite
# (test/interop, with $EVENTGUARD_PYTHON) and kcat.
#
# Uses KAFKA_BROKERS when set; otherwise starts a broker with
# test/kafka/kafka.sh and takes it down afterwards (a broker that was already
# running is left running). Without Java/Maven, Python's confluent-kafka or
# kcat on a developer laptop, the affected suites are SKIPPED with the reason
# in the summary; with CI=true nothing may be skipped. Extra arguments go to
# `go test` (e.g. -run TestKcat).
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
	command -v openssl >/dev/null || skip "no openssl on PATH (it makes the test broker's TLS certificates)"
	already=false
	test/kafka/kafka.sh status >/dev/null 2>&1 && already=true
	eval "$(test/kafka/kafka.sh up)"
	export KAFKA_BROKERS KAFKA_LOG KAFKA_DIR KAFKA_SASL_SSL_BROKERS KAFKA_MTLS_BROKERS KAFKA_TLS_CA KAFKA_TLS_CLIENT_CERT KAFKA_TLS_CLIENT_KEY
	$already || started=true
fi
cleanup() { if $started; then test/kafka/kafka.sh down >/dev/null 2>&1 || true; fi; }
trap cleanup EXIT

# The restart test stops and starts the broker with kafka.sh: only offer it
# when the broker is the one kafka.sh runs on this machine; so with its
# secured listeners (TLS + SASL, mutual TLS), unless KAFKA_SASL_SSL_BROKERS
# names another broker's.
if [[ $KAFKA_BROKERS == "127.0.0.1:${KAFKA_PORT:-19092}" ]]; then
	export EVENTGUARD_KAFKA_SCRIPT="$PWD/test/kafka/kafka.sh"
	export KAFKA_LOG="${KAFKA_LOG:-$(test/kafka/kafka.sh log)}"
	if [[ -z ${KAFKA_SASL_SSL_BROKERS:-} ]]; then
		eval "$(test/kafka/kafka.sh env | grep -E '^KAFKA_(SASL_SSL_BROKERS|MTLS_BROKERS|TLS_CA|TLS_CLIENT_CERT|TLS_CLIENT_KEY)=')"
		export KAFKA_SASL_SSL_BROKERS KAFKA_MTLS_BROKERS KAFKA_TLS_CA KAFKA_TLS_CLIENT_CERT KAFKA_TLS_CLIENT_KEY
	fi
else
	unset EVENTGUARD_KAFKA_SCRIPT
fi
if [[ -z ${EVENTGUARD_PYTHON:-} && -x .venv/bin/python ]]; then
	export EVENTGUARD_PYTHON="$PWD/.venv/bin/python"
fi

log="$(mktemp "${TMPDIR:-/tmp}/eventguard-e2e.XXXXXX")"
t0=$SECONDS
rc=0
go test -race -count=1 -timeout 10m -v ./test/e2e/... "$@" 2>&1 | tee "$log" || rc=$?
passed=$(grep -c '^--- PASS: ' "$log" || true)
failed=$(grep -c '^--- FAIL: ' "$log" || true)
skipped=$(grep -c '^--- SKIP: ' "$log" || true)
if ((skipped > 0)); then
	echo "e2e: skipped tests and why:"
	awk '/^=== (RUN|CONT) /{t=$3} / SKIPPED: /{sub(/^.* SKIPPED: /, ""); print "  " t ": " $0}' "$log"
fi
rm -f "$log"
echo "e2e ($((SECONDS - t0))s, broker $KAFKA_BROKERS):"
echo "e2e: $passed passed, $failed failed, $skipped skipped"
exit "$rc"
