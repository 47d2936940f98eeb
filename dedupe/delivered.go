package dedupe

import (
	"strings"
	"sync"
	"time"
)

// DefaultMaxPerPartition bounds the ids a Delivered remembers per
// partition. At about 150 bytes an entry with 36-byte ids (see
// BenchmarkDeliveredMemory), 10,000 entries take about 1.5 MB a
// partition.
const DefaultMaxPerPartition = 10_000

// DeliveredConfig configures a Delivered. A zero field takes its default.
type DeliveredConfig struct {
	// Window is how far apart, in record timestamps, two records with the
	// same id count as duplicates (default 10 minutes).
	Window time.Duration
	// MaxPerPartition bounds the ids remembered per partition (default
	// 10,000); past it the oldest goes first.
	MaxPerPartition int
}

// Delivered remembers, per topic partition, the event ids a subscription
// delivered, so that a record whose id was already delivered on that
// partition within the window is committed without a second delivery.
// Time is the records' own timestamps, not the clock, so the window
// rebuilt from the partition after a rebalance or a restart is the one the
// previous owner had: a new owner calls Forget (or nothing, for a
// partition it never had), feeds the records it reads back from before the
// committed offset to Delivered (oldest first), then checks new records
// as usual. Where to start reading: RebuildFrom.
//
// A Delivered is safe for concurrent use; each partition is expected to be
// processed in order by one goroutine.
type Delivered struct {
	mu     sync.Mutex
	window int64 // nanoseconds
	max    int
	parts  map[topicPartition]*partition
}

type topicPartition struct {
	topic     string
	partition int32
}

// partition is one partition's ids: a map for lookups and a ring in
// delivery order for the bound and the expiry.
type partition struct {
	ids    map[string]delivery
	ring   []ringEntry
	head   int // oldest entry
	n      int
	latest int64 // the newest timestamp seen
	stats  PartitionStats
}

type delivery struct {
	offset int64
	ts     int64
}

type ringEntry struct {
	id     string
	offset int64
	ts     int64
}

// PartitionStats are one partition's counters.
type PartitionStats struct {
	// Entries is the number of ids remembered.
	Entries int
	// Duplicates counts Check calls that found a duplicate.
	Duplicates uint64
	// Evicted counts ids pushed out by MaxPerPartition before their window
	// ended.
	Evicted uint64
}

// NewDelivered returns an empty Delivered.
func NewDelivered(cfg DeliveredConfig) *Delivered {
	if cfg.Window <= 0 {
		cfg.Window = DefaultWindow
	}
	if cfg.MaxPerPartition <= 0 {
		cfg.MaxPerPartition = DefaultMaxPerPartition
	}
	return &Delivered{window: int64(cfg.Window), max: cfg.MaxPerPartition, parts: make(map[topicPartition]*partition)}
}

// Check reports whether id was delivered on the topic's partition within
// the window before a record stamped ts, and if so at which offset. It
// changes nothing: call Delivered once the record is delivered.
func (d *Delivered) Check(topic string, partitionID int32, id string, ts time.Time) (offset int64, dup bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	p := d.parts[topicPartition{topic, partitionID}]
	if p == nil {
		return 0, false
	}
	at, ok := p.ids[id]
	if !ok || at.ts+d.window < ts.UnixNano() || at.ts+d.window < p.latest {
		return 0, false
	}
	p.stats.Duplicates++
	return at.offset, true
}

// Delivered records that the record of the topic's partition at offset,
// with id and stamped ts, was delivered (or, when rebuilding, was before
// the committed offset). Records of a partition come in offset order.
func (d *Delivered) Delivered(topic string, partitionID int32, offset int64, id string, ts time.Time) {
	if id == "" {
		return
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	tp := topicPartition{topic, partitionID}
	p := d.parts[tp]
	if p == nil {
		tp.topic = strings.Clone(topic)
		p = &partition{ids: make(map[string]delivery)}
		d.parts[tp] = p
	}
	t := ts.UnixNano()
	p.latest = max(p.latest, t)
	p.expire(p.latest - d.window)
	if p.n == d.max {
		p.pop()
		p.stats.Evicted++
	}
	if p.n == len(p.ring) {
		p.grow(d.max)
	}
	e := ringEntry{id: strings.Clone(id), offset: offset, ts: t}
	p.ring[(p.head+p.n)%len(p.ring)] = e
	p.n++
	p.ids[e.id] = delivery{offset: offset, ts: t}
}

// RebuildFrom returns the earliest timestamp whose records a new owner of
// a partition needs to read back: the window before the timestamp of the
// last record before the committed offset. Reading at most
// MaxPerPartition records back from the committed offset is enough too.
func (d *Delivered) RebuildFrom(lastCommitted time.Time) time.Time {
	return lastCommitted.Add(-time.Duration(d.window))
}

// Forget drops a topic partition's ids (when it is revoked or lost).
func (d *Delivered) Forget(topic string, partitionID int32) {
	d.mu.Lock()
	defer d.mu.Unlock()
	delete(d.parts, topicPartition{topic, partitionID})
}

// Stats returns a topic partition's counters.
func (d *Delivered) Stats(topic string, partitionID int32) PartitionStats {
	d.mu.Lock()
	defer d.mu.Unlock()
	p := d.parts[topicPartition{topic, partitionID}]
	if p == nil {
		return PartitionStats{}
	}
	st := p.stats
	st.Entries = p.n
	return st
}

// expire drops the oldest entries stamped before cutoff. Timestamps mostly
// grow with offsets; an older stamp behind a newer one waits for it.
func (p *partition) expire(cutoff int64) {
	for p.n > 0 && p.ring[p.head].ts < cutoff {
		p.pop()
	}
}

// pop drops the oldest entry.
func (p *partition) pop() {
	e := p.ring[p.head]
	if at, ok := p.ids[e.id]; ok && at.offset == e.offset {
		delete(p.ids, e.id)
	}
	p.ring[p.head] = ringEntry{}
	p.head = (p.head + 1) % len(p.ring)
	p.n--
}

// grow doubles the ring, up to limit entries.
func (p *partition) grow(limit int) {
	size := min(max(16, 2*len(p.ring)), limit)
	ring := make([]ringEntry, size)
	for i := range p.n {
		ring[i] = p.ring[(p.head+i)%len(p.ring)]
	}
	p.ring, p.head = ring, 0
}
