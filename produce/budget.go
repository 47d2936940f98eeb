package produce

import (
	"sync"

	"github.com/twmb/franz-go/pkg/kgo"
)

// budget is the admission bound on what the pipeline has handed to the
// producer and Kafka has not acknowledged yet: kafka.max_buffered_records
// records and kafka.max_buffered_bytes bytes, as franz-go's own buffer
// bounds. A request reserves room for all its records before any is handed
// over, or is refused whole (429 overloaded) at once: it never waits for
// room, and an all-or-nothing request is never half handed over for want
// of it. Each acknowledgement (or failure) gives its record's room back.
type budget struct {
	mu              sync.Mutex
	records, bytes  int // in use
	maxRec, maxByte int
}

// reserve takes room for n records of b bytes, all or none.
func (b *budget) reserve(n, size int) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.records+n > b.maxRec || b.bytes+size > b.maxByte {
		return false
	}
	b.records += n
	b.bytes += size
	return true
}

// release gives back room for n records of size bytes.
func (b *budget) release(n, size int) {
	b.mu.Lock()
	b.records -= n
	b.bytes -= size
	b.mu.Unlock()
}

// inUse returns the records and bytes handed over and not yet released.
func (b *budget) inUse() (records, bytes int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.records, b.bytes
}

// recordSize is what a record counts against the byte budget: what
// franz-go counts against kafka.max_buffered_bytes (key, value, header
// names and values).
func recordSize(r *kgo.Record) int {
	n := len(r.Key) + len(r.Value)
	for _, h := range r.Headers {
		n += len(h.Key) + len(h.Value)
	}
	return n
}
