package catalog

import (
	"sort"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

// Outcomes of a Rejection.
const (
	// OutcomeRejected: the produce pipeline refused the record; nothing
	// reached Kafka.
	OutcomeRejected = "rejected"
	// OutcomeDeadLettered: a consumed record went to its dead-letter topic
	// instead of the app.
	OutcomeDeadLettered = "dead_lettered"
)

// Bounds of what Recent keeps. Strings longer than their bound are cut at
// a UTF-8 boundary and end with "…".
const (
	// DefaultRecentSize is how many rejections Recent keeps by default.
	DefaultRecentSize = 200
	// MaxRecentSize caps RecentOptions.Size.
	MaxRecentSize = 10000
	// MaxRecentCounts bounds the distinct (outcome, topic, subject,
	// version, reason, rule) counters; past it records are counted in
	// RecentSnapshot.Uncounted only.
	MaxRecentCounts = 1000
	// MaxNameBytes bounds topic, subject, feature, group, reason and rule.
	MaxNameBytes = 256
	// MaxPathBytes bounds a rejection's JSON pointer.
	MaxPathBytes = 256
	// MaxMessageBytes bounds a rejection's message (messages may quote
	// parts of the value: they are kept short).
	MaxMessageBytes = 512
)

// Rejection is one refused produce request or record, or one dead-lettered
// consumed record. It never holds the record's value; Message may quote a
// part of it, cut to MaxMessageBytes.
type Rejection struct {
	Time time.Time `json:"time"`
	// Outcome is OutcomeRejected or OutcomeDeadLettered.
	Outcome string `json:"outcome"`
	Topic   string `json:"topic"`
	// Subject and Version are the record's schema; "" and 0 when it was
	// refused before its schema was known.
	Subject string `json:"subject,omitempty"`
	Version int    `json:"version,omitempty"`
	// Feature is the producing feature (rejected records).
	Feature string `json:"feature,omitempty"`
	// Group is the consumer group (dead-lettered records).
	Group string `json:"group,omitempty"`
	// Reason is the error code (produce) or the dead-letter reason.
	Reason string `json:"reason"`
	// Rule names the contract rule that refused the record, when one did.
	Rule string `json:"rule,omitempty"`
	// Path is the JSON pointer of the first violation, when known.
	Path string `json:"path,omitempty"`
	// Message says what was wrong, when known.
	Message string `json:"message,omitempty"`
	// Records is how many records this entry stands for: a produce
	// request refused as a whole is one entry. 0 means 1.
	Records int `json:"records,omitempty"`
	// Instance is the sidecar that saw it (merged snapshots only).
	Instance string `json:"instance,omitempty"`
}

// RejectionCount counts rejected or dead-lettered records with the same
// facts since the sidecar started.
type RejectionCount struct {
	Outcome string `json:"outcome"`
	Topic   string `json:"topic"`
	Subject string `json:"subject,omitempty"`
	Version int    `json:"version,omitempty"`
	Reason  string `json:"reason"`
	Rule    string `json:"rule,omitempty"`
	Count   uint64 `json:"count"`
}

func (c RejectionCount) key() countKey {
	return countKey{c.Outcome, c.Topic, c.Subject, c.Reason, c.Rule, c.Version}
}

type countKey struct {
	outcome, topic, subject, reason, rule string
	version                               int
}

// RecentSnapshot is Recent at one moment: the body of GET /v1/recent.
type RecentSnapshot struct {
	// Instance is the sidecar (config's instance); empty when merged.
	Instance string `json:"instance,omitempty"`
	// Size is how many rejections the sidecar keeps.
	Size int `json:"size"`
	// Rejections are the latest, newest first, at most Size.
	Rejections []Rejection `json:"rejections"`
	// Counts are totals since start, sorted by outcome, topic, subject,
	// version, reason and rule.
	Counts []RejectionCount `json:"counts"`
	// Uncounted counts records past MaxRecentCounts distinct counters.
	Uncounted uint64 `json:"uncounted,omitempty"`
}

// Recent keeps the last rejected and dead-lettered records in a ring, and
// counts them by outcome, topic, subject, version, reason and rule. It is
// safe for concurrent use; a nil *Recent records nothing.
type Recent struct {
	instance string
	now      func() time.Time

	mu        sync.Mutex
	ring      []Rejection
	next      int // where the next rejection goes
	full      bool
	counts    map[countKey]uint64
	uncounted uint64
}

// RecentOptions configure Recent.
type RecentOptions struct {
	// Instance names this sidecar in the snapshot.
	Instance string
	// Size is how many rejections are kept. Default DefaultRecentSize, at
	// most MaxRecentSize.
	Size int
	// Now is the clock. Default: time.Now.
	Now func() time.Time
}

// NewRecent returns an empty ring.
func NewRecent(o RecentOptions) *Recent {
	if o.Size <= 0 {
		o.Size = DefaultRecentSize
	}
	if o.Size > MaxRecentSize {
		o.Size = MaxRecentSize
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Recent{instance: o.Instance, now: o.Now, ring: make([]Rejection, o.Size), counts: map[countKey]uint64{}}
}

// Add records r, with its strings cut to their bounds; a zero Time is
// set to now.
func (rc *Recent) Add(r Rejection) {
	if rc == nil {
		return
	}
	if r.Time.IsZero() {
		r.Time = rc.now()
	}
	r.Time = r.Time.UTC()
	r.Outcome = Truncate(r.Outcome, MaxNameBytes)
	r.Topic = Truncate(r.Topic, MaxNameBytes)
	r.Subject = Truncate(r.Subject, MaxNameBytes)
	r.Feature = Truncate(r.Feature, MaxNameBytes)
	r.Group = Truncate(r.Group, MaxNameBytes)
	r.Reason = Truncate(r.Reason, MaxNameBytes)
	r.Rule = Truncate(r.Rule, MaxNameBytes)
	r.Instance = Truncate(r.Instance, MaxNameBytes)
	r.Path = Truncate(r.Path, MaxPathBytes)
	r.Message = Truncate(r.Message, MaxMessageBytes)
	n := uint64(max(r.Records, 1))
	k := countKey{r.Outcome, r.Topic, r.Subject, r.Reason, r.Rule, r.Version}

	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.ring[rc.next] = r
	rc.next++
	if rc.next == len(rc.ring) {
		rc.next, rc.full = 0, true
	}
	if _, ok := rc.counts[k]; ok || len(rc.counts) < MaxRecentCounts {
		rc.counts[k] += n
	} else {
		rc.uncounted += n
	}
}

// Snapshot returns a copy of the ring, newest first, and the counts.
func (rc *Recent) Snapshot() *RecentSnapshot {
	s := &RecentSnapshot{Rejections: []Rejection{}, Counts: []RejectionCount{}}
	if rc == nil {
		return s
	}
	rc.mu.Lock()
	s.Instance, s.Size, s.Uncounted = rc.instance, len(rc.ring), rc.uncounted
	n := rc.next
	if rc.full {
		n = len(rc.ring)
	}
	for i := range n {
		s.Rejections = append(s.Rejections, rc.ring[(rc.next-1-i+len(rc.ring))%len(rc.ring)])
	}
	for k, c := range rc.counts {
		s.Counts = append(s.Counts, RejectionCount{Outcome: k.outcome, Topic: k.topic, Subject: k.subject, Version: k.version, Reason: k.reason, Rule: k.rule, Count: c})
	}
	rc.mu.Unlock()
	sortCounts(s.Counts)
	return s
}

func sortCounts(cs []RejectionCount) {
	sort.Slice(cs, func(i, j int) bool {
		a, b := cs[i], cs[j]
		switch {
		case a.Outcome != b.Outcome:
			return a.Outcome < b.Outcome
		case a.Topic != b.Topic:
			return a.Topic < b.Topic
		case a.Subject != b.Subject:
			return a.Subject < b.Subject
		case a.Version != b.Version:
			return a.Version < b.Version
		case a.Reason != b.Reason:
			return a.Reason < b.Reason
		}
		return a.Rule < b.Rule
	})
}

// MergeRecent combines several sidecars' rejections: the rows of all,
// newest first, each naming its instance, at most limit (0: no limit);
// counts with the same facts add up.
func MergeRecent(limit int, snaps ...*RecentSnapshot) *RecentSnapshot {
	out := &RecentSnapshot{Rejections: []Rejection{}, Counts: []RejectionCount{}}
	counts := map[countKey]uint64{}
	for _, s := range snaps {
		if s == nil {
			continue
		}
		out.Size += s.Size
		out.Uncounted += s.Uncounted
		for _, r := range s.Rejections {
			if r.Instance == "" {
				r.Instance = s.Instance
			}
			out.Rejections = append(out.Rejections, r)
		}
		for _, c := range s.Counts {
			counts[c.key()] += c.Count
		}
	}
	sort.SliceStable(out.Rejections, func(i, j int) bool { return out.Rejections[i].Time.After(out.Rejections[j].Time) })
	if limit > 0 && len(out.Rejections) > limit {
		out.Rejections = out.Rejections[:limit]
	}
	for k, c := range counts {
		out.Counts = append(out.Counts, RejectionCount{Outcome: k.outcome, Topic: k.topic, Subject: k.subject, Version: k.version, Reason: k.reason, Rule: k.rule, Count: c})
	}
	sortCounts(out.Counts)
	return out
}

// Truncate returns s cut to at most n bytes at a UTF-8 boundary, ending
// with "…" when it was cut; invalid UTF-8 is replaced. The result does not
// share memory with s, so a kept rejection never pins a request's buffer.
func Truncate(s string, n int) string {
	if len(s) <= n && utf8.ValidString(s) {
		return strings.Clone(s)
	}
	s = strings.ToValidUTF8(s, "\uFFFD")
	if len(s) <= n {
		return s
	}
	const ellipsis = "…"
	cut := max(n-len(ellipsis), 0)
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return strings.Clone(s[:cut]) + ellipsis
}
