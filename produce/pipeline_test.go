package produce_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/sr"

	"github.com/eventguard/eventguard/check"
	"github.com/eventguard/eventguard/config"
	"github.com/eventguard/eventguard/internal/testutil"
	"github.com/eventguard/eventguard/produce"
	"github.com/eventguard/eventguard/validate"
)

func petV2(t testing.TB) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "examples", "contracts", "pets-value", "2", "valid", "typical.json"))
	if err != nil {
		t.Fatal(err)
	}
	return bytes.TrimSpace(b)
}

func petsConfig(st *testutil.Stack, t testing.TB) *config.Config {
	t.Helper()
	return st.Config(t, func(c *config.Config) { c.Topics = []config.Topic{{Name: "pets"}} })
}

// TestPipelineProduce calls the pipeline directly (no transport) and checks
// the Response a transport encodes.
func TestPipelineProduce(t *testing.T) {
	t.Parallel()
	st := testutil.Start(t)
	st.CreateTopic(t, "pets", 3)
	p := st.Pipeline(t, petsConfig(st, t), produce.Options{})
	v := petV2(t)
	req := &produce.Request{Topic: "pets", Records: make([]produce.Record, 100)}
	for i := range req.Records {
		req.Records[i] = produce.Record{Key: []byte{byte(i)}, Value: v}
	}
	resp := p.Produce(context.Background(), req)
	if resp.Err != nil {
		t.Fatalf("Produce: %+v", resp.Err)
	}
	if req.Feature != "default" {
		t.Errorf("request feature = %q, want the config default filled in", req.Feature)
	}
	seen := map[string]bool{}
	prev := ""
	offsets := map[int32]map[int64]bool{}
	for i, r := range resp.Results {
		if r.Index != i || !r.Produced || r.Err != nil || r.Subject != "pets-value" || r.SchemaVersion != 2 || r.SchemaID != st.ID(t, "pets-value", 2) {
			t.Fatalf("results[%d] = %+v", i, r)
		}
		u, err := uuid.Parse(r.EventID)
		if err != nil || u.Version() != 7 {
			t.Errorf("results[%d].EventID = %q, want a UUIDv7", i, r.EventID)
		}
		if seen[r.EventID] || r.EventID <= prev {
			t.Errorf("event id %q repeats or is not after %q: UUIDv7s are unique and ordered", r.EventID, prev)
		}
		seen[r.EventID], prev = true, r.EventID
		if offsets[r.Partition] == nil {
			offsets[r.Partition] = map[int64]bool{}
		}
		if offsets[r.Partition][r.Offset] {
			t.Errorf("partition %d offset %d answered twice", r.Partition, r.Offset)
		}
		offsets[r.Partition][r.Offset] = true
	}
	if n := st.Count("pets"); n != 100 {
		t.Errorf("%d records in pets, want 100", n)
	}
}

// TestPipelineClose: Close refuses new requests at once and waits for the
// admitted ones to be answered, which here wait for their acknowledgement
// (kfake holds every Produce request until released).
func TestPipelineClose(t *testing.T) {
	t.Parallel()
	st := testutil.Start(t)
	st.CreateTopic(t, "pets", 1)
	arrived := make(chan struct{}, 1)
	release := make(chan struct{})
	st.Cluster.ControlKey(int16(kmsg.Produce), func(kmsg.Request) (kmsg.Response, error, bool) {
		select {
		case arrived <- struct{}{}:
		default:
		}
		st.Cluster.SleepControl(func() { <-release })
		return nil, nil, false // then answer it normally
	})
	p := st.Pipeline(t, petsConfig(st, t), produce.Options{})
	req := func() *produce.Request {
		return &produce.Request{Topic: "pets", Records: []produce.Record{{Value: petV2(t)}}}
	}
	done := make(chan *produce.Response, 1)
	go func() { done <- p.Produce(context.Background(), req()) }()
	select {
	case <-arrived:
	case <-time.After(10 * time.Second):
		t.Fatal("the Produce request never reached the broker")
	}

	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := p.Close(ctx); err == nil || !strings.Contains(err.Error(), "drain produce requests") {
		t.Errorf("Close while a request waits for its ack = %v, want a drain deadline error", err)
	}
	if r := p.Produce(context.Background(), req()); r.Err == nil || r.Err.Code != produce.CodeShuttingDown ||
		r.Err.Kind != produce.KindUnavailable || r.Err.RetryAfter != time.Second {
		t.Errorf("after Close: %+v, want 503 shutting_down with Retry-After 1s", r.Err)
	}
	close(release)
	if r := <-done; r.Err != nil || !r.Results[0].Produced {
		t.Errorf("the admitted request: %+v %+v, want produced", r.Err, r.Results)
	}
	if err := p.Close(context.Background()); err != nil {
		t.Errorf("Close after the drain: %v", err)
	}
}

func TestRegistryMetadataDeprecation(t *testing.T) {
	t.Parallel()
	st := testutil.Start(t)
	st.CreateTopic(t, "legacy", 1)
	if _, _, err := st.Registry.RegisterSchema("legacy-value", sr.Schema{Type: sr.TypeJSON, Schema: `{"type":"object"}`,
		SchemaMetadata: &sr.SchemaMetadata{Properties: map[string]string{check.MetadataSunset: "2026-01-01", check.MetadataAfterSunset: "reject"}}}); err != nil {
		t.Fatal(err)
	}
	cfg := st.Config(t, func(c *config.Config) { c.Topics = []config.Topic{{Name: "legacy"}} })
	p := st.Pipeline(t, cfg, produce.Options{Checker: st.Checker(t, validate.Options{}, check.NewDeprecations(nil, testutil.Discard(), func() time.Time {
		return time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	}))})
	resp := p.Produce(context.Background(), &produce.Request{Topic: "legacy", Records: []produce.Record{{Value: []byte(`{}`)}}})
	if resp.Err == nil || resp.Err.Code != produce.CodeDeprecated || resp.Err.Kind != produce.KindInvalid {
		t.Fatalf("Produce: %+v, want 422 %s", resp.Err, produce.CodeDeprecated)
	}
	if len(resp.Deprecations) != 1 || !resp.Deprecations[0].Sunsetted {
		t.Errorf("notices: %+v", resp.Deprecations)
	}
	if n := st.Count("legacy"); n != 0 {
		t.Errorf("%d records produced under a sunset version", n)
	}
}

// TestPipelineBufferFull: when the records handed to the producer and not
// yet acknowledged fill kafka.max_buffered_records (or _bytes), a request
// is refused whole at once with overloaded and a Retry-After, rather than
// waiting for room until its deadline (issue 13, item 4); room comes back
// as Kafka acknowledges. The broker here holds every Produce request until
// released: a stuck broker.
func TestPipelineBufferFull(t *testing.T) {
	t.Parallel()
	st := testutil.Start(t)
	st.CreateTopic(t, "pets", 1)
	release := make(chan struct{})
	st.Cluster.ControlKey(int16(kmsg.Produce), func(kmsg.Request) (kmsg.Response, error, bool) {
		st.Cluster.KeepControl()
		st.Cluster.SleepControl(func() { <-release })
		return nil, nil, false
	})
	cfg := st.Config(t, func(c *config.Config) {
		c.Topics = []config.Topic{{Name: "pets"}}
		c.Kafka.MaxBufferedRecords = 10
		c.Limits.ProduceTimeout = time.Minute
	})
	p := st.Pipeline(t, cfg, produce.Options{})
	v := petV2(t)
	batch := func(n int) *produce.Request {
		req := &produce.Request{Topic: "pets", Records: make([]produce.Record, n)}
		for i := range req.Records {
			req.Records[i] = produce.Record{Value: v}
		}
		return req
	}
	// 8 records stuck at the broker.
	first := make(chan *produce.Response, 1)
	go func() { first <- p.Produce(context.Background(), batch(8)) }()
	for deadline := time.Now().Add(10 * time.Second); ; {
		if n, _ := p.Buffered(); n == 8 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the first request's records were never handed over")
		}
		time.Sleep(5 * time.Millisecond)
	}
	// 3 more do not fit: refused whole, at once (a request waiting for
	// room would end as a timeout after the 30 s context instead).
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	resp := p.Produce(ctx, batch(3))
	if resp.Err == nil || resp.Err.Kind != produce.KindOverloaded || resp.Err.Code != produce.CodeOverloaded || resp.Err.RetryAfter <= 0 {
		t.Fatalf("over the buffer: %+v, want overloaded with a Retry-After", resp.Err)
	}
	for i, r := range resp.Results {
		if r.Produced || r.Err == nil || r.Err.Code != produce.CodeOverloaded {
			t.Errorf("results[%d] = %+v", i, r)
		}
	}
	if !strings.Contains(resp.Err.Message, "kafka.max_buffered_records") {
		t.Errorf("message %q does not name the bound", resp.Err.Message)
	}
	// 2 still fit.
	second := make(chan *produce.Response, 1)
	go func() { second <- p.Produce(context.Background(), batch(2)) }()
	close(release)
	for _, ch := range []chan *produce.Response{first, second} {
		if r := <-ch; r.Err != nil {
			t.Errorf("a request within the buffer: %+v", r.Err)
		}
	}
	if n, b := p.Buffered(); n != 0 || b != 0 {
		t.Errorf("after the acknowledgements %d records, %d bytes still counted", n, b)
	}
	if n := st.Count("pets"); n != 10 {
		t.Errorf("%d records in pets, want 10 (the refused request produced nothing)", n)
	}
}
