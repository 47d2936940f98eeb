// Package observe adapts the pipelines' observer interfaces onto
// eventguard's metrics, traces and usage catalog: Produce for the produce
// pipeline; Consume and Deliverer for the subscriptions. It is the wrapper
// that keeps the produce, consume, check and validation code free of
// Prometheus: those packages state facts through small interfaces, this
// package counts them.
package observe

import (
	"time"

	"github.com/eventguard/eventguard/catalog"
	"github.com/eventguard/eventguard/produce"
	"github.com/eventguard/eventguard/telemetry"
	"github.com/eventguard/eventguard/validate"
)

// Produce turns produce pipeline facts into metrics, catalog entries and
// the latest rejections. Any field may be nil.
type Produce struct {
	Metrics *telemetry.Metrics
	Catalog *catalog.Catalog
	Recent  *catalog.Recent
}

var (
	_ produce.Observer  = Produce{}
	_ validate.Observer = (*telemetry.Metrics)(nil)
)

// Record counts records' outcome; accepted records of a resolved schema
// enter the catalog under their feature, rejected ones the latest
// rejections (not the valid records of a request refused for another
// record: those are counted, not listed).
func (o Produce) Record(ev produce.Event) {
	n := ev.Count
	if n <= 0 {
		n = 1
	}
	l := telemetry.RecordLabels{Direction: telemetry.DirectionProduce, Topic: ev.Topic, Subject: ev.Subject, Version: ev.Version, Feature: ev.Feature}
	o.Metrics.Record(l, ev.Outcome, ev.Code, n)
	if ev.Deprecated {
		o.Metrics.Deprecated(l, n)
	}
	switch {
	case ev.Outcome == "accepted":
		o.Catalog.Produced(catalog.Event{Topic: ev.Topic, Subject: ev.Subject, Version: ev.Version, SchemaID: ev.SchemaID, Deprecated: ev.Deprecated}, ev.Feature, n)
	case ev.Outcome == catalog.OutcomeRejected && ev.Code != produce.ReasonBatchRejected:
		o.Recent.Add(catalog.Rejection{Outcome: catalog.OutcomeRejected, Topic: ev.Topic, Subject: ev.Subject, Version: ev.Version,
			Feature: ev.Feature, Reason: ev.Code, Path: ev.Path, Message: ev.Message, Records: n})
	}
}

// Validated observes a request's records' validation times.
func (o Produce) Validated(ds []time.Duration) {
	o.Metrics.Validated(telemetry.DirectionProduce, ds...)
}

// Rule counts a contract rule's evaluation on a produced record, and a
// failure of it in the catalog under the producing feature.
func (o Produce) Rule(ev produce.RuleEvent) {
	l := telemetry.RecordLabels{Direction: telemetry.DirectionProduce, Topic: ev.Topic, Subject: ev.Subject, Version: ev.Version, Feature: ev.Feature}
	o.Metrics.RuleEvaluated(l, ev.Rule, ev.Rollout, ev.Outcome)
	if ev.Outcome == "fail" || ev.Outcome == "error" {
		o.Catalog.RuleFailed(catalog.RuleEvent{Topic: ev.Topic, Subject: ev.Subject, Version: ev.Version, Rule: ev.Rule, Mode: ev.Rollout}, ev.Feature, true)
	}
}

// Acked observes a request's time from arrival to the last acknowledgement.
func (o Produce) Acked(topic string, d time.Duration) {
	o.Metrics.Produced(topic, d)
}
