package e2e

// The consume path on the real broker: eventguard dev runs subscriptions
// (from a --config file) that consume topics of the real Kafka broker,
// validate each record, POST the valid ones to a sink app in this process
// (sink_test.go) and dead-letter the rest to <topic>.dlq. Each test uses its
// own topics, groups and subjects; the retry policy is short (attempts 5,
// 50ms doubling to 200ms) and an attempt times out after 2s.

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sr/srfake"

	"github.com/eventguard/eventguard/test/e2e/harness"
)

// subscription is one subscription of a test's --config file.
type subscription struct {
	Instance string // the sidecar's instance name (eventguard.dlq.instance)
	Name     string
	Topic    string
	Group    string
	URL      string // the sink's delivery URL
}

// yaml renders the config file: the subscription with the tests' short
// retry policy and delivery timeout.
func (s subscription) yaml() string {
	return fmt.Sprintf(`instance: %s
feature: e2e-consume
subscriptions:
  - name: %s
    topics: [%s]
    group: %s
    deliver: {url: %q, timeout: 2s}
    retry: {attempts: 5, initial_backoff: 50ms, max_backoff: 200ms}
    session_timeout: 6s
`, s.Instance, s.Name, s.Topic, s.Group, s.URL)
}

// newSubscription names a subscription of topic, with a new group, that
// delivers to url.
func newSubscription(prefix, topic, url string) subscription {
	return subscription{
		Instance: prefix + "-sidecar",
		Name:     prefix + "-sub",
		Topic:    topic,
		Group:    harness.UniqueName("e2e-" + prefix + "-group"),
		URL:      url,
	}
}

// startInstance runs `eventguard dev --brokers $KAFKA_BROKERS --config
// FILE` with configYAML, using registry instead of the embedded one when it
// is not empty, and waits until it is ready (its subscriptions joined their
// groups). The test may stop or kill it; see launch.
func startInstance(t *testing.T, label, configYAML, registry string) *env {
	t.Helper()
	return launch(t, label, configYAML, harness.Options{Registry: registry}, true)
}

// seqKey is the key of numbered record i: seq-0042.
func seqKey(i int) string { return fmt.Sprintf("seq-%04d", i) }

// seqRecords returns the numbered records from to from+n-1 for topic: pets
// events in wire format with schemaID, keyed seqKey(i), record i on
// partition i % partitions.
func seqRecords(topic string, schemaID, from, n, partitions int) []*kgo.Record {
	recs := make([]*kgo.Record, 0, n)
	for i := from; i < from+n; i++ {
		key := seqKey(i)
		recs = append(recs, &kgo.Record{Topic: topic, Partition: int32(i % partitions), Key: []byte(key), Value: wire(schemaID, petEvent(key, 4000+i))})
	}
	return recs
}

// sharedRegistry starts an in-process schema registry (franz-go's srfake)
// for tests whose sidecars must agree on schema ids across processes; under
// TestApicurio it returns Apicurio instead.
func sharedRegistry(t *testing.T) string {
	t.Helper()
	if u := registryOverride(t); u != "" {
		return u // the suite's tests rerun on Apicurio: one real registry
	}
	reg := srfake.New()
	t.Cleanup(reg.Close)
	return reg.URL()
}

// createTopic creates topic with the given partitions.
func createTopic(t *testing.T, brokers []string, topic string, partitions int32) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := harness.CreateTopic(ctx, brokers, topic, partitions); err != nil {
		t.Fatal(err)
	}
}

// newProducer returns a plain franz-go producer (acks=all, idempotent) that
// writes each record to the partition it names. Poison records go around
// eventguard through it.
func newProducer(t *testing.T, brokers []string) *kgo.Client {
	t.Helper()
	cl, err := harness.NewClient(brokers, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

// produceSync produces recs and fails the test unless every one is
// acknowledged; the records then carry their offsets.
func produceSync(t *testing.T, cl *kgo.Client, recs ...*kgo.Record) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatalf("produce %d records: %v", len(recs), err)
	}
}

// recordCount returns the sum of the end offsets of topic's partitions; 0
// when the topic does not exist (yet).
func recordCount(brokers []string, topic string) (int64, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cl, err := harness.NewClient(brokers)
	if err != nil {
		return 0, err
	}
	defer cl.Close()
	listed, err := kadm.NewClient(cl).ListEndOffsets(ctx, topic)
	if err != nil {
		return 0, err
	}
	var n int64
	for _, ps := range listed {
		for _, o := range ps {
			if errors.Is(o.Err, kerr.UnknownTopicOrPartition) {
				return 0, nil
			}
			if o.Err != nil {
				return 0, o.Err
			}
			n += o.Offset
		}
	}
	return n, nil
}

// mustCount is recordCount failing the test on an error.
func mustCount(t *testing.T, brokers []string, topic string) int64 {
	t.Helper()
	n, err := recordCount(brokers, topic)
	if err != nil {
		t.Fatalf("count the records of %s: %v", topic, err)
	}
	return n
}

// waitCount waits until topic holds at least n records.
func waitCount(t *testing.T, brokers []string, topic string, n int64, timeout time.Duration) {
	t.Helper()
	var got int64
	var err error
	waitFor(t, timeout, fmt.Sprintf("%d records in %s", n, topic), func() bool {
		got, err = recordCount(brokers, topic)
		return err == nil && got >= n
	}, func() string { return fmt.Sprintf("it has %d (error: %v)", got, err) })
}

// committed returns group's committed offset of each partition of topic
// (partitions without a commit are absent).
func committed(brokers []string, group, topic string) (map[int32]int64, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cl, err := harness.NewClient(brokers)
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	resps, err := kadm.NewClient(cl).FetchOffsets(ctx, group)
	if err != nil {
		return nil, err
	}
	if err := resps.Error(); err != nil {
		return nil, err
	}
	out := map[int32]int64{}
	for p, r := range resps[topic] {
		if r.At >= 0 {
			out[p] = r.At
		}
	}
	return out, nil
}

// waitCommitted waits until group has committed want for each partition in
// want.
func waitCommitted(t *testing.T, brokers []string, group, topic string, want map[int32]int64, timeout time.Duration) {
	t.Helper()
	var got map[int32]int64
	var err error
	waitFor(t, timeout, fmt.Sprintf("group %s to commit %v on %s", group, want, topic), func() bool {
		got, err = committed(brokers, group, topic)
		if err != nil {
			return false
		}
		for p, o := range want {
			if got[p] != o {
				return false
			}
		}
		return true
	}, func() string { return fmt.Sprintf("committed %v (error: %v)", got, err) })
}

// readAll reads topic from its start to its current end, by partition and
// offset.
func readAll(t *testing.T, brokers []string, topic string) map[int32]map[int64]*kgo.Record {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	recs, err := harness.ReadToEnd(ctx, brokers, topic)
	if err != nil {
		t.Fatal(err)
	}
	out := map[int32]map[int64]*kgo.Record{}
	for _, r := range recs {
		if out[r.Partition] == nil {
			out[r.Partition] = map[int64]*kgo.Record{}
		}
		out[r.Partition][r.Offset] = r
	}
	return out
}

// readList reads topic to its end, in partition then offset order.
func readList(t *testing.T, brokers []string, topic string) []*kgo.Record {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	recs, err := harness.ReadToEnd(ctx, brokers, topic)
	if err != nil {
		t.Fatal(err)
	}
	slices.SortFunc(recs, func(a, b *kgo.Record) int {
		if a.Partition != b.Partition {
			return int(a.Partition - b.Partition)
		}
		return int(a.Offset - b.Offset)
	})
	return recs
}

// msTime formats t as eventguard's time headers do.
func msTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z07:00") }

// dlqWant is what a dead-letter record's eventguard.dlq.* headers must say.
type dlqWant struct {
	Reason   string
	SchemaID int // -1: no schema id header
	Subject  string
	Version  int // with Subject; "" means no subject/version headers
	Attempts int
	// ViolationPath, when set, must be the path of a violation.
	ViolationPath string
	// MessageHas are substrings of eventguard.dlq.message.
	MessageHas []string
}

// dlqHeaderOrder is every documented dead-letter header, in the order
// docs/consume.md lists them.
var dlqHeaderOrder = []string{
	"eventguard.dlq.topic", "eventguard.dlq.partition", "eventguard.dlq.offset", "eventguard.dlq.timestamp",
	"eventguard.dlq.reason", "eventguard.dlq.message", "eventguard.dlq.violations", "eventguard.dlq.schema_id",
	"eventguard.dlq.subject", "eventguard.dlq.schema_version", "eventguard.dlq.group", "eventguard.dlq.subscription",
	"eventguard.dlq.instance", "eventguard.dlq.failed_at", "eventguard.dlq.attempts",
}

// checkDLQ checks that got is the dead-letter copy of orig: key, value,
// headers and timestamp byte for byte, then exactly the documented
// eventguard.dlq.* headers with the values sub, want and the window
// [since, now] for failed_at say.
func checkDLQ(t *testing.T, got, orig *kgo.Record, sub subscription, want dlqWant, since time.Time) {
	t.Helper()
	where := fmt.Sprintf("dead-letter copy of %s/%d/%d (%s)", orig.Topic, orig.Partition, orig.Offset, want.Reason)
	if !bytes.Equal(got.Key, orig.Key) || (got.Key == nil) != (orig.Key == nil) {
		t.Errorf("%s: key %q, want %q", where, got.Key, orig.Key)
	}
	if !bytes.Equal(got.Value, orig.Value) {
		t.Errorf("%s: value\n got % x\nwant % x", where, got.Value, orig.Value)
	}
	if !got.Timestamp.Equal(orig.Timestamp) {
		t.Errorf("%s: timestamp %s, want the original %s", where, got.Timestamp, orig.Timestamp)
	}
	if len(got.Headers) < len(orig.Headers) {
		t.Fatalf("%s: %d headers, fewer than the original's %d", where, len(got.Headers), len(orig.Headers))
	}
	for i, h := range orig.Headers {
		if g := got.Headers[i]; g.Key != h.Key || !bytes.Equal(g.Value, h.Value) {
			t.Errorf("%s: header %d is %s=%q, want the original %s=%q", where, i, g.Key, g.Value, h.Key, h.Value)
		}
	}
	added := map[string]string{}
	var names []string
	for _, h := range got.Headers[len(orig.Headers):] {
		if _, dup := added[h.Key]; dup {
			t.Errorf("%s: header %s added twice", where, h.Key)
		}
		added[h.Key] = string(h.Value)
		names = append(names, h.Key)
	}
	var wantNames []string
	for _, n := range dlqHeaderOrder {
		switch {
		case n == "eventguard.dlq.schema_id" && want.SchemaID < 0:
		case (n == "eventguard.dlq.subject" || n == "eventguard.dlq.schema_version") && want.Subject == "":
		default:
			wantNames = append(wantNames, n)
		}
	}
	if !slices.Equal(names, wantNames) {
		t.Errorf("%s: added headers\n got %v\nwant %v", where, names, wantNames)
	}
	exact := map[string]string{
		"eventguard.dlq.topic":        orig.Topic,
		"eventguard.dlq.partition":    strconv.Itoa(int(orig.Partition)),
		"eventguard.dlq.offset":       strconv.FormatInt(orig.Offset, 10),
		"eventguard.dlq.timestamp":    msTime(orig.Timestamp),
		"eventguard.dlq.reason":       want.Reason,
		"eventguard.dlq.group":        sub.Group,
		"eventguard.dlq.subscription": sub.Name,
		"eventguard.dlq.instance":     sub.Instance,
		"eventguard.dlq.attempts":     strconv.Itoa(want.Attempts),
	}
	if want.SchemaID >= 0 {
		exact["eventguard.dlq.schema_id"] = strconv.Itoa(want.SchemaID)
	}
	if want.Subject != "" {
		exact["eventguard.dlq.subject"] = want.Subject
		exact["eventguard.dlq.schema_version"] = strconv.Itoa(want.Version)
	}
	for k, v := range exact {
		if g, ok := added[k]; !ok || g != v {
			t.Errorf("%s: %s = %q (present %v), want %q", where, k, g, ok, v)
		}
	}
	msg := added["eventguard.dlq.message"]
	if msg == "" || len(msg) > 1024 {
		t.Errorf("%s: eventguard.dlq.message %q: want 1 to 1024 bytes", where, msg)
	}
	for _, s := range want.MessageHas {
		if !strings.Contains(msg, s) {
			t.Errorf("%s: eventguard.dlq.message %q does not mention %q", where, msg, s)
		}
	}
	var vs []struct{ Path, Keyword, Message string }
	if err := json.Unmarshal([]byte(added["eventguard.dlq.violations"]), &vs); err != nil {
		t.Errorf("%s: eventguard.dlq.violations %q is not a JSON array of violations: %v", where, added["eventguard.dlq.violations"], err)
	}
	if want.ViolationPath != "" {
		found := false
		for _, v := range vs {
			found = found || (v.Path == want.ViolationPath && v.Keyword != "" && v.Message != "")
		}
		if !found {
			t.Errorf("%s: eventguard.dlq.violations %s has no violation at %s with keyword and message", where, added["eventguard.dlq.violations"], want.ViolationPath)
		}
	}
	if want.Reason != "schema_violation" && want.Reason != "malformed_json" && len(vs) != 0 {
		t.Errorf("%s: eventguard.dlq.violations %s, want []", where, added["eventguard.dlq.violations"])
	}
	at, err := time.Parse(time.RFC3339Nano, added["eventguard.dlq.failed_at"])
	if err != nil || added["eventguard.dlq.failed_at"] != msTime(at) {
		t.Errorf("%s: eventguard.dlq.failed_at %q is not RFC 3339 UTC with milliseconds (%v)", where, added["eventguard.dlq.failed_at"], err)
	} else if at.Before(since.Truncate(time.Millisecond)) || at.After(time.Now()) {
		t.Errorf("%s: eventguard.dlq.failed_at %s is outside the test's window [%s, now]", where, at, since)
	}
}

// deliveryWant is what a delivery of Rec must say in its headers.
type deliveryWant struct {
	Sub      subscription
	Rec      *kgo.Record
	Subject  string
	Version  int
	SchemaID int
	EventID  string // "" means no Eventguard-Event-Id header
	Feature  string // "" means no Eventguard-Feature header
	TraceID  string // when set, traceparent must continue it
}

// checkDelivery checks the key and metadata headers of delivery d.
func checkDelivery(t *testing.T, d delivery, w deliveryWant) {
	t.Helper()
	r := w.Rec
	want := map[string]string{
		"Content-Type":              "application/json",
		"Eventguard-Subscription":   w.Sub.Name,
		"Eventguard-Topic":          r.Topic,
		"Eventguard-Partition":      strconv.Itoa(int(r.Partition)),
		"Eventguard-Offset":         strconv.FormatInt(r.Offset, 10),
		"Eventguard-Timestamp":      msTime(r.Timestamp),
		"Eventguard-Subject":        w.Subject,
		"Eventguard-Schema-Version": strconv.Itoa(w.Version),
		"Eventguard-Schema-Id":      strconv.Itoa(w.SchemaID),
		"Eventguard-Event-Id":       w.EventID,
		"Eventguard-Feature":        w.Feature,
	}
	for k, v := range want {
		if g := d.Header.Get(k); g != v {
			t.Errorf("delivery of %s/%d/%d: %s = %q, want %q", r.Topic, r.Partition, r.Offset, k, g, v)
		}
	}
	if d.Key != string(r.Key) {
		t.Errorf("delivery of %s/%d/%d: key %q, want %q", r.Topic, r.Partition, r.Offset, d.Key, r.Key)
	}
	m := traceparentRe.FindStringSubmatch(d.Header.Get("traceparent"))
	if m == nil {
		t.Errorf("delivery of %s/%d/%d: traceparent %q is not W3C trace context", r.Topic, r.Partition, r.Offset, d.Header.Get("traceparent"))
	} else if w.TraceID != "" && m[1] != w.TraceID {
		t.Errorf("delivery of %s/%d/%d: traceparent %q does not continue the producer's trace %s", r.Topic, r.Partition, r.Offset, m[1], w.TraceID)
	}
}

// keys returns the keys of ds.
func keys(ds []delivery) []string {
	out := make([]string, len(ds))
	for i, d := range ds {
		out[i] = d.Key
	}
	return out
}

// badPet is a pets-value version 2 event whose net_weight_grams is a
// string: it breaks the schema at /net_weight_grams.
func badPet(petID string) []byte {
	return fmt.Appendf(nil, `{"event_type": "pet.weight.updated.v2", "pet_id": %q, "device_id": "bowl-7f3a",
  "net_weight_grams": "heavy", "tare_weight_grams": 380, "measured_at": "2026-11-02T08:15:00Z", "source": "sensor"}`, petID)
}

// A topic (one partition) holding valid records, produced through
// eventguard's HTTP ingress and framed by hand, interleaved with one poison
// record of each kind written around eventguard with a plain franz-go
// producer: raw JSON without the wire-format header, an unknown schema id,
// the header around text that is not JSON, and a schema violation.
//
//   - The app receives exactly the valid records, once each, in offset
//     order, with the JSON body byte for byte and every metadata header
//     (trace continued, event id and feature when the record has them, a
//     binary key in base64).
//   - <topic>.dlq holds exactly the poison records: key, value, headers and
//     timestamp byte for byte, then every documented eventguard.dlq.* header
//     with the right value (schema id, subject and version only where
//     known), attempts 0.
//   - The group commits every offset, and the loop keeps consuming: a
//     valid record and a poison one produced afterwards are delivered and
//     dead-lettered too.
func TestConsumeDeliversValidAndDeadLettersPoison(t *testing.T) {
	t.Parallel()
	brokers := kafkaBrokers(t)
	topic := harness.UniqueName("e2e-consume-poison")
	dlqTopic := topic + ".dlq"
	createTopic(t, brokers, topic, 1)
	app := newSink(t, always200)
	sub := newSubscription("poison", topic, app.url("/events"))
	e := startInstance(t, "sidecar", sub.yaml(), "")
	ss := e.copySubject(topic+"-value", "pets-value", 2)
	pr := newProducer(t, brokers)
	since := time.Now()

	const traceID = "4bf92f3577b34da6a3ce929d0e0e4736"
	ts := time.UnixMilli(1_790_000_000_123)
	ingress := func(key, id string) {
		e.mustPost(topic, []rec{{Key: key, ID: id, Value: petEvent(key, 4000), Headers: map[string]string{"x-origin": "ingress"}}},
			map[string]string{"Eventguard-Feature": "pet-scale", "traceparent": "00-" + traceID + "-b7ad6b7169203331-01"}, http.StatusOK)
	}
	franz := func(key []byte, value []byte, hs ...kgo.RecordHeader) {
		produceSync(t, pr, &kgo.Record{Topic: topic, Key: key, Value: value, Headers: hs, Timestamp: ts})
	}
	binKey := []byte{0x01, 0xfe, 'k', ' '}
	ingress("valid-0", "evt-valid-0")                                                                                          // 0
	franz([]byte("poison-raw"), petEvent("raw", 1), kgo.RecordHeader{Key: "x-poison", Value: []byte{'r', 0x00, 0xff}})         // 1 not_wire_format
	franz(binKey, wire(ss.ID, petEvent("valid-1", 4001)), kgo.RecordHeader{Key: "x-origin", Value: []byte("framed")})          // 2
	franz([]byte{0xff, 0x00, 'u'}, wire(987654, petEvent("unknown", 2)), kgo.RecordHeader{Key: "x-poison", Value: nil})        // 3 unknown_schema
	ingress("valid-2", "evt-valid-2")                                                                                          // 4
	franz(nil, wire(ss.ID, []byte(`{"pet_id": "pet-x", oops}`)))                                                               // 5 malformed_json
	ingress("valid-3", "evt-valid-3")                                                                                          // 6
	franz([]byte("poison-violation"), wire(ss.ID, badPet("violation")), kgo.RecordHeader{Key: "x-poison", Value: []byte("v")}) // 7 schema_violation
	franz([]byte("valid-4"), wire(ss.ID, petEvent("valid-4", 4004)))                                                           // 8

	app.waitOK(5, 30*time.Second)
	waitCount(t, brokers, dlqTopic, 4, 30*time.Second)
	waitCommitted(t, brokers, sub.Group, topic, map[int32]int64{0: 9}, 30*time.Second)

	src := readAll(t, brokers, topic)[0]
	if len(src) != 9 {
		t.Fatalf("%s holds %d records, want the 9 produced", topic, len(src))
	}
	all := app.all()
	wantKeys := []string{"valid-0", string(binKey), "valid-2", "valid-3", "valid-4"}
	if got := keys(all); !slices.Equal(got, wantKeys) {
		t.Fatalf("the app got %q, want exactly the valid records %q in order; %s", got, wantKeys, app.summary())
	}
	for i, off := range []int64{0, 2, 4, 6, 8} {
		d, r := all[i], src[off]
		if !d.ok() || d.Attempt != 1 || d.Path != "/events" {
			t.Errorf("delivery %d: %s, want answered 2xx at attempt 1 on /events", i, d)
		}
		if !bytes.Equal(d.Body, r.Value[5:]) {
			t.Errorf("delivery %d (offset %d): body %q, want the record's JSON %q", i, off, d.Body, r.Value[5:])
		}
		w := deliveryWant{Sub: sub, Rec: r, Subject: ss.Subject, Version: ss.Version, SchemaID: ss.ID}
		if strings.HasPrefix(string(r.Key), "valid-") && off != 8 {
			w.EventID, w.Feature, w.TraceID = "evt-"+string(r.Key), "pet-scale", traceID
		}
		checkDelivery(t, d, w)
	}
	if got := all[1].Header.Get("Eventguard-Key-Encoding"); got != "base64" {
		t.Errorf("delivery of the binary key: Eventguard-Key-Encoding %q, want base64", got)
	}

	dl := readList(t, brokers, dlqTopic)
	if len(dl) != 4 {
		t.Fatalf("%s holds %d records, want exactly the 4 poison records", dlqTopic, len(dl))
	}
	wants := map[int64]dlqWant{
		1: {Reason: "not_wire_format", SchemaID: -1, MessageHas: []string{"wire format"}},
		3: {Reason: "unknown_schema", SchemaID: 987654, MessageHas: []string{"987654"}},
		5: {Reason: "malformed_json", SchemaID: ss.ID, Subject: ss.Subject, Version: ss.Version},
		7: {Reason: "schema_violation", SchemaID: ss.ID, Subject: ss.Subject, Version: ss.Version, ViolationPath: "/net_weight_grams"},
	}
	seen := map[int64]bool{}
	for _, d := range dl {
		off, _ := strconv.ParseInt(headerOf(d, "eventguard.dlq.offset"), 10, 64)
		w, ok := wants[off]
		if !ok || seen[off] {
			t.Errorf("%s/%d/%d: dead-letter copy of offset %d, which is not a poison record (or is there twice)", dlqTopic, d.Partition, d.Offset, off)
			continue
		}
		seen[off] = true
		checkDLQ(t, d, src[off], sub, w, since)
	}

	// The loop goes on: a valid record and a poison one produced now.
	since = time.Now()
	ingress("valid-5", "evt-valid-5")                                                                               // 9
	franz([]byte("poison-late"), []byte(`not even json`), kgo.RecordHeader{Key: "x-poison", Value: []byte("late")}) // 10 not_wire_format
	franz([]byte("valid-6"), wire(ss.ID, petEvent("valid-6", 4006)))                                                // 11
	app.waitOK(7, 30*time.Second)
	waitCount(t, brokers, dlqTopic, 5, 30*time.Second)
	waitCommitted(t, brokers, sub.Group, topic, map[int32]int64{0: 12}, 30*time.Second)
	if got := keys(app.all()); !slices.Equal(got, append(wantKeys, "valid-5", "valid-6")) {
		t.Fatalf("after more records the app got %q; %s", got, app.summary())
	}
	dl = readList(t, brokers, dlqTopic)
	if len(dl) != 5 {
		t.Fatalf("%s holds %d records, want 5", dlqTopic, len(dl))
	}
	src = readAll(t, brokers, topic)[0]
	checkDLQ(t, dl[4], src[10], sub, dlqWant{Reason: "not_wire_format", SchemaID: -1}, since)
}

// headerOf returns the value of r's last header called name.
func headerOf(r *kgo.Record, name string) string {
	v, _ := harness.Header(r, name)
	return v
}

// The app answers 500 three times for one record, then 200; and 422 for
// another. On one partition:
//
//   - the app sees exactly: ok-0, flaky (500, 500, 500, then 200 at
//     attempts 1 to 4, spaced by at least the backoffs 50, 100, 200 ms),
//     ok-1, reject (422 at attempt 1), ok-2: the retried record is
//     delivered once, and nothing after it overtakes it;
//   - the dead-letter topic holds only the rejected record, as
//     rejected_by_app with attempts 1 and the app's status and body in the
//     message; the retried one is not dead-lettered;
//   - every offset is committed.
func TestConsumeRetriesThenDeliversAndDeadLettersRejected(t *testing.T) {
	t.Parallel()
	brokers := kafkaBrokers(t)
	topic := harness.UniqueName("e2e-consume-retry")
	dlqTopic := topic + ".dlq"
	createTopic(t, brokers, topic, 1)
	var mu sync.Mutex
	tries := map[string]int{}
	app := newSink(t, func(_ context.Context, d *delivery) (int, string) {
		mu.Lock()
		tries[d.Key]++
		n := tries[d.Key]
		mu.Unlock()
		switch {
		case d.Key == "flaky" && n <= 3:
			return http.StatusInternalServerError, "database is down"
		case d.Key == "reject":
			return http.StatusUnprocessableEntity, "pet-reject is unknown to this app"
		}
		return http.StatusOK, ""
	})
	sub := newSubscription("retry", topic, app.url("/events"))
	e := startInstance(t, "sidecar", sub.yaml(), "")
	ss := e.copySubject(topic+"-value", "pets-value", 2)
	since := time.Now()

	var recs []rec
	for _, k := range []string{"ok-0", "flaky", "ok-1", "reject", "ok-2"} {
		recs = append(recs, rec{Key: k, ID: "evt-" + k, Value: petEvent("pet-"+k, 4100)})
	}
	e.mustPost(topic, recs, nil, http.StatusOK)

	app.waitOK(4, 30*time.Second)
	waitCount(t, brokers, dlqTopic, 1, 30*time.Second)
	waitCommitted(t, brokers, sub.Group, topic, map[int32]int64{0: 5}, 30*time.Second)

	type step struct {
		key     string
		attempt int
		status  int
	}
	want := []step{{"ok-0", 1, 200}, {"flaky", 1, 500}, {"flaky", 2, 500}, {"flaky", 3, 500}, {"flaky", 4, 200}, {"ok-1", 1, 200}, {"reject", 1, 422}, {"ok-2", 1, 200}}
	all := app.all()
	var got []step
	for _, d := range all {
		got = append(got, step{d.Key, d.Attempt, d.Status})
	}
	if !slices.Equal(got, want) {
		t.Fatalf("the app saw\n %v\nwant\n %v\n%s", got, want, app.summary())
	}
	for i, backoff := range []time.Duration{50 * time.Millisecond, 100 * time.Millisecond, 200 * time.Millisecond} {
		if gap := all[i+2].At.Sub(all[i+1].At); gap < backoff*9/10 {
			t.Errorf("flaky attempt %d came %s after attempt %d, want at least the backoff %s", i+2, gap, i+1, backoff)
		}
	}
	src := readAll(t, brokers, topic)[0]
	for _, d := range all {
		if !bytes.Equal(d.Body, src[d.Offset].Value[5:]) {
			t.Errorf("%s: body %q, want %q", d, d.Body, src[d.Offset].Value[5:])
		}
	}
	checkDelivery(t, all[4], deliveryWant{Sub: sub, Rec: src[1], Subject: ss.Subject, Version: ss.Version, SchemaID: ss.ID, EventID: "evt-flaky", Feature: "e2e-consume"})

	dl := readList(t, brokers, dlqTopic)
	if len(dl) != 1 {
		t.Fatalf("%s holds %d records, want only the rejected one", dlqTopic, len(dl))
	}
	checkDLQ(t, dl[0], src[3], sub, dlqWant{
		Reason: "rejected_by_app", SchemaID: ss.ID, Subject: ss.Subject, Version: ss.Version, Attempts: 1,
		MessageHas: []string{"422", "pet-reject is unknown to this app"},
	}, since)
}

// Records the app refused (422) are dead-lettered as rejected_by_app; once
// the app is fixed, `eventguard dlq replay --from T.dlq --to T --brokers
// ... --registry ...`:
//
//   - with --dry-run reports "would replay" for the two rejected records
//     and "still fails" for a schema violation, exits 0, and produces
//     nothing (neither topic grows);
//   - without it replays the two (summary "replayed 2, still failing 1"):
//     they land in T with their key, value and headers, minus every
//     eventguard.dlq.* header, plus eventguard.replayed_from, and the
//     subscription delivers them to the app a second time, answered 200;
//   - the dead-letter topic is left as it was.
func TestConsumeReplayRejectedRecords(t *testing.T) {
	t.Parallel()
	brokers := kafkaBrokers(t)
	topic := harness.UniqueName("e2e-consume-replay")
	dlqTopic := topic + ".dlq"
	createTopic(t, brokers, topic, 1)
	var fixed atomic.Bool
	app := newSink(t, func(_ context.Context, d *delivery) (int, string) {
		if strings.HasPrefix(d.Key, "reject-") && !fixed.Load() {
			return http.StatusUnprocessableEntity, "not yet"
		}
		return http.StatusOK, ""
	})
	sub := newSubscription("replay", topic, app.url("/events"))
	e := startInstance(t, "sidecar", sub.yaml(), "")
	ss := e.copySubject(topic+"-value", "pets-value", 2)

	var recs []rec
	for _, k := range []string{"ok-0", "reject-1", "ok-2", "reject-3"} {
		recs = append(recs, rec{Key: k, ID: "evt-" + k, Value: petEvent("pet-"+k, 4200), Headers: map[string]string{"x-origin": "replay-test"}})
	}
	e.mustPost(topic, recs, nil, http.StatusOK)
	produceSync(t, newProducer(t, brokers), &kgo.Record{Topic: topic, Key: []byte("bad-4"), Value: wire(ss.ID, badPet("bad-4"))})

	app.waitOK(2, 30*time.Second)
	waitCount(t, brokers, dlqTopic, 3, 30*time.Second)
	waitCommitted(t, brokers, sub.Group, topic, map[int32]int64{0: 5}, 30*time.Second)
	if got := keys(app.delivered()); !slices.Equal(got, []string{"ok-0", "ok-2"}) {
		t.Fatalf("before the replay the app accepted %q, want [ok-0 ok-2]; %s", got, app.summary())
	}
	fixed.Store(true)

	replay := func(extra ...string) string {
		t.Helper()
		args := append([]string{"dlq", "replay", "--from", dlqTopic, "--to", topic, "--brokers", strings.Join(brokers, ","), "--registry", e.sc.Registry}, extra...)
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, binPath, args...)
		cmd.Env = withoutEventguardEnv()
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if err := cmd.Run(); err != nil {
			t.Fatalf("eventguard %s: %v\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), err, stdout.Bytes(), stderr.Bytes())
		}
		t.Logf("eventguard %s:\n%s", strings.Join(args[:2], " ")+" "+strings.Join(extra, " "), stdout.Bytes())
		return stdout.String()
	}
	checkLines := func(out, verb string) {
		t.Helper()
		for off, want := range map[int]string{0: "rejected_by_app\t" + verb, 1: "rejected_by_app\t" + verb, 2: "schema_violation\tstill fails"} {
			prefix := fmt.Sprintf("%s/0/%d\t", dlqTopic, off)
			if !regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(prefix+want)).MatchString(out) {
				t.Errorf("replay output has no line starting %q", prefix+want)
			}
		}
	}

	out := replay("--dry-run")
	checkLines(out, "would replay")
	if !strings.Contains(out, "read 3, would replay 2, still failing 1, skipped 0 (dry run: nothing produced)") {
		t.Errorf("dry-run summary missing or wrong:\n%s", out)
	}
	if n := mustCount(t, brokers, topic); n != 5 {
		t.Fatalf("after --dry-run %s holds %d records, want still 5", topic, n)
	}
	if n := mustCount(t, brokers, dlqTopic); n != 3 {
		t.Fatalf("after --dry-run %s holds %d records, want still 3", dlqTopic, n)
	}

	out = replay()
	checkLines(out, "replayed")
	if !strings.Contains(out, "read 3, replayed 2, still failing 1, skipped 0") {
		t.Errorf("replay summary missing or wrong:\n%s", out)
	}
	if n := mustCount(t, brokers, topic); n != 7 {
		t.Fatalf("after the replay %s holds %d records, want 5 + 2 replayed", topic, n)
	}
	app.waitOK(4, 30*time.Second)
	waitCommitted(t, brokers, sub.Group, topic, map[int32]int64{0: 7}, 30*time.Second)

	src := readAll(t, brokers, topic)[0]
	dl := readAll(t, brokers, dlqTopic)[0]
	for i, pair := range [][2]int64{{1, 5}, {3, 6}} { // original offset, replayed offset
		orig, again := src[pair[0]], src[pair[1]]
		if !bytes.Equal(again.Key, orig.Key) || !bytes.Equal(again.Value, orig.Value) {
			t.Errorf("replayed record %d: key %q value %q, want the original %q %q", i, again.Key, again.Value, orig.Key, orig.Value)
		}
		var wantHs []kgo.RecordHeader
		wantHs = append(wantHs, orig.Headers...)
		wantHs = append(wantHs, kgo.RecordHeader{Key: "eventguard.replayed_from", Value: fmt.Appendf(nil, "%s/0/%d", dlqTopic, i)})
		if !headersEqual(again.Headers, wantHs) {
			t.Errorf("replayed record %d: headers\n got %s\nwant %s", i, fmtHeaders(again.Headers), fmtHeaders(wantHs))
		}
		if got := headerOf(dl[int64(i)], "eventguard.dlq.offset"); got != strconv.FormatInt(pair[0], 10) {
			t.Errorf("%s/0/%d is the copy of offset %s, want %d", dlqTopic, i, got, pair[0])
		}
	}
	acc := app.delivered()
	if got := keys(acc); !slices.Equal(got, []string{"ok-0", "ok-2", "reject-1", "reject-3"}) {
		t.Fatalf("after the replay the app accepted %q, want [ok-0 ok-2 reject-1 reject-3]; %s", got, app.summary())
	}
	for i, off := range []int64{5, 6} {
		d := acc[2+i]
		if d.Offset != off || !bytes.Equal(d.Body, src[off].Value[5:]) {
			t.Errorf("replayed delivery %s: want offset %d with body %q", d, off, src[off].Value[5:])
		}
		checkDelivery(t, d, deliveryWant{Sub: sub, Rec: src[off], Subject: ss.Subject, Version: ss.Version, SchemaID: ss.ID, EventID: "evt-" + d.Key, Feature: "e2e-consume"})
	}
	if n := mustCount(t, brokers, dlqTopic); n != 3 {
		t.Errorf("after the replay %s holds %d records, want the 3 it had (replay never deletes; the replayed ones passed)", dlqTopic, n)
	}
}

func headersEqual(a, b []kgo.RecordHeader) bool {
	return slices.EqualFunc(a, b, func(x, y kgo.RecordHeader) bool { return x.Key == y.Key && bytes.Equal(x.Value, y.Value) })
}

func fmtHeaders(hs []kgo.RecordHeader) string {
	parts := make([]string, len(hs))
	for i, h := range hs {
		parts[i] = fmt.Sprintf("%s=%q", h.Key, h.Value)
	}
	return "[" + strings.Join(parts, " ") + "]"
}

// withoutEventguardEnv is the environment minus EVENTGUARD_* variables
// (eventguard refuses names that are no setting, and run-e2e.sh exports
// some).
func withoutEventguardEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "EVENTGUARD_") {
			env = append(env, kv)
		}
	}
	return env
}

// killLoad shapes TestConsumeGroupSurvivesKilledInstance.
const (
	killPartitions  = 4
	killBefore      = 200 // records produced before the kill
	killAfter       = 200 // records produced after it
	killCommitted   = 20  // B's deliveries answered, then committed, before ...
	killUncommitted = 10  // ... these are answered, and B is killed at once
)

// Two eventguard processes run the same subscription (one consumer group)
// on a 4-partition topic, sharing an in-process registry; each delivers to
// its own path of the sink (/a, /b). B has 20 deliveries answered; the app
// then holds B's next ones until B has committed those 20; then it answers
// 10 more and hangs the following ones, and B is killed with SIGKILL while
// they are in flight. More records are produced after the kill. The
// survivor A takes B's partitions over once the group expires B's session
// (subscriptions[].session_timeout: 6 s, the broker's minimum), starting
// from B's last commit.
//
//   - B's commit covers exactly what the app accepted: one past the last
//     record delivered on each of its partitions, nothing queued beyond;
//   - every record is delivered (answered 200) at least once;
//   - per partition, each instance delivered in increasing offset order;
//   - A delivered records of B's former partitions after the kill;
//   - the duplicates (records B delivered after its last commit) are
//     counted and logged;
//   - A still exits 0 on SIGTERM.
func TestConsumeGroupSurvivesKilledInstance(t *testing.T) {
	t.Parallel()
	brokers := kafkaBrokers(t)
	registry := sharedRegistry(t)
	topic := harness.UniqueName("e2e-consume-kill")
	createTopic(t, brokers, topic, killPartitions)

	pausedB, resumeB, dyingB := make(chan struct{}), make(chan struct{}), make(chan struct{})
	var pauseOnce, dyingOnce sync.Once
	var requestsB atomic.Int64
	app := newSink(t, func(ctx context.Context, d *delivery) (int, string) {
		if d.Path != "/b" {
			return http.StatusOK, ""
		}
		switch n := requestsB.Add(1); {
		case n <= killCommitted:
		case n <= killCommitted+killUncommitted:
			pauseOnce.Do(func() { close(pausedB) })
			select {
			case <-resumeB:
			case <-ctx.Done():
				return 0, ""
			}
		default:
			dyingOnce.Do(func() { close(dyingB) })
			<-ctx.Done() // hang until B dies
			return 0, ""
		}
		return http.StatusOK, ""
	})
	group := harness.UniqueName("e2e-kill-group")
	subA := subscription{Instance: "kill-a", Name: "kill-sub", Topic: topic, Group: group, URL: app.url("/a")}
	subB := subA
	subB.Instance, subB.URL = "kill-b", app.url("/b")
	a := startInstance(t, "instance A", subA.yaml(), registry)
	ss := a.copySubject(topic+"-value", "pets-value", 2)
	b := startInstance(t, "instance B", subB.yaml(), registry)

	pr := newProducer(t, brokers)
	produce := func(from, n int) {
		produceSync(t, pr, seqRecords(topic, ss.ID, from, n, killPartitions)...)
	}
	produce(0, killBefore)
	wait := func(ch chan struct{}, what string) {
		t.Helper()
		select {
		case <-ch:
		case <-time.After(60 * time.Second):
			t.Fatalf("%s never happened; %s", what, app.summary())
		}
	}
	wait(pausedB, fmt.Sprintf("instance B's delivery %d", killCommitted+1))
	nextB := map[int32]int64{}
	for _, d := range app.delivered() {
		if d.Path == "/b" {
			nextB[d.Partition] = max(nextB[d.Partition], d.Offset+1)
		}
	}
	waitCommitted(t, brokers, group, topic, nextB, 15*time.Second)
	close(resumeB)
	wait(dyingB, fmt.Sprintf("instance B's delivery %d", killCommitted+killUncommitted+1))
	killedAt := time.Now()
	b.sc.Kill() // SIGKILL, then wait for the process
	if err := b.sc.ExitErr(); err == nil || !strings.Contains(err.Error(), "killed") {
		t.Fatalf("instance B ended with %v, want killed by SIGKILL", err)
	}
	t.Logf("instance B killed with SIGKILL with %d deliveries in flight, %d answered after its commit %v", requestsB.Load()-killCommitted-killUncommitted, killUncommitted, nextB)
	produce(killBefore, killAfter)

	total := killBefore + killAfter
	unique := func() int {
		seen := map[string]bool{}
		for _, d := range app.delivered() {
			seen[d.Key] = true
		}
		return len(seen)
	}
	waitFor(t, 120*time.Second, fmt.Sprintf("all %d records delivered at least once", total), func() bool { return unique() >= total },
		func() string { return fmt.Sprintf("%d unique records delivered; %s", unique(), app.summary()) })

	count := map[string]int{}
	partsB := map[int32]bool{}
	last := map[string]int64{} // path/partition -> last offset delivered
	var takeover time.Time
	for _, d := range app.delivered() {
		count[d.Key]++
		k := fmt.Sprintf("%s/%d", d.Path, d.Partition)
		if prev, ok := last[k]; ok && d.Offset <= prev {
			t.Errorf("%s: offset %d delivered after %d by the same instance: out of order", k, d.Offset, prev)
		}
		last[k] = d.Offset
		if d.Path == "/b" {
			partsB[d.Partition] = true
		}
	}
	for _, d := range app.delivered() {
		if d.Path == "/a" && partsB[d.Partition] && d.At.After(killedAt) && takeover.IsZero() {
			takeover = d.At
		}
	}
	for i := range total {
		if key := seqKey(i); count[key] == 0 {
			t.Errorf("%s was never delivered", key)
		}
	}
	if len(partsB) == 0 || takeover.IsZero() {
		t.Fatalf("instance A never delivered records of B's partitions %v after the kill", partsB)
	}
	dups := 0
	for _, n := range count {
		dups += n - 1
	}
	t.Logf("B delivered on partitions %v; A took them over %s after the kill; %d deliveries for %d records: %d duplicates (delivered by B after its last commit)",
		slices.Sorted(maps.Keys(partsB)), takeover.Sub(killedAt).Round(time.Millisecond), len(app.delivered()), total, dups)
}

// SIGTERM while the subscription is consuming: eventguard is stopped while
// a delivery is in flight (the app holds its answer until the sidecar logs
// that it is stopping), on a 2-partition topic of 200 records.
//
//   - the process exits 0, without a warning that the subscriptions did
//     not stop cleanly;
//   - the held delivery was finished, and the group's committed offset of
//     each partition is exactly one past the last record the app accepted:
//     finished work committed, nothing committed that was not finished;
//   - a restarted instance in the same group resumes each partition at its
//     committed offset and delivers every remaining record once, in order:
//     every record is delivered at least once overall (duplicates logged).
func TestConsumeSIGTERMThenRestartSkipsNothing(t *testing.T) {
	t.Parallel()
	brokers := kafkaBrokers(t)
	registry := sharedRegistry(t)
	topic := harness.UniqueName("e2e-consume-sigterm")
	const parts, perPart, holdAt = 2, 100, 60
	createTopic(t, brokers, topic, parts)

	held := make(chan struct{})
	release := make(chan struct{})
	var served atomic.Int64
	var heldRec [2]int64 // partition, offset of the delivery held across SIGTERM
	app := newSink(t, func(ctx context.Context, d *delivery) (int, string) {
		if d.Path == "/first" {
			if served.Add(1) == holdAt {
				heldRec = [2]int64{int64(d.Partition), d.Offset}
				close(held)
				select {
				case <-release:
				case <-ctx.Done():
				}
				return http.StatusOK, ""
			}
			time.Sleep(3 * time.Millisecond) // a slow app: the stream is still going at SIGTERM
		}
		return http.StatusOK, ""
	})
	group := harness.UniqueName("e2e-sigterm-group")
	sub1 := subscription{Instance: "sigterm-1", Name: "sigterm-sub", Topic: topic, Group: group, URL: app.url("/first")}
	sub2 := sub1
	sub2.Instance, sub2.URL = "sigterm-2", app.url("/second")
	first := startInstance(t, "first instance", sub1.yaml(), registry)
	ss := first.copySubject(topic+"-value", "pets-value", 2)

	produceSync(t, newProducer(t, brokers), seqRecords(topic, ss.ID, 0, parts*perPart, parts)...)

	select {
	case <-held:
	case <-time.After(60 * time.Second):
		t.Fatalf("the app never got delivery %d; %s", holdAt, app.summary())
	}
	if err := first.sc.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 30*time.Second, "the first instance to log that it is stopping", func() bool {
		b, _ := os.ReadFile(first.sc.LogPath)
		return bytes.Contains(b, []byte("msg=stopping"))
	}, nil)
	close(release)
	if err := first.sc.Wait(30 * time.Second); err != nil {
		t.Fatalf("SIGTERM during consumption: %v", err)
	}
	if log, _ := os.ReadFile(first.sc.LogPath); bytes.Contains(log, []byte("did not stop cleanly")) {
		t.Errorf("the first instance warned that its subscriptions did not stop cleanly")
	}

	lastOK := map[int32]int64{}
	for _, d := range app.all() {
		if d.Path != "/first" {
			continue
		}
		if !d.ok() {
			t.Errorf("before SIGTERM: %s, want every delivery answered 200 (the held one too)", d)
			continue
		}
		lastOK[d.Partition] = max(lastOK[d.Partition], d.Offset+1)
	}
	com, err := committed(brokers, group, topic)
	if err != nil {
		t.Fatal(err)
	}
	for p := range int32(parts) {
		if com[p] != lastOK[p] {
			t.Errorf("partition %d: committed offset %d after SIGTERM, want %d (one past the last record the app accepted)", p, com[p], lastOK[p])
		}
	}
	heldOK := false
	for _, d := range app.all() {
		if d.Path == "/first" && int64(d.Partition) == heldRec[0] && d.Offset == heldRec[1] {
			heldOK = d.ok()
		}
	}
	if !heldOK || com[int32(heldRec[0])] <= heldRec[1] {
		t.Errorf("the delivery in flight at SIGTERM (%s/%d/%d) was not finished and committed (answered 200: %v; committed %v)", topic, heldRec[0], heldRec[1], heldOK, com)
	}
	t.Logf("after SIGTERM: the first instance had %d deliveries answered, committed %v", len(app.delivered()), com)

	startInstance(t, "second instance", sub2.yaml(), registry)
	total := parts * perPart
	app.waitOK(total, 60*time.Second)
	waitCommitted(t, brokers, group, topic, map[int32]int64{0: perPart, 1: perPart}, 30*time.Second)

	count := map[string]int{}
	next := map[int32]int64{}
	resumed := map[int32]bool{}
	for _, d := range app.delivered() {
		count[d.Key]++
		if d.Path != "/second" {
			continue
		}
		if !resumed[d.Partition] {
			resumed[d.Partition] = true
			next[d.Partition] = com[d.Partition]
		}
		if d.Offset != next[d.Partition] {
			t.Errorf("second instance: partition %d offset %d, want %d (resume at the commit, in order, nothing skipped)", d.Partition, d.Offset, next[d.Partition])
		}
		next[d.Partition] = d.Offset + 1
	}
	for i := range total {
		if key := seqKey(i); count[key] == 0 {
			t.Errorf("%s was never delivered", key)
		}
	}
	dups := len(app.delivered()) - len(count)
	t.Logf("the second instance delivered %d records from the commits %v; %d deliveries for %d records: %d duplicates", len(app.delivered())-int(served.Load()), com, len(app.delivered()), total, dups)
}

// Records produced with Confluent's own Python JSONSerializer (the producer
// of test/interop: use.latest.version, no auto-registration) pass
// eventguard's consume path: a subscription delivers every one to the app,
// in order, with the payload bytes Confluent wrote (after its 5-byte
// header) as the body and the schema id from that header, and dead-letters
// nothing.
func TestConsumeConfluentPythonRecords(t *testing.T) {
	t.Parallel()
	py := pythonWithConfluent(t)
	brokers := kafkaBrokers(t)
	topic := harness.UniqueName("e2e-consume-py")
	createTopic(t, brokers, topic, 1)
	app := newSink(t, always200)
	sub := newSubscription("py", topic, app.url("/events"))
	e := startInstance(t, "sidecar", sub.yaml(), "")
	ss := e.copySubject(topic+"-value", "pets-value", 2)

	dir := t.TempDir()
	outPath := filepath.Join(dir, "produced.json")
	spec := map[string]any{
		"brokers":      strings.Join(brokers, ","),
		"registry_url": e.sc.Registry,
		"consume":      []any{},
		"produce":      map[string]any{"topic": topic, "subject": topic + "-value", "count": 5, "out": outPath},
	}
	specPath := filepath.Join(dir, "interop-spec.json")
	b, _ := json.Marshal(spec)
	if err := os.WriteFile(specPath, b, 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, py, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-rA", "test/interop/test_confluent_interop.py", "-k", "test_json_serializer_records_are_produced")
	cmd.Dir = rootDir
	cmd.Env = append(os.Environ(), "INTEROP_SPEC="+specPath, "PYTHONDONTWRITEBYTECODE=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("pytest (Confluent's JSONSerializer producing to %s) failed: %v\n%s", topic, err, out)
	}
	if s := pytestSummary(out); !regexp.MustCompile(`^1 passed, \d+ deselected in `).MatchString(s) {
		t.Fatalf("pytest: want the one producer test passed, got %q:\n%s", s, out)
	}
	var produced []struct {
		Key       string `json:"key"`
		Value     string `json:"value"` // hex
		Partition int32  `json:"partition"`
		Offset    int64  `json:"offset"`
	}
	pb, err := os.ReadFile(outPath)
	if err == nil {
		err = json.Unmarshal(pb, &produced)
	}
	if err != nil || len(produced) != 5 {
		t.Fatalf("what the Python producer wrote (%s): %d records, %v", outPath, len(produced), err)
	}

	app.waitOK(5, 30*time.Second)
	waitCommitted(t, brokers, sub.Group, topic, map[int32]int64{0: 5}, 30*time.Second)
	src := readAll(t, brokers, topic)[0]
	all := app.all()
	if len(all) != 5 {
		t.Fatalf("the app got %d requests, want the 5 records; %s", len(all), app.summary())
	}
	for i, p := range produced {
		d := all[i]
		value, err := hex.DecodeString(p.Value)
		if err != nil || len(value) < 5 {
			t.Fatalf("produced record %d: value %q: %v", i, p.Value, err)
		}
		if id := int(value[1])<<24 | int(value[2])<<16 | int(value[3])<<8 | int(value[4]); value[0] != 0 || id != ss.ID {
			t.Errorf("record %s: Confluent framed it as % x, want magic 0 and schema id %d", p.Key, value[:5], ss.ID)
		}
		if !d.ok() || d.Key != p.Key || d.Offset != p.Offset || !bytes.Equal(d.Body, value[5:]) {
			t.Errorf("delivery %d: %s body %q, want key %s offset %d body %q answered 200", i, d, d.Body, p.Key, p.Offset, value[5:])
		}
		checkDelivery(t, d, deliveryWant{Sub: sub, Rec: src[p.Offset], Subject: ss.Subject, Version: ss.Version, SchemaID: ss.ID})
	}
	if n := mustCount(t, brokers, topic+".dlq"); n != 0 {
		t.Errorf("%s.dlq holds %d records, want none", topic, n)
	}
}
