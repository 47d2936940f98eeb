package dedupe

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unsafe"

	"github.com/eventguard/eventguard/internal/benchcpu"
)

// fakeClock is a clock tests move by hand.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{now: time.Date(2026, 11, 2, 12, 0, 0, 0, time.UTC)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func TestWindowReserveCommitDuplicate(t *testing.T) {
	w := NewWindow(Config{})
	r := w.Reserve("orders", "id-1")
	if r.Status != Reserved {
		t.Fatalf("first reserve: %v", r.Status)
	}
	r.Ticket.Commit(3, 42)
	d := w.Reserve("orders", "id-1")
	if d.Status != Duplicate || d.Existing != (Entry{Partition: 3, Offset: 42}) {
		t.Fatalf("second reserve: %+v", d)
	}
	r.Ticket.Commit(4, 99) // a second Commit changes nothing
	r.Ticket.Abort()
	if d := w.Reserve("orders", "id-1"); d.Existing != (Entry{Partition: 3, Offset: 42}) {
		t.Fatalf("after a second Commit and an Abort: %+v", d)
	}
	if o := w.Reserve("orders", "id-2"); o.Status != Reserved {
		t.Fatalf("another id: %v", o.Status)
	}
	st := w.Stats()
	if st.Entries != 2 || st.InFlight != 1 || st.Duplicates != 2 {
		t.Errorf("stats %+v", st)
	}
}

func TestWindowInFlightWaitsForTheOutcome(t *testing.T) {
	w := NewWindow(Config{})
	first := w.Reserve("orders", "id")
	second := w.Reserve("orders", "id")
	if second.Status != InFlight || second.Wait == nil {
		t.Fatalf("second: %+v", second)
	}
	third := w.Reserve("orders", "id")
	if third.Wait != second.Wait {
		t.Error("waiters on one id get different channels")
	}
	select {
	case <-second.Wait:
		t.Fatal("released before the outcome")
	default:
	}
	first.Ticket.Abort()
	<-second.Wait
	// Aborted: the next claimant owns the id.
	again := w.Reserve("orders", "id")
	if again.Status != Reserved {
		t.Fatalf("after abort: %v", again.Status)
	}
	waiting := w.Reserve("orders", "id")
	again.Ticket.Commit(1, 7)
	<-waiting.Wait
	if d := w.Reserve("orders", "id"); d.Status != Duplicate || d.Existing.Offset != 7 {
		t.Fatalf("after commit: %+v", d)
	}
}

// TestWindowConcurrentDuplicates: many requests with the same id at once
// (run with -race); exactly one produces, the others get its offset.
func TestWindowConcurrentDuplicates(t *testing.T) {
	w := NewWindow(Config{})
	const n = 64
	var produced atomic.Int32
	var wg sync.WaitGroup
	results := make([]Entry, n)
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			r, err := w.Claim(context.Background(), "orders", "order-42")
			if err != nil {
				t.Error(err)
				return
			}
			switch r.Status {
			case Reserved:
				produced.Add(1)
				time.Sleep(time.Millisecond) // the broker's round trip
				r.Ticket.Commit(2, 1000)
				results[i] = Entry{Partition: 2, Offset: 1000}
			case Duplicate:
				results[i] = r.Existing
			default:
				t.Errorf("Claim returned %v", r.Status)
			}
		}()
	}
	close(start)
	wg.Wait()
	if produced.Load() != 1 {
		t.Fatalf("%d requests produced, want exactly 1", produced.Load())
	}
	for i, e := range results {
		if e != (Entry{Partition: 2, Offset: 1000}) {
			t.Errorf("request %d answered %+v", i, e)
		}
	}
	if st := w.Stats(); st.Duplicates != n-1 || st.InFlight != 0 {
		t.Errorf("stats %+v", st)
	}
}

// TestWindowConcurrentAborts: when producing fails, the next claimant
// tries; still one record at most at a time, exactly one in the end.
func TestWindowConcurrentAborts(t *testing.T) {
	w := NewWindow(Config{})
	var attempts, inside atomic.Int32
	var wg sync.WaitGroup
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, err := w.Claim(context.Background(), "orders", "id")
			if err != nil || r.Status == InFlight {
				t.Errorf("Claim: %v %v", r.Status, err)
				return
			}
			if r.Status == Duplicate {
				return
			}
			if inside.Add(1) != 1 {
				t.Error("two holders at once")
			}
			n := attempts.Add(1)
			inside.Add(-1)
			if n < 4 {
				r.Ticket.Abort()
				return
			}
			r.Ticket.Commit(0, int64(n))
		}()
	}
	wg.Wait()
	if d := w.Reserve("orders", "id"); d.Status != Duplicate || d.Existing.Offset != 4 {
		t.Fatalf("final: %+v after %d attempts", d, attempts.Load())
	}
}

// TestWindowIdsPerTopic: the same event written to two topics (a dual
// write) is two records.
func TestWindowIdsPerTopic(t *testing.T) {
	w := NewWindow(Config{})
	w.Reserve("orders", "id").Ticket.Commit(0, 1)
	r := w.Reserve("orders-v2", "id")
	if r.Status != Reserved {
		t.Fatalf("another topic: %v", r.Status)
	}
	r.Ticket.Commit(5, 9)
	if d := w.Reserve("orders", "id"); d.Existing != (Entry{Partition: 0, Offset: 1}) {
		t.Errorf("orders: %+v", d)
	}
	if d := w.Reserve("orders-v2", "id"); d.Existing != (Entry{Partition: 5, Offset: 9}) {
		t.Errorf("orders-v2: %+v", d)
	}
}

func TestWindowClaimHonoursContext(t *testing.T) {
	w := NewWindow(Config{})
	held := w.Reserve("orders", "id")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, err := w.Claim(ctx, "orders", "id"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Claim = %v, want the deadline", err)
	}
	held.Ticket.Abort()
}

func TestWindowExpiry(t *testing.T) {
	clk := newFakeClock()
	w := NewWindow(Config{Window: 10 * time.Minute, Now: clk.Now})
	r := w.Reserve("orders", "a")
	clk.Advance(5 * time.Minute) // time in flight does not count
	r.Ticket.Commit(0, 1)
	clk.Advance(10*time.Minute - time.Nanosecond)
	if d := w.Reserve("orders", "a"); d.Status != Duplicate {
		t.Fatalf("just inside the window: %v", d.Status)
	}
	b := w.Reserve("orders", "b")
	b.Ticket.Commit(0, 2)
	clk.Advance(time.Nanosecond)
	if d := w.Reserve("orders", "a"); d.Status != Reserved {
		t.Fatalf("at the end of the window: %v", d.Status)
	}
	if d := w.Reserve("orders", "b"); d.Status != Duplicate {
		t.Fatalf("b expired with a: %v", d.Status)
	}
	if st := w.Stats(); st.Entries != 2 || st.Evicted != 0 {
		t.Errorf("stats %+v", st)
	}
}

// TestWindowBound: past MaxEntries the oldest acknowledged id goes first,
// in-flight ids are never dropped, and when every entry is in flight a
// reservation goes through untracked.
func TestWindowBound(t *testing.T) {
	w := NewWindow(Config{MaxEntries: 3})
	for i, id := range []string{"a", "b", "c"} {
		w.Reserve("orders", id).Ticket.Commit(0, int64(i))
	}
	w.Reserve("orders", "d").Ticket.Commit(0, 3) // evicts a
	if r := w.Reserve("orders", "a"); r.Status != Reserved {
		t.Fatalf("a after eviction: %v", r.Status) // evicts b; a is in flight
	}
	if r := w.Reserve("orders", "b"); r.Status != Reserved {
		t.Fatalf("b: %v", r.Status) // evicts c
	}
	if r := w.Reserve("orders", "d"); r.Status != Duplicate {
		t.Fatalf("d: %v", r.Status)
	}
	e := w.Reserve("orders", "e") // evicts d: a, b, e are in flight
	if e.Status != Reserved {
		t.Fatalf("e: %v", e.Status)
	}
	f := w.Reserve("orders", "f")
	if f.Status != Reserved || f.Ticket != (Ticket{}) {
		t.Fatalf("f: %+v, want an untracked reservation", f)
	}
	f.Ticket.Commit(0, 9) // a no-op
	if r := w.Reserve("orders", "f"); r.Status != Reserved {
		t.Fatalf("f is remembered: %v", r.Status)
	}
	st := w.Stats()
	if st.Entries != 3 || st.InFlight != 3 || st.Evicted != 4 || st.Untracked != 2 {
		t.Errorf("stats %+v", st)
	}
}

func TestWindowKeepsNoCallerMemory(t *testing.T) {
	w := NewWindow(Config{})
	body := []byte(`{"id":"abc"}`)
	id := string(body[7:10])
	w.Reserve("orders", id).Ticket.Commit(0, 1)
	w.mu.Lock()
	defer w.mu.Unlock()
	for k, s := range w.m {
		if k != "orders\x00abc" || unsafe.StringData(s.id) == unsafe.StringData(id) {
			t.Fatalf("key %q", k)
		}
	}
}

func TestStatusString(t *testing.T) {
	for s, want := range map[Status]string{Reserved: "reserved", Duplicate: "duplicate", InFlight: "in_flight", 9: "unknown"} {
		if s.String() != want {
			t.Errorf("%d: %q", s, s.String())
		}
	}
}

// BenchmarkWindowReserveCommit is the produce path's cost per record:
// a new id reserved and committed, in a full window (steady state).
func BenchmarkWindowReserveCommit(b *testing.B) {
	w := NewWindow(Config{MaxEntries: 100_000})
	ids := make([]string, 200_000)
	for i := range ids {
		ids[i] = fmt.Sprintf("0193a5d2-%04x-7c11-b2d4-%012x", i%65536, i)
	}
	for i := range 100_000 {
		w.Reserve("orders", ids[i]).Ticket.Commit(0, int64(i))
	}
	b.ReportAllocs()
	c := benchcpu.Start(b)
	i := 0
	for b.Loop() {
		r := w.Reserve("orders", ids[i%len(ids)])
		r.Ticket.Commit(1, int64(i))
		i++
	}
	c.Report(b)
}

// BenchmarkWindowMemory measures the memory of a Window entry: 100,000
// acknowledged 36-byte ids (UUIDs). It reports bytes/entry.
func BenchmarkWindowMemory(b *testing.B) {
	const n = 100_000
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("0193a5d2-%04x-7c11-b2d4-%012x", i%65536, i)
	}
	for range b.N {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		w := NewWindow(Config{MaxEntries: n})
		for i, id := range ids {
			w.Reserve("orders", id).Ticket.Commit(int32(i%12), int64(i))
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		if w.Stats().Entries != n {
			b.Fatal(w.Stats())
		}
		b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/n, "bytes/entry")
		runtime.KeepAlive(w)
	}
}
