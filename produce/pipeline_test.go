package produce_test

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/sr"

	"github.com/eventguard/eventguard/config"
	"github.com/eventguard/eventguard/internal/testutil"
	"github.com/eventguard/eventguard/produce"
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

func TestDeprecationsCheck(t *testing.T) {
	t.Parallel()
	clock := testutil.NewClock(time.Date(2027, 3, 30, 23, 30, 0, 0, time.UTC))
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	d := produce.NewDeprecations([]config.Deprecation{
		{Subject: "pets-value", Version: 1, Sunset: config.Date{Time: time.Date(2027, 3, 31, 0, 0, 0, 0, time.UTC)}, AfterSunset: "reject",
			Replacement: &config.SubjectVersion{Subject: "pets-value", Version: 2}, Owner: "team-pets"},
		{Subject: "orders-OrderPlaced", Version: 1, Sunset: config.Date{Time: time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)}, AfterSunset: "warn"},
	}, log, clock.Now)

	if n, reject := d.Check("pets-value", 2, "f"); n != nil || reject {
		t.Errorf("a version not declared: %+v %v", n, reject)
	}
	n, reject := d.Check("pets-value", 1, "f")
	if n == nil || reject || n.Sunsetted || n.Owner != "team-pets" || n.Replacement.Version != 2 {
		t.Errorf("before the sunset: %+v %v", n, reject)
	}
	clock.Advance(30 * time.Minute) // exactly the sunset
	if n, reject := d.Check("pets-value", 1, "f"); n == nil || !n.Sunsetted || !reject {
		t.Errorf("at the sunset: %+v %v, want rejected", n, reject)
	}
	if n, reject := d.Check("orders-OrderPlaced", 1, "f"); n == nil || !n.Sunsetted || reject {
		t.Errorf("after a warn sunset: %+v %v, want a notice only", n, reject)
	}
	// Logged once per subject version and feature per hour.
	if got := strings.Count(logs.String(), "subject=pets-value"); got != 1 {
		t.Errorf("pets-value logged %d times within the hour:\n%s", got, logs.String())
	}
	d.Check("pets-value", 1, "other-feature")
	clock.Advance(time.Hour)
	d.Check("pets-value", 1, "f")
	if got := strings.Count(logs.String(), "subject=pets-value"); got != 3 {
		t.Errorf("pets-value logged %d times, want 3 (a new feature, then an hour later)", got)
	}

	var none *produce.Deprecations
	if n, reject := none.Check("pets-value", 1, "f"); n != nil || reject {
		t.Error("a nil Deprecations deprecates")
	}
}

func TestFromMetadata(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		props map[string]string
		want  string // "" means nil; else sunset/after/replacement
		err   string
	}{
		{name: "nothing declared", props: map[string]string{"owner": "x"}},
		{name: "sunset only", props: map[string]string{produce.MetadataSunset: "2027-03-31"}, want: "2027-03-31 warn <nil>"},
		{name: "everything", props: map[string]string{produce.MetadataSunset: " 2027-03-31 ", produce.MetadataAfterSunset: "reject",
			produce.MetadataReplacement: "pets-value:2", produce.MetadataSince: "2026-10-01", produce.MetadataOwner: "team-pets"},
			want: "2027-03-31 reject pets-value:2"},
		{name: "bad sunset", props: map[string]string{produce.MetadataSunset: "March"}, err: produce.MetadataSunset},
		{name: "bad after_sunset", props: map[string]string{produce.MetadataSunset: "2027-03-31", produce.MetadataAfterSunset: "explode"}, err: produce.MetadataAfterSunset},
		{name: "bad replacement", props: map[string]string{produce.MetadataSunset: "2027-03-31", produce.MetadataReplacement: "pets-value"}, err: produce.MetadataReplacement},
		{name: "bad since", props: map[string]string{produce.MetadataSunset: "2027-03-31", produce.MetadataSince: "soon"}, err: produce.MetadataSince},
	}
	for _, tt := range tests {
		d, err := produce.FromMetadata("pets-value", 1, tt.props)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("%s: err = %v, want it to name %s", tt.name, err, tt.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", tt.name, err)
			continue
		}
		got := ""
		if d != nil {
			repl := "<nil>"
			if d.Replacement != nil {
				repl = d.Replacement.Subject + ":" + strconv.Itoa(d.Replacement.Version)
			}
			got = d.Sunset.Format(time.DateOnly) + " " + d.AfterSunset + " " + repl
		}
		if got != tt.want {
			t.Errorf("%s: got %q, want %q", tt.name, got, tt.want)
		}
	}
}

// TestRegistryMetadataDeprecation: a deprecation declared in the registry's
// schema metadata, not in the config, is enforced by the pipeline.
func TestRegistryMetadataDeprecation(t *testing.T) {
	t.Parallel()
	st := testutil.Start(t)
	st.CreateTopic(t, "legacy", 1)
	if _, _, err := st.Registry.RegisterSchema("legacy-value", sr.Schema{Type: sr.TypeJSON, Schema: `{"type":"object"}`,
		SchemaMetadata: &sr.SchemaMetadata{Properties: map[string]string{produce.MetadataSunset: "2026-01-01", produce.MetadataAfterSunset: "reject"}}}); err != nil {
		t.Fatal(err)
	}
	cfg := st.Config(t, func(c *config.Config) { c.Topics = []config.Topic{{Name: "legacy"}} })
	p := st.Pipeline(t, cfg, produce.Options{Deprecations: produce.NewDeprecations(nil, testutil.Discard(), func() time.Time {
		return time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	})})
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
