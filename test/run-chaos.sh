#!/usr/bin/env bash
# Runs the chaos suite (test/chaos) for `make test-chaos` (and so `make test`)
# and `make chaos`: the built eventguard binary against a real three-broker
# Kafka cluster (test/kafka/kafka.sh cluster) while brokers are killed,
# paused, restarted and starved of in-sync replicas.
#
# Uses KAFKA_CLUSTER_BROKERS when set (with KAFKA_CLUSTER_DIR and
# EVENTGUARD_KAFKA_SCRIPT: the tests inject faults with kafka.sh, so the
# cluster must be kafka.sh's); otherwise starts the cluster and takes it
# down afterwards (a cluster that was already running is left running).
# Without Java/Maven on a developer laptop the suite is SKIPPED with the
# reason; with CI=true nothing may be skipped. Extra arguments go to
# `go test` (e.g. -run TestChaosKillLeader).
#
# Environment: EVENTGUARD_CHAOS_KILLS (leader kills in a row, 5),
# EVENTGUARD_CHAOS_ROUNDS (repeats of the other faults, 1),
# EVENTGUARD_CHAOS_OUT (write the figures as JSON and Markdown there).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

skip() {
	if [[ ${CI:-} == true ]]; then
		echo "chaos: cannot run in CI: $*" >&2
		exit 1
	fi
	echo "chaos: SKIPPED: $*"
	exit 0
}

t0=$SECONDS
started=false
if [[ -z ${KAFKA_CLUSTER_BROKERS:-} ]]; then
	command -v java >/dev/null || skip "no java on PATH (Java 17+ runs the test cluster)"
	command -v mvn >/dev/null || [[ -d ${XDG_CACHE_HOME:-$HOME/.cache}/eventguard ]] || skip "no mvn on PATH (Maven fetches the broker jars)"
	already=false
	test/kafka/kafka.sh cluster status >/dev/null 2>&1 && already=true
	eval "$(test/kafka/kafka.sh cluster up)"
	$already || started=true
fi
export KAFKA_CLUSTER_BROKERS
export KAFKA_CLUSTER_DIR="${KAFKA_CLUSTER_DIR:-$(test/kafka/kafka.sh cluster env | sed -n 's/^KAFKA_CLUSTER_DIR=//p')}"
export EVENTGUARD_KAFKA_SCRIPT="${EVENTGUARD_KAFKA_SCRIPT:-$PWD/test/kafka/kafka.sh}"
cleanup() { if $started; then test/kafka/kafka.sh cluster down >/dev/null 2>&1 || true; fi; }
trap cleanup EXIT
up=$((SECONDS - t0))
# go test runs in the package's directory: give it an absolute path.
if [[ -n ${EVENTGUARD_CHAOS_OUT:-} && $EVENTGUARD_CHAOS_OUT != /* ]]; then
	export EVENTGUARD_CHAOS_OUT="$PWD/$EVENTGUARD_CHAOS_OUT"
fi

log="$(mktemp "${TMPDIR:-/tmp}/eventguard-chaos.XXXXXX")"
t1=$SECONDS
rc=0
# No -race: the system under test is the eventguard binary (built without
# it, as users run it) and the brokers; the test process only drives load,
# and the race detector's CPU would be taken from them on two cores.
go test -count=1 -timeout 30m -v ./test/chaos/... "$@" 2>&1 | tee "$log" || rc=$?
passed=$(grep -c '^--- PASS: ' "$log" || true)
failed=$(grep -c '^--- FAIL: ' "$log" || true)
skipped=$(grep -c '^--- SKIP: ' "$log" || true)
if ((skipped > 0)); then
	echo "chaos: skipped tests and why:"
	awk '/^=== (RUN|CONT) /{t=$3} / SKIPPED: /{sub(/^.* SKIPPED: /, ""); print "  " t ": " $0}' "$log"
fi
rm -f "$log"
echo "chaos (cluster up ${up}s, tests $((SECONDS - t1))s, cluster $KAFKA_CLUSTER_BROKERS):"
echo "chaos: $passed passed, $failed failed, $skipped skipped"
exit "$rc"
