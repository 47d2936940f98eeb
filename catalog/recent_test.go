package catalog

import (
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"
)

// TestRecentRing: the ring keeps the last Size rejections, newest first,
// while the counts keep every one since start.
func TestRecentRing(t *testing.T) {
	clk := &clock{t: time.Date(2026, 11, 2, 8, 0, 0, 0, time.UTC)}
	r := NewRecent(RecentOptions{Instance: "pod-a", Size: 3, Now: clk.now})
	if s := r.Snapshot(); len(s.Rejections) != 0 || s.Size != 3 || s.Instance != "pod-a" {
		t.Fatalf("empty: %+v", s)
	}
	for i := range 5 {
		r.Add(Rejection{Outcome: OutcomeRejected, Topic: "pets", Subject: "pets-value", Version: 2, Feature: "weight-sync",
			Reason: "schema_violation", Path: fmt.Sprintf("/n%d", i), Message: "bad"})
	}
	r.Add(Rejection{Outcome: OutcomeDeadLettered, Topic: "pets", Group: "analytics", Reason: "not_wire_format"})
	r.Add(Rejection{Outcome: OutcomeRejected, Topic: "secret", Reason: "topic_not_allowed", Records: 7})

	s := r.Snapshot()
	var got []string
	for _, x := range s.Rejections {
		got = append(got, x.Reason+x.Path)
	}
	if want := "topic_not_allowed,not_wire_format,schema_violation/n4"; strings.Join(got, ",") != want {
		t.Errorf("ring = %v, want %s", got, want)
	}
	if !s.Rejections[0].Time.After(s.Rejections[1].Time) {
		t.Errorf("not newest first: %v", s.Rejections)
	}
	wantCounts := []RejectionCount{
		{Outcome: OutcomeDeadLettered, Topic: "pets", Reason: "not_wire_format", Count: 1},
		{Outcome: OutcomeRejected, Topic: "pets", Subject: "pets-value", Version: 2, Reason: "schema_violation", Count: 5},
		{Outcome: OutcomeRejected, Topic: "secret", Reason: "topic_not_allowed", Count: 7},
	}
	if fmt.Sprint(s.Counts) != fmt.Sprint(wantCounts) {
		t.Errorf("counts = %v, want %v", s.Counts, wantCounts)
	}
	b, err := json.Marshal(s)
	if err != nil || !strings.Contains(string(b), `"records":7`) {
		t.Errorf("json %s %v", b, err)
	}
}

// TestRecentBounds: every string is cut to its bound at a UTF-8 boundary
// and invalid UTF-8 replaced; past MaxRecentCounts distinct counters new
// ones are only counted as uncounted; a nil Recent records nothing.
func TestRecentBounds(t *testing.T) {
	r := NewRecent(RecentOptions{Size: MaxRecentSize * 2})
	if s := r.Snapshot(); s.Size != MaxRecentSize {
		t.Errorf("size %d, want the cap %d", s.Size, MaxRecentSize)
	}
	long := strings.Repeat("é", 1000) // 2 bytes each
	r.Add(Rejection{Outcome: OutcomeRejected, Topic: long, Subject: long, Feature: long, Group: long, Reason: long, Rule: long, Path: long, Message: long + "\xff"})
	x := r.Snapshot().Rejections[0]
	for name, c := range map[string]struct {
		s   string
		max int
	}{"topic": {x.Topic, MaxNameBytes}, "subject": {x.Subject, MaxNameBytes}, "feature": {x.Feature, MaxNameBytes}, "group": {x.Group, MaxNameBytes},
		"reason": {x.Reason, MaxNameBytes}, "rule": {x.Rule, MaxNameBytes}, "path": {x.Path, MaxPathBytes}, "message": {x.Message, MaxMessageBytes}} {
		if len(c.s) > c.max || !utf8.ValidString(c.s) || !strings.HasSuffix(c.s, "…") || len(c.s) < c.max-4 {
			t.Errorf("%s: %d bytes (max %d), valid %v: %q", name, len(c.s), c.max, utf8.ValidString(c.s), c.s[len(c.s)-8:])
		}
	}
	if got := Truncate("ok\xffok", 100); got != "ok\uFFFDok" {
		t.Errorf("invalid UTF-8: %q", got)
	}
	if got := Truncate("short", 5); got != "short" {
		t.Errorf("short: %q", got)
	}

	r = NewRecent(RecentOptions{Size: 2})
	for i := range MaxRecentCounts + 10 {
		r.Add(Rejection{Outcome: OutcomeRejected, Topic: fmt.Sprintf("t%d", i), Reason: "x"})
	}
	r.Add(Rejection{Outcome: OutcomeRejected, Topic: "t0", Reason: "x"}) // known counter: counted
	s := r.Snapshot()
	if len(s.Counts) != MaxRecentCounts || s.Uncounted != 10 || len(s.Rejections) != 2 {
		t.Errorf("counters %d uncounted %d rows %d", len(s.Counts), s.Uncounted, len(s.Rejections))
	}
	if s.Counts[0].Topic != "t0" || s.Counts[0].Count != 2 {
		t.Errorf("t0 = %+v", s.Counts[0])
	}

	var nilRecent *Recent
	nilRecent.Add(Rejection{Topic: "x"})
	if s := nilRecent.Snapshot(); len(s.Rejections) != 0 || s.Counts == nil {
		t.Errorf("nil: %+v", s)
	}
}

// TestRecentConcurrent adds from several goroutines while snapshots are
// taken (run with -race).
func TestRecentConcurrent(t *testing.T) {
	r := NewRecent(RecentOptions{Size: 50})
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 200 {
				r.Add(Rejection{Outcome: OutcomeRejected, Topic: fmt.Sprintf("t%d", g), Reason: "x", Path: fmt.Sprint(i)})
				if i%50 == 0 {
					r.Snapshot()
				}
			}
		}()
	}
	wg.Wait()
	s := r.Snapshot()
	var total uint64
	for _, c := range s.Counts {
		total += c.Count
	}
	if len(s.Rejections) != 50 || total != 800 {
		t.Errorf("rows %d total %d", len(s.Rejections), total)
	}
}

// TestMergeRecent: rows of several sidecars interleave newest first, name
// their instance and are cut to the limit; equal counts add up.
func TestMergeRecent(t *testing.T) {
	at := func(s int) time.Time { return time.Date(2026, 11, 2, 8, 0, s, 0, time.UTC) }
	a := &RecentSnapshot{Instance: "a", Size: 10, Rejections: []Rejection{{Time: at(5), Topic: "pets", Reason: "x"}, {Time: at(1), Topic: "pets", Reason: "x"}},
		Counts: []RejectionCount{{Outcome: OutcomeRejected, Topic: "pets", Reason: "x", Count: 2}}}
	b := &RecentSnapshot{Instance: "b", Size: 10, Uncounted: 3, Rejections: []Rejection{{Time: at(3), Topic: "pets", Reason: "y", Instance: "b2"}},
		Counts: []RejectionCount{{Outcome: OutcomeRejected, Topic: "pets", Reason: "x", Count: 4}, {Outcome: OutcomeDeadLettered, Topic: "pets", Reason: "y", Count: 1}}}
	m := MergeRecent(2, a, nil, b)
	if len(m.Rejections) != 2 || m.Rejections[0].Instance != "a" || m.Rejections[1].Instance != "b2" || !m.Rejections[1].Time.Equal(at(3)) {
		t.Errorf("rows %+v", m.Rejections)
	}
	if len(m.Counts) != 2 || m.Counts[1].Count != 6 || m.Size != 20 || m.Uncounted != 3 {
		t.Errorf("counts %+v size %d uncounted %d", m.Counts, m.Size, m.Uncounted)
	}
}
