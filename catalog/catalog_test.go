package catalog

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"
)

type clock struct{ t time.Time }

func (c *clock) now() time.Time { c.t = c.t.Add(time.Second); return c.t }

// TestCatalogMixedTraffic: two features produce and two groups consume
// versions of one subject; the snapshot groups them per topic, subject and
// version with counts and first/last seen, stably sorted.
func TestCatalogMixedTraffic(t *testing.T) {
	clk := &clock{t: time.Date(2026, 11, 2, 8, 0, 0, 0, time.UTC)}
	c := New(Options{Instance: "pod-a", Now: clk.now})
	v1 := Event{Topic: "pets", Subject: "pets-value", Version: 1, SchemaID: 1, Deprecated: true}
	v2 := Event{Topic: "pets", Subject: "pets-value", Version: 2, SchemaID: 2}
	c.Produced(v2, "weight-sync", 1)
	c.Produced(v2, "weight-sync", 2)
	c.Produced(v1, "legacy-import", 1)
	c.Consumed(v2, "weight-analytics", 3)
	c.Consumed(v1, "weight-analytics", 1)
	c.Consumed(v2, "vet-alerts", 1)
	c.Produced(Event{Topic: "ghost", Version: 1}, "x", 1) // unresolved: ignored
	c.Produced(v2, "zero", 0)                             // nothing: ignored

	s := c.Snapshot()
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	var back Snapshot
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if back.Instance != "pod-a" || !back.Since.Equal(time.Date(2026, 11, 2, 8, 0, 1, 0, time.UTC)) || len(back.Entries) != 2 {
		t.Fatalf("snapshot: %s", b)
	}
	e1, e2 := back.Entries[0], back.Entries[1]
	if e1.Version != 1 || !e1.Deprecated || e1.SchemaID != 1 || len(e1.Producers) != 1 || e1.Producers[0].Name != "legacy-import" ||
		len(e1.Consumers) != 1 || e1.Consumers[0].Name != "weight-analytics" || e1.Consumers[0].Count != 1 {
		t.Errorf("v1: %+v", e1)
	}
	if e2.Version != 2 || len(e2.Producers) != 1 || e2.Producers[0].Count != 3 || len(e2.Consumers) != 2 ||
		e2.Consumers[0].Name != "vet-alerts" || e2.Consumers[1].Name != "weight-analytics" || e2.Consumers[1].Count != 3 {
		t.Errorf("v2: %+v", e2)
	}
	ws := e2.Producers[0]
	if !ws.FirstSeen.Equal(time.Date(2026, 11, 2, 8, 0, 2, 0, time.UTC)) || !ws.LastSeen.Equal(time.Date(2026, 11, 2, 8, 0, 3, 0, time.UTC)) {
		t.Errorf("weight-sync first/last: %v %v", ws.FirstSeen, ws.LastSeen)
	}
	// Stable: the same catalog marshals the same way (bar the timestamp).
	s2 := c.Snapshot()
	s2.At = s.At
	b2, _ := json.Marshal(s2)
	if !bytes.Equal(b, b2) {
		t.Errorf("snapshots differ:\n%s\n%s", b, b2)
	}
}

// TestCatalogBounded: past MaxPairs new combinations are only counted as
// dropped.
func TestCatalogBounded(t *testing.T) {
	c := New(Options{MaxPairs: 2})
	ev := Event{Topic: "t", Subject: "s", Version: 1}
	c.Produced(ev, "a", 1)
	c.Produced(ev, "b", 1)
	c.Produced(ev, "c", 5)
	c.Produced(ev, "a", 1) // known: still counted
	s := c.Snapshot()
	if len(s.Entries) != 1 || len(s.Entries[0].Producers) != 2 || s.Entries[0].Producers[0].Count != 2 || s.Dropped != 5 {
		t.Errorf("bounded: %+v", s)
	}
	var nilc *Catalog
	nilc.Produced(ev, "a", 1)
	if len(nilc.Snapshot().Entries) != 0 {
		t.Error("nil catalog recorded")
	}
}

// TestMerge: counts add, first seen is the earliest, last seen the latest,
// instances are listed.
func TestMerge(t *testing.T) {
	t0 := time.Date(2026, 11, 2, 8, 0, 0, 0, time.UTC)
	a := &Snapshot{Instance: "a", Since: t0, At: t0.Add(time.Hour), Entries: []Entry{
		{Topic: "pets", Subject: "pets-value", Version: 2, Producers: []Usage{{Name: "f", Count: 2, FirstSeen: t0.Add(time.Minute), LastSeen: t0.Add(2 * time.Minute)}}},
	}}
	b := &Snapshot{Instance: "b", Since: t0.Add(-time.Hour), At: t0.Add(2 * time.Hour), Dropped: 1, Entries: []Entry{
		{Topic: "pets", Subject: "pets-value", Version: 2, Deprecated: true,
			Producers: []Usage{{Name: "f", Count: 3, FirstSeen: t0, LastSeen: t0.Add(time.Minute)}},
			Consumers: []Usage{{Name: "g", Count: 5, FirstSeen: t0, LastSeen: t0}}},
		{Topic: "orders", Subject: "orders-OrderPlaced", Version: 1, Consumers: []Usage{{Name: "g", Count: 1}}},
	}}
	m := Merge(a, b, nil)
	if len(m.Entries) != 2 || m.Entries[0].Topic != "orders" || !m.Since.Equal(t0.Add(-time.Hour)) || !m.At.Equal(t0.Add(2*time.Hour)) || m.Dropped != 1 {
		t.Fatalf("merge: %+v", m)
	}
	p := m.Entries[1]
	if !p.Deprecated || len(p.Producers) != 1 || p.Producers[0].Count != 5 || !p.Producers[0].FirstSeen.Equal(t0) ||
		!p.Producers[0].LastSeen.Equal(t0.Add(2*time.Minute)) || strings.Join(p.Instances, ",") != "a,b" || p.Consumers[0].Count != 5 {
		t.Errorf("pets entry: %+v", p)
	}
	var buf bytes.Buffer
	if err := WriteGraph(&buf, m, "svg"); err == nil {
		t.Error("unknown format accepted")
	}
	if err := WriteGraph(&buf, &Snapshot{}, FormatMermaid); err != nil || !strings.HasPrefix(buf.String(), "flowchart LR\n") {
		t.Errorf("empty graph: %v %q", err, buf.String())
	}
}

// TestCatalogKeepsSchemaIDAndSunset: a consumed record (which does not
// name its schema id) keeps the id a produced one recorded, and Merge
// keeps a sunset and replacement any sidecar reported.
func TestCatalogKeepsSchemaIDAndSunset(t *testing.T) {
	c := New(Options{})
	c.Produced(Event{Topic: "pets", Subject: "pets-value", Version: 1, SchemaID: 7}, "f", 1)
	c.Consumed(Event{Topic: "pets", Subject: "pets-value", Version: 1}, "g", 1)
	s := c.Snapshot()
	if s.Entries[0].SchemaID != 7 {
		t.Errorf("schema id = %d, want 7", s.Entries[0].SchemaID)
	}
	other := &Snapshot{Instance: "b", Entries: []Entry{{Topic: "pets", Subject: "pets-value", Version: 1, Deprecated: true, Sunset: "2027-03-31", Replacement: "pets-value v2"}}}
	m := Merge(s, other)
	if e := m.Entries[0]; !e.Deprecated || e.Sunset != "2027-03-31" || e.Replacement != "pets-value v2" || e.SchemaID != 7 {
		t.Errorf("merged: %+v", e)
	}
}
