package dlq

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// Producer is the part of a Kafka client the Writer uses; *kgo.Client
// implements it. The client decides durability: eventguard's clients wait
// for all in-sync replicas (acks=all) and are idempotent.
type Producer interface {
	Produce(ctx context.Context, r *kgo.Record, promise func(*kgo.Record, error))
}

var _ Producer = (*kgo.Client)(nil)

// Retry says how a failed write is retried.
type Retry struct {
	// Backoff returns the wait before retry n (1 for the first retry).
	// nil means no retry.
	Backoff func(n int) time.Duration
	// OnFail, if set, is called with attempt n's error before the wait.
	OnFail func(n int, err error)
}

// Writer produces dead-letter records and retries them until the broker
// acknowledges them.
type Writer struct {
	p Producer
}

// NewWriter returns a Writer producing through p.
func NewWriter(p Producer) *Writer { return &Writer{p: p} }

// Write produces r without blocking and calls done exactly once: with nil
// when the broker has acknowledged r, or with the last error once retrying
// stopped because ctx is done. Until then every failure is retried with
// retry's backoff; no goroutine waits meanwhile. ctx also bounds each
// attempt's time in the client's buffer. r must not be touched until done.
func (w *Writer) Write(ctx context.Context, r *kgo.Record, retry Retry, done func(error)) {
	w.attempt(ctx, r, retry, 1, done)
}

func (w *Writer) attempt(ctx context.Context, r *kgo.Record, retry Retry, n int, done func(error)) {
	w.p.Produce(ctx, r, func(r *kgo.Record, err error) {
		if err == nil {
			done(nil)
			return
		}
		err = fmt.Errorf("write dead-letter record to %s (attempt %d): %w", r.Topic, n, err)
		if ctx.Err() != nil || retry.Backoff == nil {
			done(err)
			return
		}
		if retry.OnFail != nil {
			retry.OnFail(n, err)
		}
		// Wait for the backoff or ctx, whichever comes first; the loser
		// does nothing.
		var settled atomic.Bool
		stop := context.AfterFunc(ctx, func() {
			if settled.CompareAndSwap(false, true) {
				done(err)
			}
		})
		time.AfterFunc(retry.Backoff(n), func() {
			if settled.CompareAndSwap(false, true) {
				stop()
				w.attempt(ctx, r, retry, n+1, done)
			}
		})
	})
}
