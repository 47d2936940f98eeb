#!/usr/bin/env bash
# Runs the soak for `make soak` (not part of make test): bench/cmd/soak
# drives eventguard for an hour at half its measured capacity with mixed
# produce (HTTP batches, gRPC Produce) and consume (a subscription
# delivering to an app) traffic, samples RSS, goroutines, open files and p99
# latency every minute, and writes docs/soak/soak-<date>-<commit>.json and
# .svg. It exits 1 when a figure is not flat after the warm-up.
#
# Uses KAFKA_BROKERS when set (the three-broker cluster's
# KAFKA_CLUSTER_BROKERS works too); otherwise starts a broker with
# test/kafka/kafka.sh and takes it down afterwards. Extra arguments go to
# soak, e.g. -duration 20m -warmup 5m, -rate 2000, or -out ''.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

started=false
if [[ -z ${KAFKA_BROKERS:-} ]]; then
	already=false
	test/kafka/kafka.sh status >/dev/null 2>&1 && already=true
	eval "$(test/kafka/kafka.sh up)"
	export KAFKA_BROKERS
	$already || started=true
fi
bin="$(mktemp -d "${TMPDIR:-/tmp}/soak-bin.XXXXXX")"
cleanup() {
	rm -rf "$bin"
	if $started; then test/kafka/kafka.sh down >/dev/null 2>&1 || true; fi
}
trap cleanup EXIT
go build -o "$bin/soak" ./bench/cmd/soak
"$bin/soak" -brokers "$KAFKA_BROKERS" "$@"
