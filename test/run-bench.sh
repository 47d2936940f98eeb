#!/usr/bin/env bash
# Runs the side-by-side benchmark for `make bench` (not part of make
# test): bench/cmd/kbench against a real Kafka broker — direct franz-go vs
# eventguard over HTTP (batch, single) and gRPC (unary, stream) — printing a
# Markdown table and writing bench/results/<date>-<commit>.json.
#
# Uses KAFKA_BROKERS when set (broker CPU is measured only if KAFKA_DIR names
# kafka.sh's dir); otherwise starts a broker with test/kafka/kafka.sh and
# takes it down afterwards (a broker that was already running is left
# running; kafka.sh's variables such as KAFKA_PORT pass through). Extra
# arguments go to kbench, e.g. -rounds 1 -duration 5s, -modes
# grpc-unary,grpc-stream, -stream-in-flight 8, or -out '' to write no JSON.
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
