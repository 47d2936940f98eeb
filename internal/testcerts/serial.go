package testcerts

import (
	"math/big"
	"sync/atomic"
	"time"
)

// atomicSerial hands out distinct certificate serial numbers.
type atomicSerial struct{ n atomic.Int64 }

func (s *atomicSerial) next() *big.Int {
	s.n.CompareAndSwap(0, time.Now().UnixNano())
	return big.NewInt(s.n.Add(1))
}
