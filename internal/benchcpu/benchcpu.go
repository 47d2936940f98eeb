// Package benchcpu reports a benchmark's process CPU time per operation
// beside the wall-clock ns/op, which a loaded machine inflates: on a
// machine shared with other work, cpu-ns/op is the figure to compare.
package benchcpu

import (
	"syscall"
	"testing"
	"time"
)

// Clock is the process CPU time when a measurement started.
type Clock struct{ start time.Duration }

// processCPU is the process's user and system CPU time so far.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// Start starts measuring; call it after the benchmark's setup (after
// b.ResetTimer).
func Start(b *testing.B) Clock {
	b.Helper()
	return Clock{start: processCPU()}
}

// Report adds the CPU time per operation since Start as the metric
// cpu-ns/op.
func (c Clock) Report(b *testing.B) {
	b.Helper()
	if b.N > 0 {
		b.ReportMetric(float64(processCPU()-c.start)/float64(b.N), "cpu-ns/op")
	}
}
