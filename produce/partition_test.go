package produce_test

import (
	"context"
	"testing"
	"time"

	"github.com/eventguard/eventguard/internal/testutil"
	"github.com/eventguard/eventguard/produce"
)

// TestChosenPartitionAndTimestamp: a record with PartitionSet lands in that
// partition whatever its key, one with a Timestamp keeps it; a partition
// the topic lacks fails that record alone as partition_not_found (404),
// a negative one is refused before producing (invalid_partition, 400).
func TestChosenPartitionAndTimestamp(t *testing.T) {
	t.Parallel()
	st := testutil.Start(t)
	st.CreateTopic(t, "pets", 3)
	p := st.Pipeline(t, petsConfig(st, t), produce.Options{})
	v := petV2(t)
	ts := time.Date(2021, 2, 5, 19, 14, 42, 0, time.UTC)

	// The same key, three chosen partitions: the key no longer decides.
	req := &produce.Request{Topic: "pets", Partial: true, Records: []produce.Record{
		{Key: []byte("k"), Value: v, Partition: 2, PartitionSet: true, Timestamp: ts},
		{Key: []byte("k"), Value: v, Partition: 0, PartitionSet: true},
		{Key: []byte("k"), Value: v, Partition: 1, PartitionSet: true},
		{Key: []byte("k"), Value: v, Partition: 7, PartitionSet: true},
		{Key: []byte("k"), Value: v},
	}}
	before := time.Now().Add(-time.Second)
	resp := p.Produce(context.Background(), req)
	for i, want := range []int32{2, 0, 1} {
		r := resp.Results[i]
		if !r.Produced || r.Partition != want {
			t.Errorf("results[%d]: produced %v in partition %d, want partition %d (%+v)", i, r.Produced, r.Partition, want, r.Err)
		}
	}
	if got := resp.Results[0].Timestamp; !got.Equal(ts) {
		t.Errorf("results[0].Timestamp = %v, want the one given, %v", got, ts)
	}
	if got := resp.Results[1].Timestamp; got.Before(before) || got.After(time.Now().Add(time.Second)) {
		t.Errorf("results[1].Timestamp = %v, want about now", got)
	}
	if e := resp.Results[3].Err; resp.Results[3].Produced || e == nil || e.Code != produce.CodePartitionNotFound || e.Kind != produce.KindNotFound {
		t.Errorf("partition 7 of 3: %+v, want partition_not_found", resp.Results[3])
	} else if e.Message != `topic "pets" has no partition 7 (it has 3)` {
		t.Errorf("partition_not_found message %q", e.Message)
	}
	if !resp.Results[4].Produced {
		t.Errorf("a record without a chosen partition: %+v", resp.Results[4].Err)
	}
	recs := st.Records(t, "pets")
	if len(recs) != 4 {
		t.Fatalf("%d records in pets, want 4", len(recs))
	}
	found := false
	for _, r := range recs {
		if r.Partition == 2 && r.Offset == resp.Results[0].Offset {
			found = true
			if !r.Timestamp.Equal(ts) {
				t.Errorf("the record has timestamp %v in Kafka, want %v", r.Timestamp, ts)
			}
		}
	}
	if !found {
		t.Errorf("no record at partition 2 offset %d", resp.Results[0].Offset)
	}

	resp = p.Produce(context.Background(), &produce.Request{Topic: "pets", Records: []produce.Record{{Value: v, Partition: -1, PartitionSet: true}}})
	if resp.Err == nil || resp.Err.Code != produce.CodeInvalidPartition || resp.Err.Kind != produce.KindBadRequest {
		t.Errorf("partition -1: %+v, want invalid_partition", resp.Err)
	}
	if n := st.Count("pets"); n != 4 {
		t.Errorf("%d records after the refused one, want 4", n)
	}
}
