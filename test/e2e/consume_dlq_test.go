package e2e

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eventguard/eventguard/test/e2e/harness"
)

// createTopicWithConfig creates topic with the given partitions, one
// replica and the topic configs in cfg.
func createTopicWithConfig(t *testing.T, brokers []string, topic string, partitions int32, cfg map[string]string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cl, err := harness.NewClient(brokers)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	configs := map[string]*string{}
	for k, v := range cfg {
		configs[k] = kadm.StringPtr(v)
	}
	resp, err := kadm.NewClient(cl).CreateTopic(ctx, partitions, 1, configs, topic)
	if err == nil {
		err = resp.Err
	}
	if err != nil {
		t.Fatalf("create topic %q with %v: %v", topic, cfg, err)
	}
}

// setTopicConfig sets one config of topic (an incremental alter).
func setTopicConfig(t *testing.T, brokers []string, topic, name, value string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cl, err := harness.NewClient(brokers)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	resps, err := kadm.NewClient(cl).AlterTopicConfigs(ctx, []kadm.AlterConfig{{Op: kadm.SetConfig, Name: name, Value: kadm.StringPtr(value)}}, topic)
	if err == nil {
		for _, r := range resps {
			if r.Err != nil {
				err = fmt.Errorf("%s: %w (%s)", r.Name, r.Err, r.ErrMessage)
			}
		}
	}
	if err != nil {
		t.Fatalf("set %s=%s on %s: %v", name, value, topic, err)
	}
}

// dlqWarnRe matches the warning eventguard logs for each failed
// dead-letter write (text log format of eventguard dev).
var dlqWarnRe = regexp.MustCompile(`msg="dead-letter topic not writable; the partition waits and retries".* partition=(\d+) offset=(\d+) .*\battempt=(\d+) `)

// dlqWarnings returns the attempt numbers of the "dead-letter topic not
// writable" warnings in the log at path for partition/offset, and whether
// any of them names the broker error want.
func dlqWarnings(path string, partition int32, offset int64, want string) (attempts []int, named bool) {
	b, _ := os.ReadFile(path)
	for line := range bytes.Lines(b) {
		m := dlqWarnRe.FindSubmatch(line)
		if m == nil || string(m[1]) != strconv.Itoa(int(partition)) || string(m[2]) != strconv.FormatInt(offset, 10) {
			continue
		}
		n, _ := strconv.Atoi(string(m[3]))
		attempts = append(attempts, n)
		named = named || bytes.Contains(line, []byte(want))
	}
	return attempts, named
}

// The dead-letter topic cannot be written for a while: <topic>.dlq is
// created with max.message.bytes=64, so the broker refuses every
// dead-letter copy (the original value plus the eventguard.dlq.* headers)
// with MESSAGE_TOO_LARGE, until the test raises the limit with an
// incremental AlterConfigs. The topic has 2 partitions. Partition 0 holds
// valid-0, a poison record (raw JSON, not_wire_format) at offset 1 and
// valid-2; valid-3 to valid-6 are produced once the sidecar has logged
// that the dead-letter write failed. Partition 1 holds valid records only,
// produced before and during the outage.
//
// While the DLQ refuses:
//
//   - the sidecar logs "dead-letter topic not writable" for offset 1 again
//     and again (attempt 1, 2, ...; at least 5), naming MESSAGE_TOO_LARGE;
//   - partition 1 goes on: all its records are delivered, in order, and
//     committed to its end;
//   - partition 0 waits: the app gets valid-0 and nothing produced after the
//     failure (valid-2 may get through: dead-letter writes are not waited
//     for until one fails; docs/consume.md, "Backpressure"), and the
//     group's committed offset of partition 0 reaches 1 and never passes it;
//   - the dead-letter topic stays empty.
//
// After the limit is raised:
//
//   - the poison record is in the dead-letter topic exactly once, as
//     not_wire_format with every documented header, its original bytes and
//     attempts 0; "record dead-lettered" is logged once for it;
//   - valid-2 to valid-6 are delivered in order, those produced during the
//     outage only after the limit was raised; every record of both
//     partitions is delivered exactly once (no rebalance, no restart: no
//     cause for a duplicate);
//   - the committed offsets reach the end of both partitions.
func TestConsumeDLQUnwritableWaitsThenRecovers(t *testing.T) {
	t.Parallel()
	t0 := time.Now()
	brokers := kafkaBrokers(t)
	topic := harness.UniqueName("e2e-consume-dlqdown")
	dlqTopic := topic + ".dlq"
	createTopic(t, brokers, topic, 2)
	createTopicWithConfig(t, brokers, dlqTopic, 1, map[string]string{"max.message.bytes": "64"})
	app := newSink(t, always200)
	sub := newSubscription("dlqdown", topic, app.url("/events"))
	e := startInstance(t, "sidecar", sub.yaml(), "")
	ss := e.copySubject(topic+"-value", "pets-value", 2)
	pr := newProducer(t, brokers)
	since := time.Now()

	valid := func(part int32, key string) *kgo.Record {
		return &kgo.Record{Topic: topic, Partition: part, Key: []byte(key), Value: wire(ss.ID, petEvent(key, 4000))}
	}
	// Partition 0: 0 valid-0, 1 poison, 2 valid-2; partition 1: 0..2.
	poison := &kgo.Record{Topic: topic, Partition: 0, Key: []byte("poison-1"), Value: petEvent("raw", 1),
		Headers: []kgo.RecordHeader{{Key: "x-poison", Value: []byte("raw json")}}}
	produceSync(t, pr, valid(0, "valid-0"), poison, valid(0, "valid-2"),
		valid(1, "p1-0"), valid(1, "p1-1"), valid(1, "p1-2"))
	if poison.Offset != 1 {
		t.Fatalf("the poison record is at offset %d, want 1", poison.Offset)
	}

	// Committed offsets are sampled all through the outage: partition 0's
	// must never pass the poison record.
	var (
		comMu   sync.Mutex
		comMax  = map[int32]int64{}
		comSeen int
	)
	sample := func() map[int32]int64 {
		com, err := committed(brokers, sub.Group, topic)
		if err != nil {
			t.Errorf("fetch the committed offsets: %v", err)
			return nil
		}
		comMu.Lock()
		defer comMu.Unlock()
		comSeen++
		for p, o := range com {
			comMax[p] = max(comMax[p], o)
		}
		return com
	}
	stopSampling := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stopSampling:
				return
			case <-tick.C:
				sample()
			}
		}
	}()
	stopSamples := sync.OnceFunc(func() { close(stopSampling); <-sampled })
	t.Cleanup(stopSamples)

	attempts := func() []int { a, _ := dlqWarnings(e.sc.LogPath, 0, 1, ""); return a }
	waitFor(t, 15*time.Second, "the first \"dead-letter topic not writable\" warning for offset 1", func() bool { return len(attempts()) > 0 },
		func() string { return app.summary() })
	failedAt := time.Now()

	// Produced while the DLQ write is failing: partition 0 must hold them,
	// partition 1 must deliver them.
	late := []*kgo.Record{valid(0, "valid-3"), valid(0, "valid-4"), valid(0, "valid-5"), valid(0, "valid-6"),
		valid(1, "p1-3"), valid(1, "p1-4"), valid(1, "p1-5")}
	produceSync(t, pr, late...)

	p1Keys := []string{"p1-0", "p1-1", "p1-2", "p1-3", "p1-4", "p1-5"}
	onPart := func(ds []delivery, p int32) []delivery {
		var out []delivery
		for _, d := range ds {
			if d.Partition == p {
				out = append(out, d)
			}
		}
		return out
	}
	waitFor(t, 15*time.Second, "partition 1's 6 records delivered while the DLQ refuses", func() bool { return len(onPart(app.delivered(), 1)) >= len(p1Keys) }, app.summary)
	waitFor(t, 15*time.Second, "at least 5 failed dead-letter attempts", func() bool { return slices.Max(append(attempts(), 0)) >= 5 }, nil)
	waitFor(t, 15*time.Second, "commits 1 on partition 0 and 6 on partition 1 during the outage", func() bool {
		com := sample()
		return com[0] == 1 && com[1] == int64(len(p1Keys))
	}, func() string {
		comMu.Lock()
		defer comMu.Unlock()
		return fmt.Sprintf("highest commits seen %v", comMax)
	})

	// Still refusing: check what the outage let through.
	if got := keys(onPart(app.delivered(), 1)); !slices.Equal(got, p1Keys) {
		t.Errorf("partition 1 during the outage: the app accepted %q, want %q in order", got, p1Keys)
	}
	heldBack := keys(onPart(app.all(), 0))
	pipelined := slices.Equal(heldBack, []string{"valid-0", "valid-2"})
	if !slices.Equal(heldBack, []string{"valid-0"}) && !pipelined {
		t.Fatalf("partition 0 during the outage: the app got %q, want [valid-0] (or [valid-0 valid-2] if valid-2 was sent before the first write failed); %s", heldBack, app.summary())
	}
	if n := mustCount(t, brokers, dlqTopic); n != 0 {
		t.Fatalf("%s holds %d records while its max.message.bytes is 64, want none", dlqTopic, n)
	}
	as, named := dlqWarnings(e.sc.LogPath, 0, 1, "MESSAGE_TOO_LARGE")
	if !named {
		t.Errorf("no \"dead-letter topic not writable\" warning for offset 1 names MESSAGE_TOO_LARGE; the outage is not the one the test made")
	}
	for i, a := range as {
		if a != i+1 {
			t.Errorf("dead-letter warnings for offset 1 have attempts %v, want 1, 2, 3, ...", as)
			break
		}
	}
	outage := time.Since(failedAt)
	stopSamples()
	comMu.Lock()
	if comMax[0] > poison.Offset {
		t.Errorf("partition 0's committed offset reached %d during the outage, past the poison record at %d", comMax[0], poison.Offset)
	}
	samples := comSeen
	comMu.Unlock()

	raisedAt := time.Now()
	setTopicConfig(t, brokers, dlqTopic, "max.message.bytes", "1048588")

	waitCount(t, brokers, dlqTopic, 1, 15*time.Second)
	app.waitOK(6+len(p1Keys), 15*time.Second)
	waitCommitted(t, brokers, sub.Group, topic, map[int32]int64{0: 7, 1: int64(len(p1Keys))}, 15*time.Second)

	p0Want := []string{"valid-0", "valid-2", "valid-3", "valid-4", "valid-5", "valid-6"}
	all := app.all()
	if got := keys(onPart(all, 0)); !slices.Equal(got, p0Want) {
		t.Errorf("partition 0: the app got %q, want %q once each, in order; %s", got, p0Want, app.summary())
	}
	if got := keys(onPart(all, 1)); !slices.Equal(got, p1Keys) {
		t.Errorf("partition 1: the app got %q, want %q once each, in order", got, p1Keys)
	}
	for _, d := range onPart(all, 0) {
		if !d.ok() || d.Attempt != 1 {
			t.Errorf("%s: want answered 200 at attempt 1", d)
		}
		if d.Offset >= 3 && d.At.Before(raisedAt) {
			t.Errorf("%s arrived %s before the DLQ limit was raised: partition 0 did not wait for the failing dead-letter write", d, raisedAt.Sub(d.At))
		}
		if d.Key == "valid-2" && !pipelined && d.At.Before(raisedAt) {
			t.Errorf("%s arrived before the DLQ limit was raised", d)
		}
	}

	src := readAll(t, brokers, topic)
	dl := readList(t, brokers, dlqTopic)
	if len(dl) != 1 {
		t.Fatalf("%s holds %d records, want exactly the poison record once", dlqTopic, len(dl))
	}
	checkDLQ(t, dl[0], src[0][1], sub, dlqWant{Reason: "not_wire_format", SchemaID: -1, MessageHas: []string{"wire format"}}, since)
	log, _ := os.ReadFile(e.sc.LogPath)
	deadLettered := regexp.MustCompile(`(?m)msg="record dead-lettered".* partition=0 offset=1 .*reason=not_wire_format`).FindAll(log, -1)
	if len(deadLettered) != 1 {
		t.Errorf("eventguard logged \"record dead-lettered\" for offset 1 %d times, want once", len(deadLettered))
	}

	as, _ = dlqWarnings(e.sc.LogPath, 0, 1, "")
	t.Logf("DLQ refused for %s after the first failure (%d failed attempts in all); valid-2 sent before the first failure: %v; "+
		"%d commit samples, partition 0 never past 1 before the recovery; %d deliveries for %d valid records, 0 duplicates; DLQ 1 record; test took %s",
		outage.Round(time.Millisecond), len(as), pipelined, samples, len(all), len(p0Want)+len(p1Keys), time.Since(t0).Round(time.Millisecond))
}
