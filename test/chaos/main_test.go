// Package chaos runs the built eventguard binary against a real
// three-broker Kafka cluster (test/kafka/kafka.sh cluster) while brokers are
// killed, paused, restarted and starved of in-sync replicas, and checks from
// the topic itself that nothing acknowledged was lost, nothing was skipped on
// the way to the app, and no offset was committed past an undelivered record.
//
// Every scenario runs under combined load: several HTTP clients posting
// batches, a gRPC ProduceStream, and a subscription delivering every record
// to an app in this process. The figures of each scenario (requests, answers
// by status, records lost, duplicates, redeliveries) are logged and, with
// EVENTGUARD_CHAOS_OUT, written as JSON and Markdown.
//
// The tests need KAFKA_CLUSTER_BROKERS and EVENTGUARD_KAFKA_SCRIPT (kafka.sh,
// to inject the faults); test/run-chaos.sh starts the cluster and sets them.
// Without them every test is skipped, unless CI=true, where a missing
// prerequisite fails the test.
//
// Environment: EVENTGUARD_CHAOS_KILLS (leader kills in a row, 5),
// EVENTGUARD_CHAOS_ROUNDS (how many times each scenario's fault is repeated,
// 1), EVENTGUARD_CHAOS_OUT (a directory for the results; none by default).
package chaos

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/eventguard/eventguard/test/e2e/harness"
)

// The binary under test, built once by TestMain when a cluster is known.
var (
	binPath  string
	buildErr error
)

func TestMain(m *testing.M) {
	os.Exit(runTests(m))
}

func runTests(m *testing.M) int {
	if os.Getenv("KAFKA_CLUSTER_BROKERS") != "" {
		dir, err := os.MkdirTemp("", "eventguard-chaos-bin-")
		if err != nil {
			fmt.Fprintln(os.Stderr, "chaos:", err)
			return 1
		}
		defer os.RemoveAll(dir)
		var root string
		root, buildErr = harness.ModuleRoot()
		if buildErr == nil {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
			t0 := time.Now()
			binPath, buildErr = harness.Build(ctx, root, dir)
			cancel()
			if buildErr == nil {
				fmt.Fprintf(os.Stderr, "chaos: built %s in %s\n", binPath, time.Since(t0).Round(time.Millisecond))
			}
		}
	}
	code := m.Run()
	if err := writeReport(os.Getenv("EVENTGUARD_CHAOS_OUT")); err != nil {
		fmt.Fprintln(os.Stderr, "chaos: write the report:", err)
		if code == 0 {
			code = 1
		}
	}
	return code
}

// unavailable skips the test for a missing prerequisite, or fails it in CI.
func unavailable(t *testing.T, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if os.Getenv("CI") == "true" {
		t.Fatalf("CI=true and a prerequisite is missing: %s", msg)
	}
	t.Skipf("SKIPPED: %s", msg)
}

// clusterEnv returns the cluster's brokers and kafka.sh, or skips.
func clusterEnv(t *testing.T) ([]string, string) {
	t.Helper()
	b := os.Getenv("KAFKA_CLUSTER_BROKERS")
	script := os.Getenv("EVENTGUARD_KAFKA_SCRIPT")
	if b == "" || script == "" {
		unavailable(t, `KAFKA_CLUSTER_BROKERS or EVENTGUARD_KAFKA_SCRIPT is not set: run "make test-chaos" (it starts the cluster)`)
	}
	if buildErr != nil {
		t.Fatalf("eventguard binary: %v", buildErr)
	}
	return strings.Split(b, ","), script
}

// envInt returns the positive integer in the environment variable name, or
// def when it is unset.
func envInt(t *testing.T, name string, def int) int {
	t.Helper()
	s := os.Getenv(name)
	if s == "" {
		return def
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 {
		t.Fatalf("%s=%q: want a positive integer", name, s)
	}
	return n
}
