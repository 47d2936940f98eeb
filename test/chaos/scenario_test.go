package chaos

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/sr/srfake"

	"github.com/eventguard/eventguard/kafka"
	"github.com/eventguard/eventguard/test/e2e/harness"
)

// The load of every scenario: four HTTP clients posting 5 records every
// 50 ms and one gRPC stream sending 5 records every 50 ms (about 500
// records/s in all while the cluster is healthy: enough to have records in
// flight at every fault, little enough to leave the two cores to the
// cluster and the sidecar).
var defaultLoad = loadConfig{HTTPClients: 4, StreamClients: 1, Batch: 5, Pace: 50 * time.Millisecond}

// topicPartitions is the partitions of each scenario's topic: two led by
// each broker.
const topicPartitions = 6

// produceTimeout is the sidecar's limits.produce_timeout (its default).
const produceTimeout = 10 * time.Second

// scenario is one chaos test: a fault injected while the load runs.
type scenario struct {
	name string
	app  behaviour
	// fault injects the fault; the load runs before, during and after it.
	fault func(r *run)
}

// run is one scenario's running parts.
type run struct {
	t        *testing.T
	c        *cluster
	topic    string
	group    string
	registry string
	app      *app
	load     *load
	sidecars map[string]*harness.Sidecar
	dir      string
	// notes are scenario-specific figures for the report.
	notes []string
}

// note records a figure for the report and logs it.
func (r *run) note(format string, args ...any) {
	s := fmt.Sprintf(format, args...)
	r.notes = append(r.notes, s)
	r.t.Log(s)
}

// sidecarConfig is the --config of every sidecar of a scenario: one
// subscription of the topic delivering to the app at path, with a retry
// policy that outlasts the app's failures (nothing is dead-lettered).
func (r *run) sidecarConfig(label, path string) string {
	return fmt.Sprintf(`instance: chaos-%s
feature: chaos
subscriptions:
  - name: chaos-sub
    topics: [%s]
    group: %s
    deliver: {url: %q, timeout: 5s}
    retry: {attempts: 10, initial_backoff: 50ms, max_backoff: 500ms}
    session_timeout: 6s
`, label, r.topic, r.group, r.app.url(path))
}

// startSidecar runs `eventguard dev --brokers <cluster> --registry <shared>
// --config FILE` delivering to the app at /label.
func (r *run) startSidecar(label string) *harness.Sidecar {
	r.t.Helper()
	dir := filepath.Join(r.dir, label)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		r.t.Fatal(err)
	}
	cfg := filepath.Join(dir, "eventguard.yaml")
	if err := os.WriteFile(cfg, []byte(r.sidecarConfig(label, "/"+label)), 0o644); err != nil {
		r.t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	t0 := time.Now()
	sc, err := harness.Start(ctx, harness.Options{Binary: binPath, Brokers: r.c.brokers, Dir: dir, Config: cfg, Registry: r.registry})
	if err != nil {
		r.t.Fatalf("start sidecar %s: %v", label, err)
	}
	r.t.Logf("sidecar %s: pid %d up in %s: http %s, grpc %s", label, sc.Pid(), time.Since(t0).Round(time.Millisecond), sc.HTTP, sc.GRPC)
	r.sidecars[label] = sc
	r.t.Cleanup(func() {
		if !sc.Exited() {
			sc.Kill()
		}
		if r.t.Failed() {
			r.t.Logf("sidecar %s: log %s, last 80 lines:\n%s", label, sc.LogPath, harness.Tail(sc.LogPath, 80))
		}
	})
	return sc
}

// stopSidecar sends SIGTERM and fails the test unless the sidecar exits 0.
func (r *run) stopSidecar(label string) {
	r.t.Helper()
	sc := r.sidecars[label]
	t0 := time.Now()
	if err := sc.Stop(40 * time.Second); err != nil {
		r.t.Errorf("sidecar %s: SIGTERM must end it with status 0: %v", label, err)
		return
	}
	r.t.Logf("sidecar %s: exited 0 on SIGTERM in %s", label, time.Since(t0).Round(time.Millisecond))
}

// goroutines reads go_goroutines from the sidecar's /metrics.
func goroutines(sc *harness.Sidecar) (int, error) {
	hc := &http.Client{Timeout: 5 * time.Second}
	defer hc.CloseIdleConnections()
	resp, err := hc.Get(sc.Admin + "/metrics")
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	s := bufio.NewScanner(resp.Body)
	s.Buffer(make([]byte, 64<<10), 1<<20)
	for s.Scan() {
		if v, ok := strings.CutPrefix(s.Text(), "go_goroutines "); ok {
			f, err := strconv.ParseFloat(v, 64)
			return int(f), err
		}
	}
	return 0, fmt.Errorf("no go_goroutines in %s/metrics", sc.Admin)
}

// petEvent is a valid pets-value version 2 event.
func petEvent(key string, seq int) []byte {
	return fmt.Appendf(nil, `{"event_type":"pet.weight.updated.v2","pet_id":%q,"device_id":"bowl-7f3a","net_weight_grams":%d,"tare_weight_grams":380,"measured_at":"2026-11-02T08:15:00Z","source":"sensor"}`, key, 4000+seq)
}

// waitUntil polls cond every 100 ms until it holds or timeout passes.
func waitUntil(timeout time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(100 * time.Millisecond)
	}
	return true
}

// runScenario runs sc: a topic of its own, a shared in-process registry,
// sidecar "a" with a subscription delivering to the app, the combined load;
// the fault; then the load stops, the app catches up, and every invariant is
// checked from the topic itself.
func runScenario(t *testing.T, sc scenario) {
	c := newCluster(t)
	t0 := time.Now()
	c.start = t0
	baseGoroutines := runtime.NumGoroutine()

	reg := srfake.New()
	r := &run{
		t:        t,
		c:        c,
		topic:    harness.UniqueName("chaos-" + sc.name),
		group:    harness.UniqueName("chaos-" + sc.name + "-group"),
		registry: reg.URL(),
		app:      newApp(sc.app),
		sidecars: map[string]*harness.Sidecar{},
		dir:      t.TempDir(),
	}
	c.createTopic(r.topic, topicPartitions)
	a := r.startSidecar("a")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	if _, err := harness.CopySubject(ctx, r.registry, r.topic+"-value", "pets-value", 2); err != nil {
		t.Fatal(err)
	}
	cancel()
	sidecarBase, err := goroutines(a)
	if err != nil {
		t.Fatal(err)
	}

	watchCtx, stopWatch := context.WithCancel(context.Background())
	commits := watchCommits(watchCtx, c, r.app, r.group, r.topic, 500*time.Millisecond)
	cfg := defaultLoad
	cfg.Topic = r.topic
	r.load, err = startLoad(cfg, a.HTTP, a.GRPC, petEvent)
	if err != nil {
		t.Fatal(err)
	}
	if !waitUntil(30*time.Second, func() bool { return !r.load.ledger.lastOK().IsZero() && time.Since(t0) > 3*time.Second }) {
		t.Fatalf("no produce request answered 200 within 30 s: %+v", summarize(r.load.ledger, r.load.ledger.outcomesBetween(t0, time.Now())))
	}

	faultStart := time.Now()
	sc.fault(r)
	faultEnd := time.Now()
	// After the fault the load must succeed again by itself.
	if !waitUntil(60*time.Second, func() bool { return r.load.ledger.lastOK().After(faultEnd) }) {
		t.Errorf("no produce request sent after the fault was answered 200 within 60 s")
	}
	time.Sleep(2 * time.Second)
	r.load.stop()
	loadEnd := time.Now()

	// A record whose request timed out may still be written by the
	// producer's retries: give it a moment, then wait for the app to have
	// every record of the topic.
	time.Sleep(time.Second)
	qctx, qcancel := context.WithTimeout(context.Background(), 20*time.Second)
	ends, err := c.endOffsets(qctx, r.topic)
	qcancel()
	if err != nil {
		t.Fatalf("end offsets of %s: %v", r.topic, err)
	}
	if !waitUntil(120*time.Second, func() bool { return r.app.caughtUp(ends) }) {
		t.Errorf("the app did not get every record of the topic within 120 s:%s", r.app.lag(ends))
	}
	drained := time.Now()
	sidecarEnd, err := goroutines(a)
	if err != nil {
		t.Error(err)
	}
	// Committed offsets catch up within the commit interval (1 s).
	time.Sleep(1500 * time.Millisecond)
	stopWatch()
	samples, commitViolations := commits()

	res := r.check(ends)
	res.Scenario = sc.name
	res.Load = summarize(r.load.ledger, r.load.ledger.outcomesBetween(t0, loadEnd))
	res.Faults = c.faults
	res.Notes = r.notes
	res.CommitSamples = samples
	res.CommitViolations = len(commitViolations)
	res.SidecarGoroutines = [2]int{sidecarBase, sidecarEnd}
	res.Seconds = map[string]float64{
		"fault":  faultEnd.Sub(faultStart).Seconds(),
		"load":   loadEnd.Sub(t0).Seconds(),
		"drain":  drained.Sub(loadEnd).Seconds(),
		"total":  0,
		"warmup": faultStart.Sub(t0).Seconds(),
	}
	for _, v := range commitViolations {
		t.Errorf("commit ahead of delivery: %s", v)
	}
	// A leak in the sidecar would grow with the requests served (thousands
	// here); connections to brokers come and go with the faults.
	if sidecarEnd > sidecarBase+40 {
		t.Errorf("sidecar a: %d goroutines after the load, %d before it", sidecarEnd, sidecarBase)
	}

	for label, s := range r.sidecars {
		if !s.Exited() {
			r.stopSidecar(label)
		}
	}
	// After the last SIGTERM every delivered record is committed, and
	// nothing past one that was not.
	qctx, qcancel = context.WithTimeout(context.Background(), 20*time.Second)
	final, err := c.committed(qctx, r.group, r.topic)
	qcancel()
	if err != nil {
		t.Errorf("committed offsets of %s: %v", r.group, err)
	}
	pre := r.app.prefix()
	for p, end := range ends {
		if final[p] > pre[p] {
			t.Errorf("partition %d: committed %d after the stop, but the app had every record only below %d", p, final[p], pre[p])
		}
		if final[p] < end {
			res.NotCommitted += end - final[p]
		}
	}
	r.app.close()
	reg.Close()
	// The next scenario's broker restarts load fewer logs.
	if !t.Failed() {
		dctx, dcancel := context.WithTimeout(context.Background(), 20*time.Second)
		_, _ = c.adm.DeleteTopics(dctx, r.topic, r.topic+".dlq")
		dcancel()
	}
	if !waitUntil(10*time.Second, func() bool { return runtime.NumGoroutine() <= baseGoroutines }) {
		buf := make([]byte, 1<<20)
		n := runtime.Stack(buf, true)
		t.Errorf("goroutine leak in the test process: %d goroutines, %d before the scenario\n%s", runtime.NumGoroutine(), baseGoroutines, buf[:n])
	}
	res.Seconds["total"] = time.Since(t0).Seconds()
	res.Passed = !t.Failed()
	t.Log(res.table())
	addResult(res)
}

// check reads the topic to its end and checks every invariant against what
// the load was told and what the app got.
func (r *run) check(ends map[int32]int64) result {
	t := r.t
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	recs, err := harness.ReadToEnd(ctx, r.c.brokers, r.topic)
	if err != nil {
		t.Fatalf("read %s back: %v", r.topic, err)
	}
	l := r.load.ledger
	l.mu.Lock()
	defer l.mu.Unlock()

	var res result
	res.InTopic = len(recs)
	seen := map[string]int{}
	lastSeq := map[string]int{}
	for _, rec := range recs {
		id, ok := harness.Header(rec, kafka.HeaderEventID)
		if !ok {
			t.Errorf("%d/%d has no %s header", rec.Partition, rec.Offset, kafka.HeaderEventID)
			continue
		}
		seen[id]++
		s, ok := l.sent[id]
		if !ok {
			t.Errorf("%d/%d: event id %q was never sent", rec.Partition, rec.Offset, id)
			continue
		}
		if string(rec.Key) != s.Key {
			t.Errorf("%d/%d: event %s has key %q, sent with %q", rec.Partition, rec.Offset, id, rec.Key, s.Key)
		}
		// Per key, the records must be in the order their client sent
		// them (a duplicate repeats a sequence number, it never goes
		// back).
		if last, ok := lastSeq[s.Key]; ok && s.Seq < last {
			res.Reordered++
			if res.Reordered <= 10 {
				t.Errorf("key %s: %s (sequence %d) at %d/%d after sequence %d", s.Key, id, s.Seq, rec.Partition, rec.Offset, last)
			}
		}
		lastSeq[s.Key] = max(lastSeq[s.Key], s.Seq)
		got, delivered := r.app.eventIDAt(rec.Partition, rec.Offset)
		switch {
		case !delivered:
			res.Undelivered++
			if res.Undelivered <= 10 {
				t.Errorf("%d/%d (%s) is in the topic but was never delivered to the app", rec.Partition, rec.Offset, id)
			}
		case got != id:
			t.Errorf("%d/%d: the app got event id %q, the topic holds %q", rec.Partition, rec.Offset, got, id)
		}
	}
	for id, n := range seen {
		if n > 1 {
			res.Duplicates += n - 1
			if res.Duplicates <= 10 {
				t.Logf("duplicate: %s is in the topic %d times", id, n)
			}
		}
	}
	for id := range l.acked {
		if seen[id] == 0 {
			res.Lost++
			if res.Lost <= 10 {
				t.Errorf("LOST: %s was acknowledged but is not in the topic", id)
			}
		}
	}
	for id := range l.sent {
		if seen[id] > 0 && !l.acked[id] {
			res.UnackedInTopic++
		}
	}
	var total int64
	for _, e := range ends {
		total += e
	}
	if int64(len(recs)) < total {
		t.Errorf("read %d records, the end offsets add up to %d", len(recs), total)
	}
	res.Acked = len(l.acked)
	res.Sent = len(l.sent)
	res.Skips = r.app.skipped()
	for _, s := range res.Skips {
		t.Errorf("skipped: %s", s)
	}
	res.App = r.app.stats()
	res.DLQ = r.c.dlqRecords(r.topic + ".dlq")
	if res.DLQ > 0 {
		t.Errorf("%d records were dead-lettered; the app accepts every record within the retry policy", res.DLQ)
	}
	if res.Lost > 0 {
		t.Errorf("%d acknowledged records lost", res.Lost)
	}
	if res.Reordered > 0 {
		t.Errorf("%d records out of order for their key", res.Reordered)
	}
	if res.Undelivered > 0 {
		t.Errorf("%d records in the topic never delivered to the app", res.Undelivered)
	}
	return res
}
