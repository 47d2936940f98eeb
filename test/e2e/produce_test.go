package e2e

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"regexp"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eventguard/eventguard/test/e2e/harness"
)

// A valid batch is acknowledged with 200 only once it is in Kafka, and a
// franz-go consumer group reads back every record: key as given, value the
// Confluent wire format (magic 0, the schema id, the JSON byte for byte as
// sent, white space included), at the partition and offset the answer named.
func TestValidBatchIsReadBackByConsumerGroup(t *testing.T) {
	e := start(t, "")
	topic, ss := e.topic("e2e-valid", "pets-value", 2)

	var recs []rec
	for i := range 5 {
		r := rec{Key: fmt.Sprintf("pet-%d", i), Value: petEvent(fmt.Sprintf("pet-%d", i), 4000+i)}
		if i%2 == 0 {
			r.ID = fmt.Sprintf("valid-evt-%d", i)
		}
		recs = append(recs, r)
	}
	// One golden payload as it is in examples/, too.
	recs = append(recs, rec{Key: "pet-golden", Value: golden(t, "pets-value/2/valid/typical.json")})

	resp := e.mustPost(topic, recs, nil, http.StatusOK)
	if len(resp.Results) != len(recs) {
		t.Fatalf("%d results for %d records: %+v", len(resp.Results), len(recs), resp.Results)
	}
	byKey := map[string]produceResult{}
	for i, res := range resp.Results {
		if res.Index != i || res.Error != nil || res.Partition == nil || res.Offset == nil {
			t.Fatalf("result %d: %+v", i, res)
		}
		if res.Subject != topic+"-value" || res.SchemaID != ss.ID || res.SchemaVersion != ss.Version {
			t.Errorf("result %d names %s version %d id %d, want %s version %d id %d", i, res.Subject, res.SchemaVersion, res.SchemaID, topic+"-value", ss.Version, ss.ID)
		}
		if recs[i].ID != "" && res.EventID != recs[i].ID {
			t.Errorf("result %d event_id %q, want the given %q", i, res.EventID, recs[i].ID)
		}
		byKey[recs[i].Key] = res
	}

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	got, err := harness.ConsumeGroup(ctx, e.brokers, topic, harness.UniqueName("e2e-group"), len(recs))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(recs) {
		t.Fatalf("consumed %d records, want %d", len(got), len(recs))
	}
	sent := map[string]rec{}
	for _, r := range recs {
		sent[r.Key] = r
	}
	for _, r := range got {
		want, ok := sent[string(r.Key)]
		if !ok {
			t.Errorf("unexpected record with key %q at %d/%d", r.Key, r.Partition, r.Offset)
			continue
		}
		delete(sent, string(r.Key))
		if w := wire(ss.ID, want.Value); !bytes.Equal(r.Value, w) {
			t.Errorf("key %s: value\n got % x\nwant % x", r.Key, r.Value, w)
		}
		res := byKey[string(r.Key)]
		if r.Partition != *res.Partition || r.Offset != *res.Offset {
			t.Errorf("key %s is at %d/%d, the answer said %d/%d", r.Key, r.Partition, r.Offset, *res.Partition, *res.Offset)
		}
		if id, _ := harness.Header(r, "eventguard.event_id"); id != res.EventID {
			t.Errorf("key %s: event id header %q, answer said %q", r.Key, id, res.EventID)
		}
	}
	for k := range sent {
		t.Errorf("record with key %q was acknowledged but not consumed", k)
	}
}

// An invalid batch is refused with 422 and nothing of it reaches Kafka: the
// topic's high watermark stays 0, and the next valid record lands at offset 0.
// Validation is all or nothing, so one bad record keeps the good ones out too.
func TestInvalidBatchLeavesTopicEmpty(t *testing.T) {
	e := start(t, "")
	topic, _ := e.topic("e2e-invalid", "pets-value", 2)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := harness.CreateTopic(ctx, e.brokers, topic, 1); err != nil {
		t.Fatal(err)
	}

	weightAsString := []byte(`{"event_type":"pet.weight.updated.v2","pet_id":"pet-1","device_id":"bowl-7f3a","net_weight_grams":"4210","tare_weight_grams":380,"measured_at":"2026-11-02T08:15:00Z","source":"sensor"}`)
	mixed := []rec{
		{Key: "pet-0", Value: petEvent("pet-0", 4000)},
		{Key: "pet-1", Value: weightAsString},
		{Key: "pet-2", Value: petEvent("pet-2", 4200)},
	}
	resp := e.mustPost(topic, mixed, nil, http.StatusUnprocessableEntity)
	if resp.Error == nil || resp.Error.Code != "invalid_records" {
		t.Errorf("error %+v, want code invalid_records", resp.Error)
	}
	if len(resp.Results) != 3 || resp.Results[1].Error == nil || resp.Results[0].Error != nil || resp.Results[2].Error != nil {
		t.Fatalf("results %+v: want an error on index 1 only", resp.Results)
	}
	if v := resp.Results[1].Error.Violations; len(v) == 0 || v[0].Path != "/net_weight_grams" {
		t.Errorf("violations %+v, want one at /net_weight_grams", v)
	}
	for _, res := range resp.Results {
		if res.Offset != nil {
			t.Errorf("result %d has offset %d though nothing may be produced", res.Index, *res.Offset)
		}
	}

	allBad := []rec{
		{Key: "pet-3", Value: weightAsString},
		{Key: "pet-4", Value: []byte(`{"event_type":"pet.weight.updated.v2","pet_id":"pet-4"}`)},
	}
	e.mustPost(topic, allBad, nil, http.StatusUnprocessableEntity)

	ends, err := harness.EndOffsets(ctx, e.brokers, topic)
	if err != nil {
		t.Fatal(err)
	}
	if ends[0] != 0 {
		t.Fatalf("high watermark of %s is %d after two refused batches, want 0", topic, ends[0])
	}

	// Produced later in the same partition, a valid record lands at offset 0:
	// nothing from the refused batches was left in the producer either.
	ok := e.mustPost(topic, []rec{{Key: "pet-5", Value: petEvent("pet-5", 4500)}}, nil, http.StatusOK)
	if o := ok.Results[0].Offset; o == nil || *o != 0 {
		t.Fatalf("first valid record after the refused batches is at offset %v, want 0", o)
	}
	if ends, err = harness.EndOffsets(ctx, e.brokers, topic); err != nil {
		t.Fatal(err)
	}
	if ends[0] != 1 {
		t.Fatalf("high watermark %d after one valid record, want 1", ends[0])
	}
}

var traceparentRe = regexp.MustCompile(`^00-([0-9a-f]{32})-([0-9a-f]{16})-[0-9a-f]{2}$`)

// Every record carries the stamped headers: traceparent (the caller's trace
// continued, or a new one), tracestate as sent, eventguard.feature (the
// Eventguard-Feature request header, else the configured default),
// eventguard.event_id (given, else a generated UUIDv7), eventguard.subject
// and eventguard.schema_version; the caller's own headers are kept, and a
// caller may not forge a stamped one.
func TestStampedHeaders(t *testing.T) {
	e := start(t, "")
	topic, ss := e.topic("e2e-headers", "pets-value", 2)
	const traceID = "4bf92f3577b34da6a3ce929d0e0e4736"

	traced := e.mustPost(topic, []rec{
		{Key: "h-0", Value: petEvent("pet-0", 4000), ID: "hdr-evt-0", Headers: map[string]string{"x-origin": "e2e", "a-first": "1"}},
		{Key: "h-1", Value: petEvent("pet-1", 4100)},
	}, map[string]string{
		"traceparent":        "00-" + traceID + "-00f067aa0ba902b7-01",
		"tracestate":         "vendor=opaque",
		"Eventguard-Feature": "weight-sync",
	}, http.StatusOK)
	plain := e.mustPost(topic, []rec{{Key: "h-2", Value: petEvent("pet-2", 4200)}}, nil, http.StatusOK)

	forged := e.mustPost(topic, []rec{{Key: "h-3", Value: petEvent("pet-3", 4300), Headers: map[string]string{"eventguard.feature": "someone-else"}}}, nil, http.StatusBadRequest)
	if forged.Error == nil || len(forged.Results) != 1 || forged.Results[0].Error == nil || forged.Results[0].Error.Code != "reserved_header" {
		t.Errorf("forged stamped header: answer %+v, want reserved_header on record 0", forged)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	got, err := harness.ConsumeGroup(ctx, e.brokers, topic, harness.UniqueName("e2e-group"), 3)
	if err != nil {
		t.Fatal(err)
	}
	byKey := map[string]*kgo.Record{}
	for _, r := range got {
		byKey[string(r.Key)] = r
	}
	version := fmt.Sprint(ss.Version)
	check := func(key string, want map[string]string) *kgo.Record {
		t.Helper()
		r := byKey[key]
		if r == nil {
			t.Fatalf("no record with key %s among %d consumed", key, len(got))
		}
		for name, v := range want {
			if g, ok := harness.Header(r, name); !ok || g != v {
				t.Errorf("%s: header %s = %q (present %v), want %q", key, name, g, ok, v)
			}
		}
		return r
	}

	r0 := check("h-0", map[string]string{
		"x-origin": "e2e", "a-first": "1", "tracestate": "vendor=opaque",
		"eventguard.feature": "weight-sync", "eventguard.event_id": "hdr-evt-0",
		"eventguard.subject": topic + "-value", "eventguard.schema_version": version,
	})
	r1 := check("h-1", map[string]string{
		"eventguard.feature": "weight-sync", "eventguard.event_id": traced.Results[1].EventID,
		"eventguard.subject": topic + "-value", "eventguard.schema_version": version,
	})
	r2 := check("h-2", map[string]string{
		"eventguard.feature": "dev", "eventguard.event_id": plain.Results[0].EventID,
		"eventguard.subject": topic + "-value", "eventguard.schema_version": version,
	})
	for _, r := range []*kgo.Record{r0, r1} {
		tp, _ := harness.Header(r, "traceparent")
		if m := traceparentRe.FindStringSubmatch(tp); m == nil || m[1] != traceID {
			t.Errorf("%s: traceparent %q does not continue trace %s", r.Key, tp, traceID)
		}
	}
	tp, _ := harness.Header(r2, "traceparent")
	if m := traceparentRe.FindStringSubmatch(tp); m == nil || m[1] == traceID || m[1] == "00000000000000000000000000000000" {
		t.Errorf("h-2 (no trace sent): traceparent %q, want a new valid trace", tp)
	}
	for _, r := range []*kgo.Record{r1, r2} {
		id, _ := harness.Header(r, "eventguard.event_id")
		if u, err := uuid.Parse(id); err != nil || u.Version() != 7 {
			t.Errorf("%s: generated event id %q is not a UUIDv7 (%v)", r.Key, id, err)
		}
	}
	if _, ok := harness.Header(r2, "tracestate"); ok {
		t.Errorf("h-2 has a tracestate header though none was sent")
	}
}
