package dedupe

import (
	"fmt"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/eventguard/eventguard/internal/benchcpu"
)

var t0 = time.Date(2026, 11, 2, 12, 0, 0, 0, time.UTC)

func at(d time.Duration) time.Time { return t0.Add(d) }

func TestDeliveredWithinTheWindow(t *testing.T) {
	d := NewDelivered(DeliveredConfig{Window: 10 * time.Minute})
	if _, dup := d.Check("orders", 0, "a", at(0)); dup {
		t.Fatal("unknown id is a duplicate")
	}
	d.Delivered("orders", 0, 100, "a", at(0))
	if off, dup := d.Check("orders", 0, "a", at(time.Minute)); !dup || off != 100 {
		t.Fatalf("Check = %d, %v", off, dup)
	}
	if _, dup := d.Check("orders", 1, "a", at(time.Minute)); dup {
		t.Fatal("another partition shares ids")
	}
	if _, dup := d.Check("orders", 0, "a", at(10*time.Minute)); !dup {
		t.Fatal("at the window's edge: not a duplicate")
	}
	if _, dup := d.Check("orders", 0, "a", at(10*time.Minute+time.Nanosecond)); dup {
		t.Fatal("a record past the window is a duplicate")
	}
	// An older timestamp on the duplicate (a producer's clock) still counts.
	if _, dup := d.Check("orders", 0, "a", at(-time.Hour)); !dup {
		t.Fatal("an earlier-stamped duplicate passes")
	}
	if st := d.Stats("orders", 0); st.Entries != 1 || st.Duplicates != 3 {
		t.Errorf("stats %+v", st)
	}
}

func TestDeliveredExpiresByRecordTime(t *testing.T) {
	d := NewDelivered(DeliveredConfig{Window: time.Minute})
	d.Delivered("orders", 0, 1, "a", at(0))
	d.Delivered("orders", 0, 2, "b", at(30*time.Second))
	d.Delivered("orders", 0, 3, "c", at(90*time.Second)) // a is now out of the window
	if st := d.Stats("orders", 0); st.Entries != 2 {
		t.Fatalf("entries %d, want 2", st.Entries)
	}
	if _, dup := d.Check("orders", 0, "a", at(0)); dup {
		t.Fatal("a expired but is a duplicate")
	}
	// An entry that the ring could not expire yet (older stamp behind a
	// newer one) is not a duplicate once the partition moved past it.
	d.Delivered("orders", 0, 4, "late", at(-time.Hour))
	d.Delivered("orders", 0, 5, "d", at(91*time.Second))
	if _, dup := d.Check("orders", 0, "late", at(92*time.Second)); dup {
		t.Fatal("a stale entry counts")
	}
}

func TestDeliveredBoundAndForget(t *testing.T) {
	d := NewDelivered(DeliveredConfig{MaxPerPartition: 3})
	for i, id := range []string{"a", "b", "c", "d"} {
		d.Delivered("orders", 7, int64(i), id, at(time.Duration(i)*time.Second))
	}
	if st := d.Stats("orders", 7); st.Entries != 3 || st.Evicted != 1 {
		t.Fatalf("stats %+v", st)
	}
	if _, dup := d.Check("orders", 7, "a", at(5*time.Second)); dup {
		t.Fatal("evicted id found")
	}
	for _, id := range []string{"b", "c", "d"} {
		if _, dup := d.Check("orders", 7, id, at(5*time.Second)); !dup {
			t.Fatalf("%s lost", id)
		}
	}
	// An id delivered twice (a caller that delivers duplicates anyway)
	// keeps its last offset when its older entry leaves the ring.
	d2 := NewDelivered(DeliveredConfig{MaxPerPartition: 3})
	d2.Delivered("orders", 0, 0, "a", at(0))
	d2.Delivered("orders", 0, 1, "b", at(time.Second))
	d2.Delivered("orders", 0, 2, "a", at(2*time.Second))
	d2.Delivered("orders", 0, 3, "c", at(3*time.Second)) // pops the first a
	if off, dup := d2.Check("orders", 0, "a", at(4*time.Second)); !dup || off != 2 {
		t.Fatalf("a = %d, %v after its older entry left", off, dup)
	}
	d2.Delivered("orders", 0, 4, "d", at(4*time.Second)) // pops b
	d2.Delivered("orders", 0, 5, "e", at(5*time.Second)) // pops the second a
	if _, dup := d2.Check("orders", 0, "a", at(5*time.Second)); dup {
		t.Fatal("a outlived its entries")
	}
	d.Forget("orders", 7)
	if _, dup := d.Check("orders", 7, "b", at(5*time.Second)); dup || d.Stats("orders", 7).Entries != 0 {
		t.Fatal("Forget kept ids")
	}
	d.Delivered("orders", 7, 1, "", at(0)) // records without an id are not remembered
	if d.Stats("orders", 7).Entries != 0 {
		t.Fatal("empty id remembered")
	}
}

// TestDeliveredRebuild: a new owner rebuilds a partition from the records
// before the committed offset and finds the same duplicates as the
// previous owner would have.
func TestDeliveredRebuild(t *testing.T) {
	type rec struct {
		off int64
		id  string
		ts  time.Duration
	}
	log := []rec{{0, "a", 0}, {1, "b", time.Minute}, {2, "c", 12 * time.Minute}, {3, "d", 13 * time.Minute}}
	previous := NewDelivered(DeliveredConfig{Window: 10 * time.Minute})
	for _, r := range log {
		previous.Delivered("orders", 1, r.off, r.id, at(r.ts))
	}
	next := NewDelivered(DeliveredConfig{Window: 10 * time.Minute})
	from := next.RebuildFrom(at(13 * time.Minute))
	if !from.Equal(at(3 * time.Minute)) {
		t.Fatalf("RebuildFrom = %v", from)
	}
	for _, r := range log {
		if !at(r.ts).Before(from) {
			next.Delivered("orders", 1, r.off, r.id, at(r.ts))
		}
	}
	for _, id := range []string{"a", "b", "c", "d", "e"} {
		_, want := previous.Check("orders", 1, id, at(14*time.Minute))
		_, got := next.Check("orders", 1, id, at(14*time.Minute))
		if got != want {
			t.Errorf("%s: rebuilt %v, previous owner %v", id, got, want)
		}
	}
}

func TestDeliveredTopicsApart(t *testing.T) {
	d := NewDelivered(DeliveredConfig{})
	d.Delivered("orders", 0, 1, "a", at(0))
	if _, dup := d.Check("payments", 0, "a", at(0)); dup {
		t.Fatal("partition 0 of another topic shares ids")
	}
	d.Delivered("payments", 0, 7, "a", at(0))
	d.Forget("payments", 0)
	if off, dup := d.Check("orders", 0, "a", at(0)); !dup || off != 1 {
		t.Fatalf("Forget of payments dropped orders: %d %v", off, dup)
	}
}

func TestDeliveredConcurrentPartitions(t *testing.T) {
	d := NewDelivered(DeliveredConfig{MaxPerPartition: 100})
	var wg sync.WaitGroup
	for p := range int32(8) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 500 {
				id := fmt.Sprint(i % 150)
				if _, dup := d.Check("orders", p, id, at(time.Duration(i)*time.Millisecond)); !dup {
					d.Delivered("orders", p, int64(i), id, at(time.Duration(i)*time.Millisecond))
				}
			}
			if p%2 == 0 {
				d.Forget("orders", p)
			}
		}()
	}
	wg.Wait()
	for p := range int32(8) {
		if n := d.Stats("orders", p).Entries; (p%2 == 0 && n != 0) || (p%2 == 1 && n != 100) {
			t.Errorf("partition %d: %d entries", p, n)
		}
	}
}

// BenchmarkDeliveredCheck is the consume path's cost per record: check a
// new id, then remember it, in a full partition window.
func BenchmarkDeliveredCheck(b *testing.B) {
	d := NewDelivered(DeliveredConfig{})
	ids := make([]string, 20_000)
	for i := range ids {
		ids[i] = fmt.Sprintf("0193a5d2-%04x-7c11-b2d4-%012x", i%65536, i)
	}
	for i := range 10_000 {
		d.Delivered("orders", 0, int64(i), ids[i], at(0))
	}
	b.ReportAllocs()
	c := benchcpu.Start(b)
	i := 0
	for b.Loop() {
		id := ids[i%len(ids)]
		if _, dup := d.Check("orders", 0, id, at(0)); !dup {
			d.Delivered("orders", 0, int64(i), id, at(0))
		}
		i++
	}
	c.Report(b)
}

// BenchmarkDeliveredMemory measures the memory of a Delivered entry:
// 10,000 36-byte ids on one partition. It reports bytes/entry.
func BenchmarkDeliveredMemory(b *testing.B) {
	const n = DefaultMaxPerPartition
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("0193a5d2-%04x-7c11-b2d4-%012x", i%65536, i)
	}
	for range b.N {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		d := NewDelivered(DeliveredConfig{})
		for i, id := range ids {
			d.Delivered("orders", 0, int64(i), id, at(0))
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		if d.Stats("orders", 0).Entries != n {
			b.Fatal(d.Stats("orders", 0))
		}
		b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/n, "bytes/entry")
		runtime.KeepAlive(d)
	}
}
