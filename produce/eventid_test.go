package produce

import (
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
)

// TestEventIDs: the ids are RFC 9562 version 7 with the current time,
// unique and strictly increasing, also from many goroutines at once and
// past 4096 ids in one millisecond.
func TestEventIDs(t *testing.T) {
	var g eventIDs
	before := time.Now().UnixMilli()
	prev := ""
	for i := range 20000 {
		s := g.next()
		u, err := uuid.Parse(s)
		if err != nil || u.Version() != 7 || u.Variant() != uuid.RFC4122 || u.String() != s {
			t.Fatalf("id %d %q: %v, version %v, variant %v", i, s, err, u.Version(), u.Variant())
		}
		if s <= prev {
			t.Fatalf("id %d %q is not after %q", i, s, prev)
		}
		prev = s
		if i == 0 {
			sec, nsec := u.Time().UnixTime()
			if ms := sec*1000 + nsec/1e6; ms < before || ms > time.Now().UnixMilli() {
				t.Errorf("first id's time %d, want between %d and now", ms, before)
			}
		}
	}

	var (
		mu   sync.Mutex
		seen = map[string]bool{}
		wg   sync.WaitGroup
	)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			local := make([]string, 0, 5000)
			for range 5000 {
				local = append(local, g.next())
			}
			mu.Lock()
			defer mu.Unlock()
			for _, s := range local {
				if seen[s] {
					t.Errorf("duplicate id %s", s)
				}
				seen[s] = true
			}
		}()
	}
	wg.Wait()
}

func BenchmarkEventID(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		_ = ids.next()
	}
}
