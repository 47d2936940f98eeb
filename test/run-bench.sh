#!/usr/bin/env bash
# Runs the side-by-side benchmark for `make bench` (not part of make
# test): bench/cmd/kbench against a real Kafka broker — franz-go direct,
# franz-go validating in the client, Kroxylicious's RecordValidation (when
# java and mvn are on PATH; else left out with the reason), eventguard over
# HTTP and gRPC, one event per request over TCP and Unix sockets, the
# consume side and the cost of optional features — printing Markdown tables
# and writing bench/results/<date>-<commit>.json.
#
# Uses KAFKA_BROKERS when set (broker CPU is measured only if KAFKA_DIR names
# kafka.sh's dir); otherwise starts a broker with test/kafka/kafka.sh and
# takes it down afterwards (a broker that was already running is left
# running; kafka.sh's variables such as KAFKA_PORT pass through). Extra
# arguments go to kbench, e.g. -rounds 1 -duration 5s, -modes peers,consume,
# -kroxylicious=false, -profile DIR, or -out '' to write no JSON.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

started=false
if [[ -z ${KAFKA_BROKERS:-} ]]; then
	already=false
	test/kafka/kafka.sh status >/dev/null 2>&1 && already=true
	eval "$(test/kafka/kafka.sh up)"
	export KAFKA_BROKERS KAFKA_LOG KAFKA_DIR
	$already || started=true
fi
cleanup() { if $started; then test/kafka/kafka.sh down >/dev/null 2>&1 || true; fi; }
trap cleanup EXIT

bin="$(mktemp -d "${TMPDIR:-/tmp}/kbench-bin.XXXXXX")"
trap 'rm -rf "$bin"; cleanup' EXIT
go build -o "$bin/kbench" ./bench/cmd/kbench
"$bin/kbench" -brokers "$KAFKA_BROKERS" -kafka-dir "${KAFKA_DIR:-}" -out bench/results "$@"
