package consume

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/sr"

	"github.com/eventguard/eventguard/dlq"
	"github.com/eventguard/eventguard/kafka"
)

func valid(i int) string { return fmt.Sprintf(`{"pet_id":"p%d","weight_grams":%d}`, i, 1000+i) }

// TestPoisonRecordsAreDeadLettered: valid records interleaved with each kind
// of poison record. The app gets exactly the valid ones, in order; the DLQ
// gets exactly the poison ones, original bytes intact and every header
// filled; the loop keeps consuming afterwards.
func TestPoisonRecordsAreDeadLettered(t *testing.T) {
	e := newEnv(t, map[string]int32{"pets": 1, "pets.dlq": 1})
	obs := &countingObserver{}

	type poison struct {
		reason     string
		value      []byte
		schemaID   string // "" when the header must be absent
		subject    bool   // subject and version headers present
		violations bool   // a non-empty violations array
	}
	poisons := []poison{
		{reason: dlq.ReasonNotWireFormat, value: []byte(valid(99))},
		{reason: dlq.ReasonUnknownSchema, value: framed(999, valid(99)), schemaID: "999"},
		{reason: dlq.ReasonMalformedJSON, value: framed(1, `{"pet_id": nope`), schemaID: "1", subject: true, violations: true},
		{reason: dlq.ReasonSchemaViolation, value: framed(1, `{"pet_id":"p","weight_grams":-5}`), schemaID: "1", subject: true, violations: true},
		// Issue 10, item 3: another subject's schema id is not the topic's contract.
		{reason: dlq.ReasonWrongSubject, value: framed(50, valid(99)), schemaID: "50", subject: true},
	}
	e.reg.SeedSchema("decoy-value", 1, 50, sr.Schema{Type: sr.TypeJSON, Schema: `{"type":"object"}`})
	// valid, poison, valid, poison, ..., valid
	var (
		rs         []*kgo.Record
		wantBodies []string
		poisonAt   = map[int64]poison{}
	)
	base := time.UnixMilli(1_700_000_000_000)
	for i := 0; i <= len(poisons); i++ {
		v := valid(i)
		rs = append(rs, rec("pets", 0, fmt.Sprintf("pet-%d", i), framed(1, v), kgo.RecordHeader{Key: "origin", Value: []byte("test")}))
		wantBodies = append(wantBodies, v)
		if i < len(poisons) {
			poisonAt[int64(len(rs))] = poisons[i]
			rs = append(rs, rec("pets", 0, fmt.Sprintf("bad-%d", i), poisons[i].value,
				kgo.RecordHeader{Key: "origin", Value: []byte("test")},
				kgo.RecordHeader{Key: "binary", Value: []byte{0xff, 0x00, 0xfe}}))
		}
	}
	for i, r := range rs {
		r.Timestamp = base.Add(time.Duration(i) * time.Millisecond)
	}
	e.produce(rs...)

	e.start(e.sub("analytics", "pets"), func(o *Options) { o.Observer = obs })

	got := e.sink.waitN(len(wantBodies), 10*time.Second)
	var bodies []string
	for _, d := range got {
		bodies = append(bodies, d.Body)
	}
	if !slices.Equal(bodies, wantBodies) {
		t.Fatalf("app got\n%q\nwant, in order,\n%q", bodies, wantBodies)
	}

	dead := e.readTopic("pets.dlq", len(poisons), 10*time.Second)
	if len(dead) != len(poisons) {
		t.Fatalf("DLQ holds %d records, want %d", len(dead), len(poisons))
	}
	for _, d := range dead {
		orig, ok := dlq.ReadOriginal(d)
		if !ok {
			t.Fatalf("DLQ record without reason: %v", d.Headers)
		}
		want, ok := poisonAt[orig.Offset]
		if !ok {
			t.Fatalf("DLQ record for offset %d, which is not poison", orig.Offset)
		}
		delete(poisonAt, orig.Offset)
		src := rs[orig.Offset]
		if !bytes.Equal(d.Key, src.Key) || !bytes.Equal(d.Value, src.Value) || !d.Timestamp.Equal(src.Timestamp) {
			t.Errorf("offset %d: key/value/timestamp changed: %q %q %v, want %q %q %v", orig.Offset, d.Key, d.Value, d.Timestamp, src.Key, src.Value, src.Timestamp)
		}
		if len(d.Headers) < len(src.Headers) {
			t.Fatalf("offset %d: headers lost: %v", orig.Offset, d.Headers)
		}
		for i, h := range src.Headers {
			if d.Headers[i].Key != h.Key || !bytes.Equal(d.Headers[i].Value, h.Value) {
				t.Errorf("offset %d: header %d is %q=%q, want %q=%q", orig.Offset, i, d.Headers[i].Key, d.Headers[i].Value, h.Key, h.Value)
			}
		}
		added := map[string]string{}
		for _, h := range d.Headers[len(src.Headers):] {
			added[h.Key] = string(h.Value)
		}
		check := func(name, wantV string) {
			t.Helper()
			if added[name] != wantV {
				t.Errorf("offset %d (%s): %s = %q, want %q", orig.Offset, want.reason, name, added[name], wantV)
			}
		}
		check(dlq.HeaderTopic, "pets")
		check(dlq.HeaderPartition, "0")
		check(dlq.HeaderOffset, strconv.FormatInt(orig.Offset, 10))
		check(dlq.HeaderTimestamp, src.Timestamp.UTC().Format(dlq.TimeFormat))
		check(dlq.HeaderReason, want.reason)
		check(dlq.HeaderGroup, "analytics")
		check(dlq.HeaderSubscription, "analytics")
		check(dlq.HeaderInstance, "test-instance")
		check(dlq.HeaderAttempts, "0")
		if added[dlq.HeaderMessage] == "" {
			t.Errorf("offset %d: empty message", orig.Offset)
		}
		if ts, err := time.Parse(time.RFC3339, added[dlq.HeaderFailedAt]); err != nil || time.Since(ts) > time.Minute {
			t.Errorf("offset %d: failed_at %q", orig.Offset, added[dlq.HeaderFailedAt])
		}
		var vs []dlq.Violation
		mustJSON(t, []byte(added[dlq.HeaderViolations]), &vs)
		if want.violations != (len(vs) > 0) {
			t.Errorf("offset %d (%s): violations %s", orig.Offset, want.reason, added[dlq.HeaderViolations])
		}
		for _, v := range vs {
			if v.Keyword == "" || v.Message == "" {
				t.Errorf("offset %d: incomplete violation %+v", orig.Offset, v)
			}
		}
		if id, ok := added[dlq.HeaderSchemaID]; ok != (want.schemaID != "") || id != want.schemaID {
			t.Errorf("offset %d (%s): schema_id %q (present %v), want %q", orig.Offset, want.reason, id, ok, want.schemaID)
		}
		if _, ok := added[dlq.HeaderSubject]; ok != want.subject {
			t.Errorf("offset %d (%s): subject present %v, want %v", orig.Offset, want.reason, ok, want.subject)
		}
		if want.subject && want.reason == dlq.ReasonWrongSubject {
			check(dlq.HeaderSubject, "decoy-value") // the subject it does carry
			check(dlq.HeaderSchemaVersion, "1")
		} else if want.subject {
			check(dlq.HeaderSubject, "pets-value")
			check(dlq.HeaderSchemaVersion, "1")
		}
	}
	if len(poisonAt) > 0 {
		t.Fatalf("poison records missing from the DLQ: %v", poisonAt)
	}

	// Still consuming: more records arrive.
	e.produce(rec("pets", 0, "late", framed(1, valid(100))))
	e.sink.waitFor(10*time.Second, "the late record", func(ds []delivery) bool { return ds[len(ds)-1].Body == valid(100) })
	eventually(t, 5*time.Second, "commit of every offset", func() bool {
		return e.committed("analytics", "pets", 1)[0] == int64(len(rs)+1)
	})
	delivered, _, dl := obs.snapshot()
	if delivered != len(wantBodies)+1 {
		t.Errorf("observer: %d delivered, want %d", delivered, len(wantBodies)+1)
	}
	for _, p := range poisons {
		if dl[p.reason] != 1 {
			t.Errorf("observer: %d dead-lettered as %s, want 1", dl[p.reason], p.reason)
		}
	}
	if n := len(e.sink.deliveries()); n != len(wantBodies)+1 {
		t.Errorf("app got %d deliveries, want %d (no duplicates)", n, len(wantBodies)+1)
	}
}

// TestDeliveryHeaders: the app gets the metadata headers and the producer's
// trace continued.
func TestDeliveryHeaders(t *testing.T) {
	e := newEnv(t, map[string]int32{"pets": 1})
	const producerTrace = "4bf92f3577b34da6a3ce929d0e0e4736"
	hs := []kgo.RecordHeader{
		{Key: kafka.HeaderTraceparent, Value: []byte("00-" + producerTrace + "-00f067aa0ba902b7-01")},
		{Key: kafka.HeaderEventID, Value: []byte("evt-1")},
		{Key: kafka.HeaderFeature, Value: []byte("weight-sync")},
		{Key: "origin", Value: []byte("bowl-firmware")},
		{Key: "origin", Value: []byte("bowl-firmware-2")},
		{Key: "tenant_id", Value: []byte("cafe-12")},
	}
	ts := time.UnixMilli(1_700_000_000_123)
	r1 := rec("pets", 0, "pet-42", framed(1, valid(1)), hs...)
	r1.Timestamp = ts
	r2 := rec("pets", 0, "", framed(1, valid(2)))
	r2.Key = []byte{0xff, 0x01}
	e.produce(r1, r2)
	e.start(e.sub("headers", "pets"))
	ds := e.sink.waitN(2, 10*time.Second)

	h := ds[0].Header
	for name, want := range map[string]string{
		"Content-Type":      "application/json",
		HeaderSubscription:  "headers",
		HeaderTopic:         "pets",
		HeaderPartition:     "0",
		HeaderOffset:        "0",
		HeaderTimestamp:     "2023-11-14T22:13:20.123Z",
		HeaderKey:           "pet-42",
		HeaderSubject:       "pets-value",
		HeaderSchemaVersion: "1",
		HeaderSchemaID:      "1",
		HeaderEventID:       "evt-1",
		HeaderFeature:       "weight-sync",
		HeaderAttempt:       "1",
		HeaderRecordHeaders: `{"origin":"bowl-firmware-2","tenant_id":"cafe-12"}`,
	} {
		if got := h.Get(name); got != want {
			t.Errorf("%s = %q, want %q", name, got, want)
		}
	}
	if h.Get(HeaderKeyEncoding) != "" {
		t.Errorf("a printable key got %s %q", HeaderKeyEncoding, h.Get(HeaderKeyEncoding))
	}
	if got := ds[1].Header.Get(HeaderRecordHeaders); got != "" {
		t.Errorf("a record without headers of its own got %s %q", HeaderRecordHeaders, got)
	}
	tp := strings.Split(h.Get("Traceparent"), "-")
	if len(tp) != 4 || tp[1] != producerTrace || tp[2] == "00f067aa0ba902b7" {
		t.Errorf("traceparent %q does not continue trace %s with a span of its own", h.Get("Traceparent"), producerTrace)
	}
	if ds[0].Body != valid(1) {
		t.Errorf("body %q, want the JSON without the wire-format header", ds[0].Body)
	}

	h = ds[1].Header
	if h.Get(HeaderKey) != "/wE=" || h.Get(HeaderKeyEncoding) != "base64" {
		t.Errorf("binary key: %s %q, %s %q", HeaderKey, h.Get(HeaderKey), HeaderKeyEncoding, h.Get(HeaderKeyEncoding))
	}
	if h.Get(HeaderEventID) != "" || h.Get(HeaderFeature) != "" {
		t.Errorf("absent event id / feature sent as %q / %q", h.Get(HeaderEventID), h.Get(HeaderFeature))
	}
	if tp := strings.Split(h.Get("Traceparent"), "-"); len(tp) != 4 || tp[1] == producerTrace {
		t.Errorf("a record without trace context should start a new trace, got %q", h.Get("Traceparent"))
	}
}

// TestAppRetriesThenAccepts: 500 three times, then 200. Delivered once, in
// order, nothing dead-lettered.
func TestAppRetriesThenAccepts(t *testing.T) {
	e := newEnv(t, map[string]int32{"pets": 1, "pets.dlq": 1})
	var fails atomic.Int32
	e.sink.setAnswer(func(d delivery) int {
		if d.Offset == 1 && fails.Add(1) <= 3 {
			return http.StatusInternalServerError
		}
		return http.StatusOK
	})
	obs := &countingObserver{}
	for i := 0; i < 4; i++ {
		e.produce(rec("pets", 0, "k", framed(1, valid(i))))
	}
	e.start(e.sub("retry", "pets"), func(o *Options) { o.Observer = obs })
	ds := e.sink.waitN(4, 10*time.Second)
	for i, d := range ds {
		if d.Offset != int64(i) {
			t.Fatalf("delivery %d is offset %d: out of order or duplicated: %+v", i, d.Offset, ds)
		}
	}
	if ds[1].Attempt != 4 {
		t.Errorf("offset 1 accepted at attempt %d, want 4", ds[1].Attempt)
	}
	eventually(t, 5*time.Second, "commit", func() bool { return e.committed("retry", "pets", 1)[0] == 4 })
	if n := e.endOffset("pets.dlq", 0); n != 0 {
		t.Errorf("%d records dead-lettered, want none", n)
	}
	if delivered, retried, _ := obs.snapshot(); delivered != 4 || retried != 3 {
		t.Errorf("observer: delivered %d retried %d, want 4 and 3", delivered, retried)
	}
}

// TestAppRejects: a 422 dead-letters the record as rejected_by_app at once;
// an app that always answers 500 dead-letters it as delivery_exhausted after
// retry.attempts; the records after each are delivered in order.
func TestAppRejects(t *testing.T) {
	for _, tc := range []struct {
		status   int
		reason   string
		attempts int
	}{
		{http.StatusUnprocessableEntity, dlq.ReasonRejectedByApp, 1},
		{http.StatusBadRequest, dlq.ReasonRejectedByApp, 1},
		{http.StatusInternalServerError, dlq.ReasonDeliveryExhausted, 3},
		{http.StatusTooManyRequests, dlq.ReasonDeliveryExhausted, 3},
	} {
		t.Run(strconv.Itoa(tc.status), func(t *testing.T) {
			e := newEnv(t, map[string]int32{"pets": 1, "pets.dlq": 1})
			var tries atomic.Int32
			e.sink.setAnswer(func(d delivery) int {
				if d.Key == "refused" {
					tries.Add(1)
					return tc.status
				}
				return http.StatusOK
			})
			e.produce(
				rec("pets", 0, "a", framed(1, valid(0))),
				rec("pets", 0, "refused", framed(1, valid(1))),
				rec("pets", 0, "b", framed(1, valid(2))),
			)
			s := e.sub("reject", "pets")
			s.Retry.Attempts = 3
			e.start(s)
			ds := e.sink.waitN(2, 10*time.Second)
			if ds[0].Offset != 0 || ds[1].Offset != 2 {
				t.Fatalf("app accepted offsets %d, %d; want 0, 2", ds[0].Offset, ds[1].Offset)
			}
			dead := e.readTopic("pets.dlq", 1, 10*time.Second)
			orig, _ := dlq.ReadOriginal(dead[0])
			if orig.Reason != tc.reason || orig.Offset != 1 {
				t.Fatalf("DLQ: reason %q offset %d, want %q offset 1", orig.Reason, orig.Offset, tc.reason)
			}
			if got, _ := kafka.Header(dead[0].Headers, dlq.HeaderAttempts); got != strconv.Itoa(tc.attempts) {
				t.Errorf("attempts header %q, want %d", got, tc.attempts)
			}
			if got, _ := kafka.Header(dead[0].Headers, dlq.HeaderSubject); got != "pets-value" {
				t.Errorf("subject header %q", got)
			}
			if !strings.Contains(orig.Message, strconv.Itoa(tc.status)) {
				t.Errorf("message %q does not name HTTP %d", orig.Message, tc.status)
			}
			if n := tries.Load(); int(n) != tc.attempts {
				t.Errorf("the app saw %d attempts, want %d", n, tc.attempts)
			}
			eventually(t, 5*time.Second, "commit", func() bool { return e.committed("reject", "pets", 1)[0] == 3 })
		})
	}
}

// TestDLQUnwritable: while the DLQ topic refuses writes, the partition waits
// and nothing is committed past the failing record; after recovery every
// record arrives: nothing lost, nothing skipped.
func TestDLQUnwritable(t *testing.T) {
	e := newEnv(t, map[string]int32{"pets": 1, "pets.dlq": 1})
	dlqID := e.cluster.TopicInfo("pets.dlq").TopicID
	const failures = 6
	var calls atomic.Int32
	e.cluster.ControlKey(int16(kmsg.Produce), func(kreq kmsg.Request) (kmsg.Response, error, bool) {
		e.cluster.KeepControl()
		req := kreq.(*kmsg.ProduceRequest)
		for _, t := range req.Topics {
			if t.Topic != "pets.dlq" && t.TopicID != dlqID {
				return nil, nil, false
			}
		}
		if calls.Add(1) > failures {
			return nil, nil, false
		}
		resp := req.ResponseKind().(*kmsg.ProduceResponse)
		for _, t := range req.Topics {
			rt := kmsg.NewProduceResponseTopic()
			rt.Topic, rt.TopicID = t.Topic, t.TopicID
			for _, p := range t.Partitions {
				rp := kmsg.NewProduceResponseTopicPartition()
				rp.Partition = p.Partition
				rp.ErrorCode = kerr.TopicAuthorizationFailed.Code
				rt.Partitions = append(rt.Partitions, rp)
			}
			resp.Topics = append(resp.Topics, rt)
		}
		return resp, nil, true
	})

	// 0 valid, 1 poison, 2..9 valid.
	e.produce(rec("pets", 0, "k0", framed(1, valid(0))), rec("pets", 0, "k1", []byte("not framed")))
	for i := 2; i < 10; i++ {
		e.produce(rec("pets", 0, fmt.Sprintf("k%d", i), framed(1, valid(i))))
	}
	s := e.sub("dlqdown", "pets")
	s.Retry = configRetry(30*time.Millisecond, 100*time.Millisecond)
	e.start(s)

	// While the DLQ refuses, the commit never passes offset 1.
	eventually(t, 10*time.Second, "two refused DLQ writes", func() bool { return calls.Load() >= 2 })
	for calls.Load() < failures {
		if c := e.committed("dlqdown", "pets", 1)[0]; c > 1 {
			t.Fatalf("committed %d while the DLQ write of offset 1 fails", c)
		}
		time.Sleep(20 * time.Millisecond)
	}

	ds := e.sink.waitN(9, 10*time.Second)
	seen := map[int64]int{}
	for _, d := range ds {
		seen[d.Offset]++
	}
	for i := int64(0); i < 10; i++ {
		if i != 1 && seen[i] != 1 {
			t.Errorf("offset %d delivered %d times, want once", i, seen[i])
		}
	}
	dead := e.readTopic("pets.dlq", 1, 10*time.Second)
	if orig, _ := dlq.ReadOriginal(dead[0]); orig.Offset != 1 || orig.Reason != dlq.ReasonNotWireFormat {
		t.Errorf("DLQ holds offset %d (%s), want offset 1", orig.Offset, orig.Reason)
	}
	eventually(t, 5*time.Second, "commit of everything", func() bool { return e.committed("dlqdown", "pets", 1)[0] == 10 })
	t.Logf("%d DLQ produce requests refused before recovery", min(calls.Load(), failures))
}

// TestSlowPartitionDoesNotBlockOthers: partition 0's app handler blocks;
// partition 1's records keep arriving.
func TestSlowPartitionDoesNotBlockOthers(t *testing.T) {
	e := newEnv(t, map[string]int32{"pets": 2})
	release := make(chan struct{})
	e.sink.setAnswer(func(d delivery) int {
		if d.Partition == 0 {
			<-release
		}
		return http.StatusOK
	})
	const n = 60
	for i := 0; i < n; i++ {
		e.produce(rec("pets", 0, "slow", framed(1, valid(i))), rec("pets", 1, "fast", framed(1, valid(i))))
	}
	s := e.sub("slow", "pets")
	s.MaxInFlight = 12 // far fewer than the records: the budget must be shared
	s.Deliver.Timeout = 30 * time.Second
	e.start(s)

	e.sink.waitFor(10*time.Second, "all of partition 1", func(ds []delivery) bool {
		c := 0
		for _, d := range ds {
			if d.Partition == 1 {
				c++
			}
		}
		return c == n
	})
	for _, d := range e.sink.deliveries() {
		if d.Partition == 0 {
			t.Fatalf("partition 0 delivered while its app handler blocks")
		}
	}
	close(release)
	ds := e.sink.waitN(2*n, 10*time.Second)
	next := map[int32]int64{}
	for _, d := range ds {
		if d.Offset != next[d.Partition] {
			t.Fatalf("partition %d: offset %d delivered, want %d", d.Partition, d.Offset, next[d.Partition])
		}
		next[d.Partition]++
	}
}

// TestTwoInstancesOneKilled: two loops in one group, one killed mid-stream:
// every record is delivered at least once.
func TestTwoInstancesOneKilled(t *testing.T) {
	e := newEnv(t, map[string]int32{"pets": 4})
	e.sink.setAnswer(func(delivery) int {
		time.Sleep(3 * time.Millisecond) // slow enough to kill mid-stream
		return http.StatusOK
	})
	const perPartition = 150
	var rs []*kgo.Record
	for i := 0; i < perPartition; i++ {
		for p := int32(0); p < 4; p++ {
			rs = append(rs, rec("pets", p, fmt.Sprintf("k%d", p), framed(1, valid(i))))
		}
	}
	e.produce(rs...)

	s := e.sub("pair", "pets")
	fast := func(o *Options) {
		o.CommitInterval = 250 * time.Millisecond
		o.ClientOpts = []kgo.Opt{kgo.SessionTimeout(6 * time.Second), kgo.HeartbeatInterval(200 * time.Millisecond)}
	}
	a := e.start(s, fast)
	b := e.start(s, fast)
	eventually(t, 15*time.Second, "both members joined", func() bool { return a.Joined() && b.Joined() })

	e.sink.waitN(len(rs)/3, 20*time.Second)
	a.mu.Lock()
	held := len(a.parts)
	a.mu.Unlock()
	a.crash()
	t.Logf("instance a (holding %d partitions) killed after %d deliveries; committed then: %v", held, len(e.sink.deliveries()), e.committed("pair", "pets", 4))

	type key struct {
		p int32
		o int64
	}
	ds := e.sink.waitFor(30*time.Second, "every record", func(ds []delivery) bool {
		seen := map[key]bool{}
		for _, d := range ds {
			seen[key{d.Partition, d.Offset}] = true
		}
		return len(seen) == len(rs)
	})
	count := map[key]int{}
	dups := 0
	for _, d := range ds {
		count[key{d.Partition, d.Offset}]++
		if count[key{d.Partition, d.Offset}] > 1 {
			dups++
		}
	}
	for p := int32(0); p < 4; p++ {
		for o := int64(0); o < perPartition; o++ {
			if count[key{p, o}] == 0 {
				t.Errorf("partition %d offset %d never delivered", p, o)
			}
		}
	}
	t.Logf("%d records, %d deliveries, %d duplicates (at-least-once after the kill)", len(rs), len(ds), dups)
	eventually(t, 10*time.Second, "commits by the survivor", func() bool {
		c := e.committed("pair", "pets", 4)
		for p := int32(0); p < 4; p++ {
			if c[p] != perPartition {
				return false
			}
		}
		return true
	})
}

// TestCloseAbandonsInFlight: a delivery still running at the end of the
// grace period is abandoned uncommitted, and delivered again by the next
// loop of the group.
func TestCloseAbandonsInFlight(t *testing.T) {
	e := newEnv(t, map[string]int32{"pets": 1})
	block := make(chan struct{})
	var once sync.Once
	e.sink.setAnswer(func(d delivery) int {
		if d.Offset == 1 {
			once.Do(func() { <-block })
		}
		return http.StatusOK
	})
	for i := 0; i < 3; i++ {
		e.produce(rec("pets", 0, "k", framed(1, valid(i))))
	}
	s := e.sub("closing", "pets")
	s.Deliver.Timeout = 30 * time.Second
	l := e.start(s)
	e.sink.waitN(1, 10*time.Second)
	time.Sleep(100 * time.Millisecond) // offset 1 is now in the app's hands

	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	start := time.Now()
	if err := l.Close(ctx); err != nil {
		t.Fatalf("close: %v", err)
	}
	// Bounded by the 1s grace period, not by the 30s delivery timeout
	// (slack for a loaded CI machine).
	if took := time.Since(start); took > 10*time.Second {
		t.Errorf("close took %s: waited for the delivery, not the 1s grace period", took)
	}
	close(block)
	if c := e.committed("closing", "pets", 1)[0]; c != 1 {
		t.Fatalf("committed %d after close, want 1 (offset 0 done, offset 1 abandoned)", c)
	}

	// The app answered the abandoned attempt after all (it cannot know the
	// sidecar gave up), so offset 1 arrives twice: at-least-once.
	e.start(s)
	ds := e.sink.waitN(4, 10*time.Second)
	if ds[2].Offset != 1 || ds[3].Offset != 2 {
		t.Errorf("after restart the app got offsets %d, %d; want 1, 2", ds[2].Offset, ds[3].Offset)
	}
}

// panicky is a Deliverer that panics for one key.
type panicky struct{ next Deliverer }

func (p panicky) Deliver(ctx context.Context, d *Delivery) error {
	if string(d.Key) == "boom" {
		panic("transport bug")
	}
	return p.next.Deliver(ctx, d)
}

// TestPanicIsDeadLettered: a panic while handling one record dead-letters it
// and the loop goes on.
func TestPanicIsDeadLettered(t *testing.T) {
	e := newEnv(t, map[string]int32{"pets": 1, "pets.dlq": 1})
	e.produce(
		rec("pets", 0, "a", framed(1, valid(0))),
		rec("pets", 0, "boom", framed(1, valid(1))),
		rec("pets", 0, "b", framed(1, valid(2))),
	)
	e.start(e.sub("panic", "pets"), func(o *Options) { o.Deliverer = panicky{NewHTTPDeliverer(e.sink.srv.URL, nil)} })
	ds := e.sink.waitN(2, 10*time.Second)
	if ds[0].Offset != 0 || ds[1].Offset != 2 {
		t.Fatalf("app got offsets %d, %d", ds[0].Offset, ds[1].Offset)
	}
	dead := e.readTopic("pets.dlq", 1, 10*time.Second)
	orig, _ := dlq.ReadOriginal(dead[0])
	if orig.Offset != 1 || orig.Reason != dlq.ReasonDeliveryExhausted || !strings.Contains(orig.Message, "transport bug") {
		t.Errorf("DLQ: %+v", orig)
	}
}

// TestRegistryDownIsNotPoison: while the registry is unavailable, the record
// waits instead of being dead-lettered.
func TestRegistryDownIsNotPoison(t *testing.T) {
	e := newEnv(t, map[string]int32{"pets": 1, "pets.dlq": 1})
	var down atomic.Bool
	down.Store(true)
	var refused atomic.Int32
	e.reg.Intercept(func(w http.ResponseWriter, r *http.Request) bool {
		if down.Load() {
			refused.Add(1)
			http.Error(w, `{"error_code":50001,"message":"down"}`, http.StatusServiceUnavailable)
			return true
		}
		return false
	})
	e.produce(rec("pets", 0, "k", framed(1, valid(0))))
	s := e.sub("regdown", "pets")
	s.Retry = configRetry(20*time.Millisecond, 50*time.Millisecond)
	e.start(s)
	eventually(t, 10*time.Second, "the loop asking the registry", func() bool { return refused.Load() >= 3 })
	if n := len(e.sink.deliveries()); n != 0 {
		t.Fatalf("%d deliveries without a schema", n)
	}
	down.Store(false)
	e.sink.waitN(1, 10*time.Second)
	if n := e.endOffset("pets.dlq", 0); n != 0 {
		t.Errorf("%d records dead-lettered during the registry outage", n)
	}
}

// unreachableDeliverer fails the first n deliveries as if the app were
// not there, then hands them to next.
type unreachableDeliverer struct {
	mu   sync.Mutex
	left int
	next Deliverer
}

func (u *unreachableDeliverer) Deliver(ctx context.Context, d *Delivery) error {
	u.mu.Lock()
	if u.left > 0 {
		u.left--
		u.mu.Unlock()
		return fmt.Errorf("dial: %w", ErrAppUnavailable)
	}
	u.mu.Unlock()
	return u.next.Deliver(ctx, d)
}

// TestAppUnavailableWaits: an app that cannot be reached for longer than
// retry.attempts does not turn the record into a dead letter; it is
// delivered once the app is back, in order, on attempt 1.
func TestAppUnavailableWaits(t *testing.T) {
	e := newEnv(t, map[string]int32{"pets": 1})
	e.produce(rec("pets", 0, "a", framed(1, valid(1))), rec("pets", 0, "b", framed(1, valid(2))))
	s := e.sub("absent-app", "pets") // 5 attempts
	u := &unreachableDeliverer{left: 12, next: NewHTTPDeliverer(e.sink.srv.URL, nil)}
	obs := &countingObserver{}
	e.start(s, func(o *Options) { o.Deliverer = u; o.Observer = obs })
	ds := e.sink.waitN(2, 10*time.Second)
	if ds[0].Body != valid(1) || ds[1].Body != valid(2) {
		t.Fatalf("delivered out of order: %q, %q", ds[0].Body, ds[1].Body)
	}
	if got := ds[0].Header.Get(HeaderAttempt); got != "1" {
		t.Errorf("first delivery reached the app as attempt %s; waiting for the app must not spend attempts", got)
	}
	if _, _, dl := obs.snapshot(); len(dl) != 0 {
		t.Errorf("dead-lettered while the app was unreachable: %v", dl)
	}
}

// TestHTTPDelivererUnreachable: a refused connection is ErrAppUnavailable;
// an answer from the app is not.
func TestHTTPDelivererUnreachable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	d := &Delivery{Subscription: "s", Topic: "t", Value: []byte(`{}`), Attempt: 1}
	err = NewHTTPDeliverer("http://"+addr+"/events", nil).Deliver(context.Background(), d)
	if !errors.Is(err, ErrAppUnavailable) {
		t.Fatalf("refused connection: %v, want ErrAppUnavailable", err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(503) }))
	defer srv.Close()
	if err := NewHTTPDeliverer(srv.URL, nil).Deliver(context.Background(), d); err == nil || errors.Is(err, ErrAppUnavailable) {
		t.Fatalf("503 from the app: %v, want a retryable error that is not ErrAppUnavailable", err)
	}
}

// retryAfterDeliverer answers the first delivery of every record with a
// retried error asking for a wait, then hands over to next; it notes when
// each attempt came.
type retryAfterDeliverer struct {
	mu    sync.Mutex
	delay time.Duration
	at    map[int64][]time.Time
	next  Deliverer
}

func (r *retryAfterDeliverer) Deliver(ctx context.Context, d *Delivery) error {
	r.mu.Lock()
	r.at[d.Offset] = append(r.at[d.Offset], time.Now())
	first := d.Attempt == 1
	r.mu.Unlock()
	if first {
		return &StatusError{URL: "test", Code: http.StatusServiceUnavailable, RetryAfter: r.delay}
	}
	return r.next.Deliver(ctx, d)
}

// TestRetryAfterHonoured: an app asking for 400 ms gets the record again
// no sooner (the backoff alone would be 10 ms); one asking for an hour gets
// it after retry.max_backoff, not an hour.
func TestRetryAfterHonoured(t *testing.T) {
	for _, tc := range []struct {
		name     string
		delay    time.Duration
		maxWait  time.Duration // retry.max_backoff
		minSpace time.Duration
	}{
		{"shorter than max_backoff", 400 * time.Millisecond, 5 * time.Second, 400 * time.Millisecond},
		{"capped by max_backoff", time.Hour, 300 * time.Millisecond, 300 * time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, map[string]int32{"pets": 1, "pets.dlq": 1})
			e.produce(rec("pets", 0, "a", framed(1, valid(1))))
			s := e.sub("retry-after", "pets")
			s.Retry.MaxBackoff = tc.maxWait
			rd := &retryAfterDeliverer{delay: tc.delay, at: map[int64][]time.Time{}, next: NewHTTPDeliverer(e.sink.srv.URL, nil)}
			e.start(s, func(o *Options) { o.Deliverer = rd })
			ds := e.sink.waitN(1, 20*time.Second)
			if ds[0].Attempt != 2 {
				t.Errorf("delivered on attempt %d, want 2", ds[0].Attempt)
			}
			rd.mu.Lock()
			at := rd.at[0]
			rd.mu.Unlock()
			if len(at) != 2 {
				t.Fatalf("%d attempts, want 2", len(at))
			}
			if space := at[1].Sub(at[0]); space < tc.minSpace {
				t.Errorf("second attempt %s after the first, want at least %s", space, tc.minSpace)
			}
		})
	}
}
