// Package catalog keeps the usage catalog: which features produced, and which
// consumer groups consumed, each topic, subject and schema version that this
// sidecar has seen since it started. GET /v1/catalog on the admin listener
// serves a Snapshot; `eventguard catalog graph` merges several sidecars'
// snapshots into one producer → event version → consumer graph.
//
// Only schema versions resolved from the registry are recorded: a topic or
// subject that never resolved never enters the catalog.
package catalog

import (
	"sort"
	"sync"
	"time"
)

// Catalog records usage. It is safe for concurrent use; a nil *Catalog
// records nothing.
type Catalog struct {
	instance string
	started  time.Time
	now      func() time.Time
	// max bounds the distinct (event, feature or group) pairs recorded.
	max int

	mu      sync.Mutex
	entries map[eventKey]*entry
	rules   map[ruleUsageKey]*RuleUsage
	pairs   int
	dropped uint64
}

type eventKey struct {
	topic, subject string
	version        int
}

type entry struct {
	schemaID   int
	deprecated bool
	producers  map[string]*Usage
	consumers  map[string]*Usage
}

// Options configure a Catalog.
type Options struct {
	// Instance names this sidecar in the snapshot.
	Instance string
	// MaxPairs bounds the distinct (topic, subject, version, feature or
	// group) combinations kept; past it new ones are counted in
	// Snapshot.Dropped only. Default: 10000.
	MaxPairs int
	// Now is the clock. Default: time.Now.
	Now func() time.Time
}

// New returns an empty catalog.
func New(o Options) *Catalog {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.MaxPairs <= 0 {
		o.MaxPairs = 10000
	}
	return &Catalog{instance: o.Instance, now: o.Now, started: o.Now().UTC(), max: o.MaxPairs, entries: map[eventKey]*entry{}}
}

// Event names one schema version on one topic.
type Event struct {
	Topic    string
	Subject  string
	Version  int
	SchemaID int
	// Deprecated marks the version deprecated when it was last used.
	Deprecated bool
}

// Produced records that feature produced n records of ev.
func (c *Catalog) Produced(ev Event, feature string, n int) {
	c.add(ev, feature, n, true)
}

// Consumed records that group consumed n records of ev.
func (c *Catalog) Consumed(ev Event, group string, n int) {
	c.add(ev, group, n, false)
}

func (c *Catalog) add(ev Event, who string, n int, produced bool) {
	if c == nil || ev.Subject == "" || n <= 0 {
		return
	}
	now := c.now().UTC()
	k := eventKey{ev.Topic, ev.Subject, ev.Version}
	c.mu.Lock()
	defer c.mu.Unlock()
	e := c.entries[k]
	if e == nil {
		if c.pairs >= c.max {
			c.dropped += uint64(n)
			return
		}
		e = &entry{producers: map[string]*Usage{}, consumers: map[string]*Usage{}}
		c.entries[k] = e
	}
	if ev.SchemaID != 0 { // consumed records do not name it
		e.schemaID = ev.SchemaID
	}
	e.deprecated = ev.Deprecated
	m := e.consumers
	if produced {
		m = e.producers
	}
	u := m[who]
	if u == nil {
		if c.pairs >= c.max {
			c.dropped += uint64(n)
			return
		}
		c.pairs++
		u = &Usage{Name: who, FirstSeen: now}
		m[who] = u
	}
	u.Count += uint64(n)
	u.LastSeen = now
}

// Usage is one feature's or one group's use of an event version.
type Usage struct {
	// Name is the feature (producers) or consumer group (consumers).
	Name      string    `json:"name"`
	Count     uint64    `json:"count"`
	FirstSeen time.Time `json:"first_seen"`
	LastSeen  time.Time `json:"last_seen"`
}

// Entry is one topic, subject and schema version with its users.
type Entry struct {
	Topic      string  `json:"topic"`
	Subject    string  `json:"subject"`
	Version    int     `json:"version"`
	SchemaID   int     `json:"schema_id,omitempty"`
	Deprecated bool    `json:"deprecated,omitempty"`
	Producers  []Usage `json:"producers"`
	Consumers  []Usage `json:"consumers"`
	// Instances names the sidecars that saw it (merged snapshots only).
	Instances []string `json:"instances,omitempty"`
	// Sunset is the deprecated version's sunset date (YYYY-MM-DD), and
	// Replacement the version to move to ("subject vN"), when declared.
	Sunset      string `json:"sunset,omitempty"`
	Replacement string `json:"replacement,omitempty"`
}

// Snapshot is the catalog at one moment: the body of GET /v1/catalog.
// Entries are sorted by topic, subject and version; producers and consumers
// by name.
type Snapshot struct {
	// Instance is the sidecar (config's instance); empty when merged.
	Instance string `json:"instance,omitempty"`
	// Since is when the sidecar started recording.
	Since time.Time `json:"since"`
	// At is when the snapshot was taken.
	At      time.Time `json:"at"`
	Entries []Entry   `json:"entries"`
	// Rules count the records that broke each contract rule, by producing
	// feature and consumer group; omitted when none did.
	Rules []RuleUsage `json:"rules,omitempty"`
	// Dropped counts records not catalogued because the catalog was full.
	Dropped uint64 `json:"dropped,omitempty"`
}

// Snapshot returns a copy of the catalog, stably sorted.
func (c *Catalog) Snapshot() *Snapshot {
	s := &Snapshot{Entries: []Entry{}}
	if c == nil {
		return s
	}
	c.mu.Lock()
	s.Instance, s.Since, s.At, s.Dropped = c.instance, c.started, c.now().UTC(), c.dropped
	for k, e := range c.entries {
		out := Entry{Topic: k.topic, Subject: k.subject, Version: k.version, SchemaID: e.schemaID, Deprecated: e.deprecated,
			Producers: usages(e.producers), Consumers: usages(e.consumers)}
		s.Entries = append(s.Entries, out)
	}
	if len(c.rules) > 0 {
		s.Rules = c.ruleUsages()
	}
	c.mu.Unlock()
	sortEntries(s.Entries)
	return s
}

func usages(m map[string]*Usage) []Usage {
	out := make([]Usage, 0, len(m))
	for _, u := range m {
		out = append(out, *u)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

func sortEntries(es []Entry) {
	sort.Slice(es, func(i, j int) bool {
		a, b := es[i], es[j]
		if a.Topic != b.Topic {
			return a.Topic < b.Topic
		}
		if a.Subject != b.Subject {
			return a.Subject < b.Subject
		}
		return a.Version < b.Version
	})
}

// Merge combines snapshots from several sidecars: counts add up, first seen
// is the earliest and last seen the latest, and each entry lists the
// instances that saw it. The result is sorted like a Snapshot.
func Merge(snaps ...*Snapshot) *Snapshot {
	out := &Snapshot{Entries: []Entry{}}
	type acc struct {
		e         Entry
		producers map[string]*Usage
		consumers map[string]*Usage
		instances map[string]bool
	}
	by := map[eventKey]*acc{}
	ruleBy := map[ruleUsageKey]*RuleUsage{}
	for _, s := range snaps {
		if s == nil {
			continue
		}
		if out.Since.IsZero() || (!s.Since.IsZero() && s.Since.Before(out.Since)) {
			out.Since = s.Since
		}
		if s.At.After(out.At) {
			out.At = s.At
		}
		out.Dropped += s.Dropped
		mergeRuleUsages(ruleBy, s.Rules)
		for _, e := range s.Entries {
			k := eventKey{e.Topic, e.Subject, e.Version}
			a := by[k]
			if a == nil {
				a = &acc{e: Entry{Topic: e.Topic, Subject: e.Subject, Version: e.Version}, producers: map[string]*Usage{}, consumers: map[string]*Usage{}, instances: map[string]bool{}}
				by[k] = a
			}
			if e.SchemaID != 0 {
				a.e.SchemaID = e.SchemaID
			}
			a.e.Deprecated = a.e.Deprecated || e.Deprecated
			if e.Sunset != "" {
				a.e.Sunset = e.Sunset
			}
			if e.Replacement != "" {
				a.e.Replacement = e.Replacement
			}
			if s.Instance != "" {
				a.instances[s.Instance] = true
			}
			for _, i := range e.Instances {
				a.instances[i] = true
			}
			mergeUsages(a.producers, e.Producers)
			mergeUsages(a.consumers, e.Consumers)
		}
	}
	for _, a := range by {
		a.e.Producers, a.e.Consumers = usages(a.producers), usages(a.consumers)
		for i := range a.instances {
			a.e.Instances = append(a.e.Instances, i)
		}
		sort.Strings(a.e.Instances)
		out.Entries = append(out.Entries, a.e)
	}
	sortEntries(out.Entries)
	for _, u := range ruleBy {
		out.Rules = append(out.Rules, *u)
	}
	sortRuleUsages(out.Rules)
	return out
}

func mergeUsages(into map[string]*Usage, us []Usage) {
	for _, u := range us {
		m := into[u.Name]
		if m == nil {
			c := u
			into[u.Name] = &c
			continue
		}
		m.Count += u.Count
		if !u.FirstSeen.IsZero() && (m.FirstSeen.IsZero() || u.FirstSeen.Before(m.FirstSeen)) {
			m.FirstSeen = u.FirstSeen
		}
		if u.LastSeen.After(m.LastSeen) {
			m.LastSeen = u.LastSeen
		}
	}
}
