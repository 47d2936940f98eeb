package kafka

import (
	"context"
	"sync"
	"time"
)

// Pinger is what Monitor asks; *kgo.Client implements it.
type Pinger interface {
	Ping(ctx context.Context) error
}

// Monitor tracks whether the cluster answers, so requests can fail fast
// while it does not and readiness can say why.
type Monitor struct {
	p        Pinger
	interval time.Duration

	mu  sync.RWMutex
	err error
}

// NewMonitor returns a monitor that pings every interval once Run is called.
// Until the first ping completes it reports the cluster as unknown (down).
func NewMonitor(p Pinger, interval time.Duration) *Monitor {
	return &Monitor{p: p, interval: interval, err: errNotChecked}
}

type notChecked struct{}

func (notChecked) Error() string { return "kafka not reached yet" }

var errNotChecked error = notChecked{}

// Run pings until ctx is done.
func (m *Monitor) Run(ctx context.Context) {
	t := time.NewTicker(m.interval)
	defer t.Stop()
	for {
		m.Check(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Check pings once now and records the outcome.
func (m *Monitor) Check(ctx context.Context) error {
	timeout := m.interval
	if timeout < time.Second {
		timeout = time.Second
	}
	err := Ping(ctx, m.p, timeout)
	if ctx.Err() != nil {
		return err
	}
	m.mu.Lock()
	m.err = err
	m.mu.Unlock()
	return err
}

// Err returns nil while the cluster answers, else the last failure.
func (m *Monitor) Err() error {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.err
}
