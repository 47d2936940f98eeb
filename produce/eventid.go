package produce

import (
	"math/rand/v2"
	"sync"
	"time"

	"github.com/google/uuid"
)

// eventIDs makes the event ids of records sent without one: UUIDv7 (RFC
// 9562), the Unix time in milliseconds followed by random bits, so ids sort
// by creation time. Within one millisecond the 12 rand_a bits count up
// (RFC 9562 §6.2, method 3: sub-millisecond order), so the ids one sidecar
// makes are strictly increasing. The random bits come from math/rand/v2's
// ChaCha8 generator, seeded by the runtime from the operating system:
// unique and unpredictable enough for ids, not for secrets.
type eventIDs struct {
	mu   sync.Mutex
	last int64 // the millisecond of the latest id
	seq  int64 // rand_a of the latest id
}

var ids eventIDs

// next returns the next id in its text form (8-4-4-4-12 lower-case hex).
func (g *eventIDs) next() string {
	g.mu.Lock()
	ms := time.Now().UnixMilli()
	if ms > g.last {
		g.last, g.seq = ms, 0
	} else {
		// The same millisecond, or the clock went back: keep counting from
		// the latest id, borrowing the next millisecond when rand_a is
		// spent.
		g.seq++
		if g.seq > 0xfff {
			g.last++
			g.seq = 0
		}
		ms = g.last
	}
	seq := g.seq
	g.mu.Unlock()

	var u [16]byte
	u[0], u[1], u[2], u[3], u[4], u[5] = byte(ms>>40), byte(ms>>32), byte(ms>>24), byte(ms>>16), byte(ms>>8), byte(ms)
	u[6], u[7] = 0x70|byte(seq>>8), byte(seq) // version 7, rand_a
	r := rand.Uint64()
	for i := 8; i < 16; i++ {
		u[i] = byte(r >> (8 * (i - 8)))
	}
	u[8] = u[8]&0x3f | 0x80 // variant 10
	return uuid.UUID(u).String()
}
