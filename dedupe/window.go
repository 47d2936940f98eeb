package dedupe

import (
	"context"
	"sync"
	"time"
)

// Defaults of [Config].
const (
	// DefaultWindow is how long a produced event id is remembered.
	DefaultWindow = 10 * time.Minute
	// DefaultMaxEntries bounds the ids a Window remembers. At about 165
	// bytes an entry with 36-byte ids (see BenchmarkWindowMemory), 100,000
	// entries take about 16 MB. Past it the oldest id goes first: at more
	// than MaxEntries/Window records a second (about 170/s with the
	// defaults) the effective window is shorter than Window, which
	// Stats.Evicted counts.
	DefaultMaxEntries = 100_000
)

// Config configures a Window. A zero field takes its default.
type Config struct {
	// Window is how long an id is remembered after its record was
	// acknowledged (default 10 minutes).
	Window time.Duration
	// MaxEntries bounds the ids remembered, in flight or acknowledged
	// (default 100,000).
	MaxEntries int
	// Now is the clock (default time.Now); tests inject one.
	Now func() time.Time
}

// Entry is where a record with a given event id landed on its topic.
type Entry struct {
	// Partition and Offset locate the acknowledged record.
	Partition int32
	Offset    int64
}

// Status says what Reserve found.
type Status uint8

// The statuses of a Reservation.
const (
	// Reserved: the caller owns the id; it must end its ticket with
	// Commit (the record was acknowledged) or Abort (it was not).
	Reserved Status = iota
	// Duplicate: a record with this id was acknowledged within the
	// window; Existing says where. Do not produce it again.
	Duplicate
	// InFlight: another request holds the id; wait on Wait (or a
	// context), then Reserve again.
	InFlight
)

// String returns reserved, duplicate or in_flight.
func (s Status) String() string {
	switch s {
	case Reserved:
		return "reserved"
	case Duplicate:
		return "duplicate"
	case InFlight:
		return "in_flight"
	}
	return "unknown"
}

// Reservation is the answer of Reserve.
type Reservation struct {
	// Status says which of the other fields holds.
	Status Status
	// Ticket ends a Reserved id.
	Ticket Ticket
	// Existing is where a Duplicate landed.
	Existing Entry
	// Wait is closed when an InFlight id's holder commits or aborts.
	Wait <-chan struct{}
}

// Window remembers, for a time, the event ids the sidecar produced to
// each topic and where each landed, so that a retried request is answered
// with the original record instead of producing it twice. Ids are per
// topic: the same event written to two topics (a dual write during a
// version migration) is two records. An id is reserved before
// its record is produced and committed once the broker acknowledged it; a
// second request with the same id meanwhile waits for the first's outcome,
// so that of concurrent duplicates exactly one record is produced. A
// Window is safe for concurrent use and bounded (Config.MaxEntries).
//
// It remembers what this process produced: another sidecar, or this one
// after a restart, does not know these ids.
type Window struct {
	mu      sync.Mutex
	window  time.Duration
	max     int
	now     func() time.Time
	epoch   time.Time
	m       map[string]*slot
	fifo    slot // sentinel of the acknowledged ids, oldest first after it
	stats   Stats
	pending int    // ids in flight
	buf     []byte // the map key being looked up, under mu
}

// slot is one (topic, id): in flight (no expiry, not in the FIFO) or
// acknowledged.
type slot struct {
	id         string // topic NUL id
	entry      Entry
	expires    int64 // nanoseconds since the window's epoch
	inFlight   bool
	done       chan struct{} // made when someone waits on an in-flight id
	prev, next *slot
}

// Stats are a Window's counters.
type Stats struct {
	// Entries is the number of ids remembered; InFlight of them are
	// reserved and not yet committed or aborted.
	Entries, InFlight int
	// Duplicates counts reservations answered Duplicate.
	Duplicates uint64
	// Evicted counts acknowledged ids pushed out by MaxEntries before
	// their window ended.
	Evicted uint64
	// Untracked counts reservations granted without memory because every
	// entry was in flight (the bound held; those ids are not deduplicated).
	Untracked uint64
}

// NewWindow returns an empty Window.
func NewWindow(cfg Config) *Window {
	if cfg.Window <= 0 {
		cfg.Window = DefaultWindow
	}
	if cfg.MaxEntries <= 0 {
		cfg.MaxEntries = DefaultMaxEntries
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	w := &Window{window: cfg.Window, max: cfg.MaxEntries, now: cfg.Now, epoch: cfg.Now(), m: make(map[string]*slot)}
	w.fifo.next, w.fifo.prev = &w.fifo, &w.fifo
	return w
}

func (w *Window) clock() int64 { return int64(w.now().Sub(w.epoch)) }

// Reserve claims id on topic. It never blocks: a Reserved id belongs to
// the caller until it ends the ticket; a Duplicate says where the first
// record landed; an InFlight id is held by another request (wait, then
// Reserve again; Claim does this loop). Topic names hold no NUL byte.
func (w *Window) Reserve(topic, id string) Reservation {
	w.mu.Lock()
	defer w.mu.Unlock()
	now := w.clock()
	w.expire(now)
	w.buf = append(append(append(w.buf[:0], topic...), 0), id...)
	if s, ok := w.m[string(w.buf)]; ok {
		if s.inFlight {
			if s.done == nil {
				s.done = make(chan struct{})
			}
			return Reservation{Status: InFlight, Wait: s.done}
		}
		w.stats.Duplicates++
		return Reservation{Status: Duplicate, Existing: s.entry}
	}
	if len(w.m) >= w.max {
		if w.fifo.next == &w.fifo {
			w.stats.Untracked++
			return Reservation{Status: Reserved}
		}
		w.remove(w.fifo.next)
		w.stats.Evicted++
	}
	s := &slot{id: string(w.buf), inFlight: true}
	w.m[s.id] = s
	w.pending++
	return Reservation{Status: Reserved, Ticket: Ticket{w: w, s: s}}
}

// Claim reserves id on topic, waiting while another request holds it,
// until ctx ends. It returns a Reservation whose Status is Reserved or
// Duplicate, or ctx's error.
func (w *Window) Claim(ctx context.Context, topic, id string) (Reservation, error) {
	for {
		r := w.Reserve(topic, id)
		if r.Status != InFlight {
			return r, nil
		}
		select {
		case <-r.Wait:
		case <-ctx.Done():
			return Reservation{}, ctx.Err()
		}
	}
}

// expire drops the acknowledged ids whose window has ended.
func (w *Window) expire(now int64) {
	for s := w.fifo.next; s != &w.fifo && s.expires <= now; s = w.fifo.next {
		w.remove(s)
	}
}

// remove forgets an acknowledged id.
func (w *Window) remove(s *slot) {
	s.prev.next, s.next.prev = s.next, s.prev
	s.prev, s.next = nil, nil
	delete(w.m, s.id)
}

// Stats returns the counters.
func (w *Window) Stats() Stats {
	w.mu.Lock()
	defer w.mu.Unlock()
	st := w.stats
	st.Entries, st.InFlight = len(w.m), w.pending
	return st
}

// Ticket ends a Reserved id. The zero Ticket (an untracked reservation)
// ends as a no-op. Only the first Commit or Abort counts.
type Ticket struct {
	w *Window
	s *slot
}

// Commit records where the id's record landed, from now for the window,
// and releases whoever waits on it (they get Duplicate).
func (t Ticket) Commit(partition int32, offset int64) {
	if t.s == nil {
		return
	}
	w := t.w
	w.mu.Lock()
	defer w.mu.Unlock()
	s := t.s
	if !s.inFlight {
		return
	}
	s.inFlight = false
	w.pending--
	s.entry = Entry{Partition: partition, Offset: offset}
	s.expires = w.clock() + int64(w.window)
	s.prev, s.next = w.fifo.prev, &w.fifo
	w.fifo.prev.next = s
	w.fifo.prev = s
	if s.done != nil {
		close(s.done)
	}
}

// Abort forgets the id (its record was not produced) and releases whoever
// waits on it: the next of them reserves it.
func (t Ticket) Abort() {
	if t.s == nil {
		return
	}
	w := t.w
	w.mu.Lock()
	defer w.mu.Unlock()
	s := t.s
	if !s.inFlight {
		return
	}
	s.inFlight = false
	w.pending--
	delete(w.m, s.id)
	if s.done != nil {
		close(s.done)
	}
}
