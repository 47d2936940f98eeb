package observe

import (
	"context"
	"errors"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/eventguard/eventguard/catalog"
	"github.com/eventguard/eventguard/config"
	"github.com/eventguard/eventguard/consume"
	"github.com/eventguard/eventguard/telemetry"
	"github.com/eventguard/eventguard/telemetry/span"
)

// Consume turns one subscription's outcomes into metrics, catalog entries,
// deprecated-version counts and the latest dead-letters, and passes them on
// to Next.
type Consume struct {
	// Next, when set, is told every outcome too.
	Next consume.Observer
	// Metrics, Catalog and Recent may be nil.
	Metrics *telemetry.Metrics
	Catalog *catalog.Catalog
	// Recent lists the dead-lettered records.
	Recent *catalog.Recent
	// Subscription is the observed subscription (for its dead-letter
	// topics).
	Subscription config.Subscription
}

var _ consume.Observer = (*Consume)(nil)

func recordLabels(l consume.Labels) telemetry.RecordLabels {
	return telemetry.RecordLabels{Direction: telemetry.DirectionConsume, Topic: l.Topic, Subject: l.Subject, Version: l.Version, Group: l.Group}
}

// used records a finished record (delivered or dead-lettered) of a resolved
// schema in the catalog and, when its version is deprecated, in the
// deprecated-use counter.
func (o *Consume) used(l consume.Labels) {
	if l.Subject == "" {
		return
	}
	if l.Deprecated {
		o.Metrics.Deprecated(recordLabels(l), 1)
	}
	o.Catalog.Consumed(catalog.Event{Topic: l.Topic, Subject: l.Subject, Version: l.Version, Deprecated: l.Deprecated}, l.Group, 1)
}

// Delivered counts a delivered record.
func (o *Consume) Delivered(l consume.Labels, attempts int, latency time.Duration) {
	o.Metrics.Record(recordLabels(l), "delivered", "", 1)
	o.used(l)
	if o.Next != nil {
		o.Next.Delivered(l, attempts, latency)
	}
}

// Retried counts a failed delivery attempt that will be retried.
func (o *Consume) Retried(l consume.Labels, attempt int) {
	o.Metrics.Record(recordLabels(l), "retried", "", 1)
	if o.Next != nil {
		o.Next.Retried(l, attempt)
	}
}

// DeadLettered counts a record whose dead-letter copy was acknowledged.
func (o *Consume) DeadLettered(l consume.Labels, reason string) {
	o.Metrics.Record(recordLabels(l), "dead_lettered", reason, 1)
	o.Metrics.DLQWrite(o.Subscription.DLQTopicFor(l.Topic), l.Group, reason)
	o.Recent.Add(catalog.Rejection{Outcome: catalog.OutcomeDeadLettered, Topic: l.Topic, Subject: l.Subject, Version: l.Version, Group: l.Group, Reason: reason})
	o.used(l)
	if o.Next != nil {
		o.Next.DeadLettered(l, reason)
	}
}

// RuleEvaluated counts a contract rule's evaluation on a consumed record,
// and a failure of it in the catalog under the consumer group.
func (o *Consume) RuleEvaluated(l consume.Labels, rule, mode, outcome string) {
	o.Metrics.RuleEvaluated(recordLabels(l), rule, mode, outcome)
	if outcome == "fail" || outcome == "error" {
		o.Catalog.RuleFailed(catalog.RuleEvent{Topic: l.Topic, Subject: l.Subject, Version: l.Version, Rule: rule, Mode: mode}, l.Group, false)
	}
	if o.Next != nil {
		o.Next.RuleEvaluated(l, rule, mode, outcome)
	}
}

// Validated observes a consumed record's validation time.
func (o *Consume) Validated(d time.Duration) {
	o.Metrics.Validated(telemetry.DirectionConsume, d)
	if o.Next != nil {
		o.Next.Validated(d)
	}
}

// Deliverer wraps the delivery to the app: a client span whose context the
// transport hands to the app, the attempt's time and result, and on
// success the end-to-end lag from the record's timestamp.
type Deliverer struct {
	Next    consume.Deliverer
	Metrics *telemetry.Metrics
	Tracer  *span.Tracer
	Group   string
}

var _ consume.Deliverer = (*Deliverer)(nil)

// Deliver delivers d through the wrapped Deliverer.
func (o *Deliverer) Deliver(ctx context.Context, d *consume.Delivery) error {
	ctx, span := o.Tracer.Start(ctx, "deliver "+d.Topic, trace.WithSpanKind(trace.SpanKindClient))
	defer span.End()
	if span.IsRecording() {
		span.SetAttributes(
			attribute.String("messaging.system", "kafka"),
			attribute.String("messaging.destination.name", d.Topic),
			attribute.String("messaging.consumer.group.name", o.Group),
			attribute.String("eventguard.subscription", d.Subscription),
			attribute.Int("eventguard.delivery.attempt", d.Attempt),
		)
	}
	start := time.Now()
	err := o.Next.Deliver(ctx, d)
	result := "ok"
	switch {
	case err == nil:
		if !d.Timestamp.IsZero() {
			o.Metrics.Lag(d.Topic, o.Group, time.Since(d.Timestamp))
		}
	case errors.Is(err, consume.ErrRejected):
		result = "rejected"
	default:
		result = "retry"
	}
	o.Metrics.Delivery(o.Group, result, time.Since(start))
	if err != nil {
		span.SetStatus(codes.Error, err.Error())
	}
	return err
}
