package consume

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/eventguard/eventguard/check"
	"github.com/eventguard/eventguard/config"
	"github.com/eventguard/eventguard/dlq"
	"github.com/eventguard/eventguard/kafka"
	"github.com/eventguard/eventguard/rules"
	"github.com/eventguard/eventguard/telemetry/span"
	"github.com/eventguard/eventguard/validate"
)

// partition is one assigned partition's worker: it takes the partition's
// records in offset order, one at a time, and finishes each (delivered or
// dead-lettered) before starting the next, except that dead-letter writes
// are not waited for: up to partCap records may be started and unfinished.
type partition struct {
	l        *Loop
	topic    string
	part     int32
	dlqTopic string
	labels   Labels
	// policy and anySubject say which subjects the topic's records may
	// carry (check.ConsumeInput).
	policy     config.Topic
	anySubject bool
	tpMap      map[string][]int32 // for Pause/ResumeFetchPartitions

	// soft ends the worker after the record in hand; hard cuts off that
	// record's delivery attempt and the dead-letter writes.
	soft, hard             context.Context
	cancelSoft, cancelHard context.CancelFunc
	done                   chan struct{} // closed when the worker exits
	wake                   chan struct{} // new records, an acknowledgement, or a failure

	mu     sync.Mutex
	queue  []*kgo.Record // fetched, not started
	last   int64         // offset of the last record queued
	paused bool
	// win holds the started records from the oldest unfinished one on, in
	// offset order; finished ones are popped from its front into mark.
	win []*slot
	// outstanding counts dead-letter writes not yet acknowledged; failing
	// counts those that failed at least once and are being retried.
	outstanding, failing int
	mark                 kgo.EpochOffset // the next offset to commit; -1 when none
	committed            int64           // the last offset committed
	closed               bool
}

// slot is a started record in the window.
type slot struct {
	offset  int64
	epoch   int32
	done    bool
	failing bool
}

func newPartition(l *Loop, topic string, part int32) *partition {
	p := &partition{
		l:         l,
		topic:     topic,
		part:      part,
		dlqTopic:  l.sub.DLQTopicFor(topic),
		labels:    Labels{Subscription: l.sub.Name, Group: l.sub.Group, Topic: topic},
		tpMap:     map[string][]int32{topic: {part}},
		done:      make(chan struct{}),
		wake:      make(chan struct{}, 1),
		last:      -1,
		mark:      kgo.EpochOffset{Epoch: -1, Offset: -1},
		committed: -1,
	}
	p.policy, p.anySubject = l.o.Policy(topic)
	p.hard, p.cancelHard = context.WithCancel(l.baseCtx)
	p.soft, p.cancelSoft = context.WithCancel(p.hard)
	return p
}

func (p *partition) signal() {
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

// enqueue appends polled records; it never blocks. A partition holding its
// share of MaxInFlight is paused: the client fetches it no more until the
// worker has done half of its queue.
func (p *partition) enqueue(recs []*kgo.Record) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed || p.soft.Err() != nil {
		return
	}
	for _, r := range recs {
		if r.Offset <= p.last {
			continue // already queued: never twice, never backwards
		}
		p.queue = append(p.queue, r)
		p.last = r.Offset
	}
	if !p.paused && int64(len(p.queue)) >= p.l.partCap.Load() {
		p.paused = true
		p.l.cl.PauseFetchPartitions(p.tpMap)
	}
	p.signal()
}

// next returns the next record to handle, waiting while the queue is empty,
// the window is full or a dead-letter write is failing; nil once stopped.
func (p *partition) next() *kgo.Record {
	for {
		p.mu.Lock()
		if p.soft.Err() != nil {
			p.mu.Unlock()
			return nil
		}
		limit := p.l.partCap.Load()
		if p.paused && int64(len(p.queue)) <= limit/2 {
			p.paused = false
			p.l.cl.ResumeFetchPartitions(p.tpMap)
		}
		if len(p.queue) > 0 && p.failing == 0 && int64(len(p.win)) < limit {
			r := p.queue[0]
			p.queue[0] = nil
			p.queue = p.queue[1:]
			p.mu.Unlock()
			return r
		}
		p.mu.Unlock()
		select {
		case <-p.wake:
		case <-p.soft.Done():
			return nil
		}
	}
}

// run is the worker.
func (p *partition) run() {
	defer close(p.done)
	for {
		r := p.next()
		if r == nil {
			return
		}
		if abandoned := p.handle(r); abandoned {
			return
		}
	}
}

// drain waits for the outstanding dead-letter writes (until hard) and drops
// the queue. The worker has exited.
func (p *partition) drain() {
	for {
		p.mu.Lock()
		if p.outstanding == 0 || p.hard.Err() != nil {
			p.closed = true
			p.queue = nil
			p.mu.Unlock()
			p.cancelHard()
			return
		}
		p.mu.Unlock()
		select {
		case <-p.wake:
		case <-p.hard.Done():
		}
	}
}

// uncommitted returns the offset to commit if it moved since the last commit.
func (p *partition) uncommitted() (kgo.EpochOffset, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.mark, p.mark.Offset > p.committed
}

func (p *partition) committedTo(offset int64) {
	p.mu.Lock()
	p.committed = max(p.committed, offset)
	p.mu.Unlock()
}

// finished records that r was delivered.
func (p *partition) finished(r *kgo.Record) {
	p.mu.Lock()
	if len(p.win) == 0 {
		p.mark = kgo.EpochOffset{Epoch: r.LeaderEpoch, Offset: r.Offset + 1}
	} else {
		p.win = append(p.win, &slot{offset: r.Offset, epoch: r.LeaderEpoch, done: true})
	}
	p.mu.Unlock()
}

// settle records the end of a dead-letter write: acknowledged (err nil) or
// given up (the partition is stopping; the record stays uncommitted).
func (p *partition) settle(s *slot, err error) {
	p.mu.Lock()
	p.outstanding--
	if s.failing {
		s.failing = false
		p.failing--
	}
	if err == nil {
		s.done = true
		i := 0
		for ; i < len(p.win) && p.win[i].done; i++ {
			p.mark = kgo.EpochOffset{Epoch: p.win[i].epoch, Offset: p.win[i].offset + 1}
			p.win[i] = nil
		}
		p.win = p.win[i:]
	}
	p.mu.Unlock()
	p.signal()
}

// handle runs one record to its end: delivered, or handed to the dead-letter
// writer. It reports whether the record was abandoned instead because the
// partition is stopping. A panic is recovered and the record dead-lettered.
func (p *partition) handle(r *kgo.Record) (abandoned bool) {
	l := p.l
	ctx := span.Propagator.Extract(p.hard, kafka.HeaderCarrier{Headers: &r.Headers})
	ctx, span := l.o.Tracer.Start(ctx, "process "+p.topic, trace.WithSpanKind(trace.SpanKindConsumer))
	defer span.End()
	if span.IsRecording() {
		span.SetAttributes(
			attribute.String("messaging.system", "kafka"),
			attribute.String("messaging.operation.type", "process"),
			attribute.String("messaging.destination.name", p.topic),
			attribute.String("messaging.consumer.group.name", l.sub.Group),
			attribute.String("messaging.destination.partition.id", fmt.Sprint(p.part)),
			attribute.Int64("messaging.kafka.offset", r.Offset),
		)
	}

	var (
		settled    bool // finished or handed to the dead-letter writer
		delivering bool
		res        = check.ConsumeVerdict{SchemaID: -1}
	)
	defer func() {
		v := recover()
		if v == nil {
			return
		}
		l.log.Error("panic while handling a record", "topic", p.topic, "partition", p.part, "offset", r.Offset, "panic", v, "stack", string(debug.Stack()))
		if settled {
			return
		}
		// A failure in the transport counts against delivery; anywhere
		// before, against validation.
		reason := dlq.ReasonSchemaViolation
		if delivering {
			reason = dlq.ReasonDeliveryExhausted
		}
		abandoned = !p.deadLetterSafely(ctx, r, &dlq.Info{
			Reason:   reason,
			Message:  fmt.Sprintf("eventguard failed while handling the record: %v", v),
			SchemaID: res.SchemaID,
		}, p.labels)
	}()

	var err error
	for wait := 1; ; wait++ {
		t0 := time.Now()
		res, err = l.check.Consume(ctx, &check.ConsumeInput{Topic: p.policy, AnySubject: p.anySubject, Value: r.Value, Group: l.sub.Group,
			Partition: p.part, Key: r.Key, Headers: r.Headers, State: l.state})
		if err == nil {
			if res.Schema != nil {
				l.o.Observer.Validated(time.Since(t0))
			}
			break
		}
		// Not the record's fault: wait for the registry, then ask again.
		if wait&(wait-1) == 0 { // 1, 2, 4, 8... so a long outage is not a flood
			l.log.Warn("schema registry unavailable; the partition waits", "topic", p.topic, "partition", p.part, "offset", r.Offset, "attempt", wait, "error", err)
		}
		if !sleep(p.soft, l.backoff(wait)) {
			return true
		}
	}
	labels := p.labels
	if res.Schema != nil {
		labels.Subject, labels.Version = res.Schema.Subject, res.Schema.Version
		labels.Deprecated = res.Deprecation != nil
	}
	if len(res.Rules) > 0 {
		p.rulesRan(r, labels, &res.Verdict)
	}
	if !res.Passed() {
		settled = true
		span.SetStatus(codes.Error, res.Code)
		info := &dlq.Info{
			Reason:     res.Code,
			Message:    res.Message,
			Violations: violations(res.Violations),
			SchemaID:   res.SchemaID,
			Subject:    labels.Subject,
			Version:    labels.Version,
		}
		if c := res.CauseRule(); c != nil && res.Code == check.CodeRuleViolation {
			info.Rule = c.Rule.Name
		}
		p.deadLetter(ctx, r, info, labels)
		return false
	}

	d := &Delivery{
		Subscription: l.sub.Name,
		Topic:        p.topic,
		Partition:    p.part,
		Offset:       r.Offset,
		Timestamp:    r.Timestamp,
		Key:          r.Key,
		Value:        res.Payload,
		Headers:      r.Headers,
		Subject:      res.Schema.Subject,
		SchemaID:     res.Schema.ID,
		Version:      res.Schema.Version,
	}
	d.EventID, _ = kafka.Header(r.Headers, kafka.HeaderEventID)
	d.Feature, _ = kafka.Header(r.Headers, kafka.HeaderFeature)
	delivering = true
	start := time.Now()
	unreachable := 0 // consecutive deliveries that never reached the app
	for attempt := 1; ; attempt++ {
		d.Attempt = attempt
		actx, cancel := context.WithTimeout(ctx, l.sub.Deliver.Timeout)
		err := l.o.Deliverer.Deliver(actx, d)
		cancel()
		if err != nil && errors.Is(err, ErrAppUnavailable) && p.hard.Err() == nil {
			// Not the app's answer: wait without spending the attempt.
			unreachable++
			if unreachable == 1 || unreachable%20 == 0 {
				l.log.Warn("app not reachable; the partition waits", "subscription", l.sub.Name, "topic", p.topic, "partition", p.part, "offset", r.Offset, "tries", unreachable, "error", err)
			}
			attempt--
			if !sleep(p.soft, l.backoff(unreachable)) {
				return true
			}
			continue
		}
		unreachable = 0
		if err == nil {
			settled = true
			p.finished(r)
			l.o.Observer.Delivered(labels, attempt, time.Since(start))
			return false
		}
		if p.hard.Err() != nil {
			return true // cut off by a stop: not the app's answer
		}
		reason := ""
		switch {
		case errors.Is(err, ErrRejected):
			reason = dlq.ReasonRejectedByApp
		case attempt >= l.sub.Retry.Attempts:
			reason = dlq.ReasonDeliveryExhausted
		}
		if reason != "" {
			settled = true
			span.SetStatus(codes.Error, reason)
			p.deadLetter(ctx, r, &dlq.Info{
				Reason:   reason,
				Message:  err.Error(),
				SchemaID: res.SchemaID,
				Subject:  labels.Subject,
				Version:  labels.Version,
				Attempts: attempt,
			}, labels)
			return false
		}
		l.o.Observer.Retried(labels, attempt)
		l.log.Debug("delivery failed; retrying", "topic", p.topic, "partition", p.part, "offset", r.Offset, "attempt", attempt, "error", err)
		// The app's Retry-After, when longer than the backoff, up to
		// retry.max_backoff.
		wait := max(l.backoff(attempt), min(retryDelay(err), l.sub.Retry.MaxBackoff))
		if !sleep(p.soft, wait) {
			return true
		}
	}
}

// deadLetterSafely is deadLetter for the panic path: it reports false if
// dead-lettering panicked too, and the record cannot be finished.
func (p *partition) deadLetterSafely(ctx context.Context, r *kgo.Record, info *dlq.Info, labels Labels) (ok bool) {
	defer func() {
		if v := recover(); v != nil {
			p.l.log.Error("cannot dead-letter a record; the partition stops until it is reassigned", "topic", p.topic, "partition", p.part, "offset", r.Offset, "panic", v)
			p.cancelSoft()
			ok = false
		}
	}()
	p.deadLetter(ctx, r, info, labels)
	return true
}

// deadLetter starts writing r's dead-letter copy. The record is finished
// when the broker acknowledges the copy; failures are retried with the
// subscription's backoff, and while one is failing the partition takes no
// new record.
func (p *partition) deadLetter(ctx context.Context, r *kgo.Record, info *dlq.Info, labels Labels) {
	l := p.l
	info.Group, info.Subscription, info.Instance = l.sub.Group, l.sub.Name, l.o.Instance
	info.FailedAt = time.Now()
	out := dlq.Build(r, p.dlqTopic, info)
	s := &slot{offset: r.Offset, epoch: r.LeaderEpoch}
	p.mu.Lock()
	p.win = append(p.win, s)
	p.outstanding++
	p.mu.Unlock()

	traceID := trace.SpanContextFromContext(ctx).TraceID().String()
	_, span := l.o.Tracer.Start(ctx, "dead-letter "+p.topic, trace.WithSpanKind(trace.SpanKindProducer))
	if span.IsRecording() {
		span.SetAttributes(
			attribute.String("messaging.system", "kafka"),
			attribute.String("messaging.operation.type", "send"),
			attribute.String("messaging.destination.name", p.dlqTopic),
			attribute.String("eventguard.dlq.reason", info.Reason),
		)
	}
	retry := dlq.Retry{
		Backoff: l.backoff,
		OnFail: func(n int, err error) {
			if n == 1 {
				p.mu.Lock()
				s.failing = true
				p.failing++
				p.mu.Unlock()
			}
			l.log.Warn("dead-letter topic not writable; the partition waits and retries", "topic", p.topic, "partition", p.part, "offset", r.Offset, "dlq_topic", p.dlqTopic, "attempt", n, "error", err)
		},
	}
	l.dlq.Write(p.hard, out, retry, func(err error) {
		p.settle(s, err)
		if err != nil {
			span.SetStatus(codes.Error, err.Error())
			span.End()
			l.log.Warn("dead-letter write abandoned; the record stays uncommitted", "topic", p.topic, "partition", p.part, "offset", r.Offset, "error", err)
			return
		}
		span.End()
		l.o.Observer.DeadLettered(labels, info.Reason)
		l.log.LogAttrs(context.Background(), slog.LevelWarn, "record dead-lettered",
			slog.String("topic", p.topic),
			slog.Int("partition", int(p.part)),
			slog.Int64("offset", r.Offset),
			slog.String("reason", info.Reason),
			slog.String("subject", labels.Subject),
			slog.Int("version", labels.Version),
			slog.String("dlq_topic", p.dlqTopic),
			slog.String("trace_id", traceID),
			slog.String("message", info.Message),
		)
	})
}

// violations converts the contract check's violations to dead-letter ones.
func violations(vs []validate.Violation) []dlq.Violation {
	if len(vs) == 0 {
		return nil
	}
	out := make([]dlq.Violation, len(vs))
	for i, v := range vs {
		out[i] = dlq.Violation{Path: v.Path, Keyword: v.Keyword, Message: v.Message}
	}
	return out
}

// rulesRan reports the contract rules that ran on r to the Observer, and
// logs each warn-mode rule r broke (it is delivered all the same).
func (p *partition) rulesRan(r *kgo.Record, labels Labels, v *check.Verdict) {
	for i := range v.Rules {
		res := &v.Rules[i]
		p.l.o.Observer.RuleEvaluated(labels, res.Rule.Name, res.Rollout.String(), res.Outcome.String())
		if res.Effect == rules.EffectWarn {
			p.l.log.Warn("record broke a warn-mode rule; delivered", "topic", p.topic, "partition", p.part, "offset", r.Offset,
				"subject", labels.Subject, "version", labels.Version, "rule", res.Rule.Name, "result", res.String())
		}
	}
}
