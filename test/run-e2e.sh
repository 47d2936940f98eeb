#!/usr/bin/env bash
# Runs the real-Kafka suites for `make test-e2e` (and so `make test`): the Go
# e2e tests in test/e2e, which also drive the Python interop suite
# (test/interop, with $EVENTGUARD_PYTHON) and kcat.
#
# Uses KAFKA_BROKERS when set; otherwise starts a broker with
# test/kafka/kafka.sh and takes it down afterwards (a broker that was already
# running is left running). Likewise a real schema registry: APICURIO_URL
# when set, otherwise Apicurio Registry started with test/registry/apicurio.sh
# (in the background, while the broker starts) for the tests that need it
# (TestApicurio*). Without Java/Maven, Java 21+ for Apicurio, Python's
# confluent-kafka or kcat on a developer laptop, the affected suites are
# SKIPPED with the reason in the summary; with CI=true nothing may be
# skipped. Extra arguments go to `go test` (e.g. -run TestKcat).
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

# The registry starts in the background first: its JVM and the broker's
# start side by side. One that was already running is left running.
reg_launched=false
reg_already=false
reg_pid=""
reg_out="$(mktemp "${TMPDIR:-/tmp}/eventguard-e2e-apicurio.XXXXXX")"
if [[ -z ${APICURIO_URL:-} ]]; then
	test/registry/apicurio.sh status >/dev/null 2>&1 && reg_already=true
	test/registry/apicurio.sh up >"$reg_out" 2>"$reg_out.err" &
	reg_pid=$!
	reg_launched=true
fi
# wait_registry: wait for the registry started above and export its
# variables, or say why the Apicurio tests will be skipped (fail in CI).
wait_registry() {
	[[ -n $reg_pid ]] || return 0
	local rc=0
	wait "$reg_pid" || rc=$?
	reg_pid=""
	if ((rc == 0)); then
		grep -E 'fetch|ready' "$reg_out.err" >&2 || true
		eval "$(grep -E '^APICURIO_[A-Z]+=' "$reg_out")"
		export APICURIO_URL APICURIO_LOG APICURIO_DIR APICURIO_VERSION
		return 0
	fi
	cat "$reg_out.err" >&2
	if [[ ${CI:-} == true ]]; then
		echo "e2e: cannot run in CI: test/registry/apicurio.sh up failed (output above)" >&2
		exit 1
	fi
	echo "e2e: the Apicurio tests will be SKIPPED: test/registry/apicurio.sh up failed: $(tail -n 1 "$reg_out.err")"
}

started=false
cleanup() {
	if [[ -n $reg_pid ]]; then wait "$reg_pid" 2>/dev/null || true; fi
	if $started; then test/kafka/kafka.sh down >/dev/null 2>&1 || true; fi
	if $reg_launched && ! $reg_already; then test/registry/apicurio.sh down >/dev/null 2>&1 || true; fi
	rm -f "$reg_out" "$reg_out.err"
}
trap cleanup EXIT

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
wait_registry

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
# The registry outage test kills and restarts the registry with apicurio.sh:
# only offer it when the registry is the one apicurio.sh runs here.
if [[ -n ${APICURIO_URL:-} && $APICURIO_URL == "$(test/registry/apicurio.sh env | sed -n 's/^APICURIO_URL=//p')" ]]; then
	export EVENTGUARD_APICURIO_SCRIPT="$PWD/test/registry/apicurio.sh"
else
	unset EVENTGUARD_APICURIO_SCRIPT
fi
if [[ -z ${EVENTGUARD_PYTHON:-} && -x .venv/bin/python ]]; then
	export EVENTGUARD_PYTHON="$PWD/.venv/bin/python"
fi

log="$(mktemp "${TMPDIR:-/tmp}/eventguard-e2e.XXXXXX")"
t0=$SECONDS
rc=0
# The package tests that need the real registry (skipped by make test-unit,
# which has none) run here, where it is up: the compatibility checker's
# differential test and register against Apicurio's 409.
EVENTGUARD_NEED_APICURIO=1 go test -race -count=1 -timeout 10m -v -run 'TestApicurioDifferential|TestRegisterApicurio409' ./compat ./cmd/eventguard 2>&1 | tee "$log" || rc=$?
go test -race -count=1 -timeout 10m -v ./test/e2e/... "$@" 2>&1 | tee -a "$log" || rc=$?
passed=$(grep -c '^--- PASS: ' "$log" || true)
failed=$(grep -c '^--- FAIL: ' "$log" || true)
skipped=$(grep -c '^--- SKIP: ' "$log" || true)
if ((skipped > 0)); then
	echo "e2e: skipped tests and why:"
	awk '/^=== (RUN|CONT) /{t=$3} / SKIPPED: /{sub(/^.* SKIPPED: /, ""); print "  " t ": " $0}' "$log"
fi
rm -f "$log"
reg_rss=""
if [[ -n ${APICURIO_DIR:-} && -r $APICURIO_DIR/registry.pid ]]; then
	reg_rss="$(awk '/^VmHWM:/ { printf ", peak RSS %d MiB", $2 / 1024 }' "/proc/$(cat "$APICURIO_DIR/registry.pid")/status" 2>/dev/null || true)"
fi
echo "e2e ($((SECONDS - t0))s, broker $KAFKA_BROKERS, registry ${APICURIO_URL:-none}$reg_rss):"
echo "e2e: $passed passed, $failed failed, $skipped skipped"
exit "$rc"
