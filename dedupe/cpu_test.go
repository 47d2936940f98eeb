package dedupe

import (
	"syscall"
	"testing"
	"time"
)

// cpuClock reports the process's CPU time per operation next to the wall
// clock ns/op, which a loaded machine inflates: b.ReportMetric(cpu-ns/op).
type cpuClock struct{ start time.Duration }

func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func startCPU(b *testing.B) cpuClock {
	b.Helper()
	return cpuClock{start: processCPU()}
}

func (c cpuClock) report(b *testing.B) {
	b.Helper()
	if b.N > 0 {
		b.ReportMetric(float64(processCPU()-c.start)/float64(b.N), "cpu-ns/op")
	}
}
