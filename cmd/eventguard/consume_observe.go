package main

import (
	"context"
	"errors"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/eventguard/eventguard/catalog"
	"github.com/eventguard/eventguard/consume"
	"github.com/eventguard/eventguard/produce"
	"github.com/eventguard/eventguard/telemetry"
	"github.com/eventguard/eventguard/telemetry/span"
	"github.com/eventguard/eventguard/validate"
)

// observeConsume completes one subscription's consume options with the
// sidecar's observability: the tracer, an Observer feeding the metrics, the
// catalog and the deprecation counts, a Deliverer wrapper (delivery span,
// delivery time, end-to-end lag), and a Resolver wrapper that lets the
// deprecation check see the registry metadata of the consumed schemas.
// Fields already set are wrapped, not replaced.
func (s *sidecar) observeConsume(o consume.Options) consume.Options {
	sub := o.Subscription
	if o.Deliverer == nil && sub.Deliver.URL != "" {
		o.Deliverer = consume.NewHTTPDeliverer(sub.Deliver.URL, nil)
	}
	if o.Deliverer != nil {
		o.Deliverer = &observedDeliverer{next: o.Deliverer, m: s.metrics, t: s.tracing.Tracer, group: sub.Group}
	}
	if o.Resolver != nil {
		o.Resolver = learningResolver{next: o.Resolver, deps: s.deprecations}
	}
	if o.Tracer == nil {
		o.Tracer = s.tracing.Tracer
	}
	dlqTopic := func(topic string) string { return topic + ".dlq" }
	if sub.DLQTopic != "" {
		dlqTopic = func(string) string { return sub.DLQTopic }
	}
	o.Observer = &consumeObserver{next: o.Observer, m: s.metrics, c: s.catalog, deps: s.deprecations, dlqTopic: dlqTopic}
	return o
}

// consumeObserver turns one subscription's outcomes into metrics, catalog
// entries and deprecated-version counts.
type consumeObserver struct {
	next     consume.Observer // may be nil
	m        *telemetry.Metrics
	c        *catalog.Catalog
	deps     *produce.Deprecations
	dlqTopic func(topic string) string
}

var _ consume.Observer = (*consumeObserver)(nil)

func recordLabels(l consume.Labels) telemetry.RecordLabels {
	return telemetry.RecordLabels{Direction: telemetry.DirectionConsume, Topic: l.Topic, Subject: l.Subject, Version: l.Version, Group: l.Group}
}

// used records a finished record (delivered or dead-lettered) of a resolved
// schema in the catalog and, when its version is deprecated, in the
// deprecated-use counter.
func (o *consumeObserver) used(l consume.Labels) {
	if l.Subject == "" {
		return
	}
	deprecated := o.deps.Consumed(l.Subject, l.Version, l.Group)
	if deprecated {
		o.m.Deprecated(recordLabels(l), 1)
	}
	o.c.Consumed(catalog.Event{Topic: l.Topic, Subject: l.Subject, Version: l.Version, Deprecated: deprecated}, l.Group, 1)
}

// Delivered counts a delivered record.
func (o *consumeObserver) Delivered(l consume.Labels, attempts int, latency time.Duration) {
	o.m.Record(recordLabels(l), "delivered", "", 1)
	o.used(l)
	if o.next != nil {
		o.next.Delivered(l, attempts, latency)
	}
}

// Retried counts a failed delivery attempt that will be retried.
func (o *consumeObserver) Retried(l consume.Labels, attempt int) {
	o.m.Record(recordLabels(l), "retried", "", 1)
	if o.next != nil {
		o.next.Retried(l, attempt)
	}
}

// DeadLettered counts a record whose dead-letter copy was acknowledged.
func (o *consumeObserver) DeadLettered(l consume.Labels, reason string) {
	o.m.Record(recordLabels(l), "dead_lettered", reason, 1)
	o.m.DLQWrite(o.dlqTopic(l.Topic), l.Group, reason)
	o.used(l)
	if o.next != nil {
		o.next.DeadLettered(l, reason)
	}
}

// Validated observes a consumed record's validation time.
func (o *consumeObserver) Validated(d time.Duration) {
	o.m.Validated(telemetry.DirectionConsume, d)
	if o.next != nil {
		o.next.Validated(d)
	}
}

// observedDeliverer wraps the delivery to the app: a client span whose
// context the transport hands to the app, the attempt's time and result,
// and on success the end-to-end lag from the record's timestamp.
type observedDeliverer struct {
	next  consume.Deliverer
	m     *telemetry.Metrics
	t     *span.Tracer
	group string
}

var _ consume.Deliverer = (*observedDeliverer)(nil)

// Deliver delivers d through the wrapped Deliverer.
func (o *observedDeliverer) Deliver(ctx context.Context, d *consume.Delivery) error {
	ctx, span := o.t.Start(ctx, "deliver "+d.Topic, trace.WithSpanKind(trace.SpanKindClient))
	defer span.End()
	if span.IsRecording() {
		span.SetAttributes(
			attribute.String("messaging.system", "kafka"),
			attribute.String("messaging.destination.name", d.Topic),
			attribute.String("messaging.consumer.group.name", o.group),
			attribute.String("eventguard.subscription", d.Subscription),
			attribute.Int("eventguard.delivery.attempt", d.Attempt),
		)
	}
	start := time.Now()
	err := o.next.Deliver(ctx, d)
	result := "ok"
	switch {
	case err == nil:
		if !d.Timestamp.IsZero() {
			o.m.Lag(d.Topic, o.group, time.Since(d.Timestamp))
		}
	case errors.Is(err, consume.ErrRejected):
		result = "rejected"
	default:
		result = "retry"
	}
	o.m.Delivery(o.group, result, time.Since(start))
	if err != nil {
		span.SetStatus(codes.Error, err.Error())
	}
	return err
}

// learningResolver shows every schema the consume path resolves to the
// deprecation check, so that deprecations declared in the registry's
// schema metadata count for consumers too.
type learningResolver struct {
	next consume.Resolver
	deps *produce.Deprecations
}

// ByID resolves through the wrapped resolver.
func (r learningResolver) ByID(ctx context.Context, id int, preferSubject string) (*validate.Schema, error) {
	s, err := r.next.ByID(ctx, id, preferSubject)
	if err == nil {
		r.deps.Lookup(s)
	}
	return s, err
}

// Latest resolves through the wrapped resolver.
func (r learningResolver) Latest(ctx context.Context, subject string) (*validate.Schema, error) {
	s, err := r.next.Latest(ctx, subject)
	if err == nil {
		r.deps.Lookup(s)
	}
	return s, err
}
