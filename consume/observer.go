package consume

import "time"

// Labels say which subscription, topic and schema an outcome belongs to.
type Labels struct {
	Subscription string
	Group        string
	Topic        string
	// Subject and Version label the record's schema; "" and 0 when the
	// record failed before its schema was found.
	Subject string
	Version int
	// Deprecated is set when that version is deprecated.
	Deprecated bool
}

// Observer is told the outcome of every record; telemetry implements it
// (metrics), the loop itself only logs. Methods are called from the
// partition workers, concurrently, and must not block.
type Observer interface {
	// Delivered: the app took the record after attempts attempts;
	// latency runs from the first attempt to the app's answer.
	Delivered(l Labels, attempts int, latency time.Duration)
	// Retried: delivery attempt attempt failed and will be retried.
	Retried(l Labels, attempt int)
	// DeadLettered: the record's dead-letter copy was acknowledged by the
	// broker; reason is a dlq reason code.
	DeadLettered(l Labels, reason string)
	// Validated: a record's payload was parsed and checked against its
	// schema (valid or not) in d, the schema lookup included.
	Validated(d time.Duration)
	// RuleEvaluated: a contract rule ran on a record; mode is its rollout
	// (observe, warn, enforce), outcome pass, fail, error or skipped.
	RuleEvaluated(l Labels, rule, mode, outcome string)
}

// NopObserver ignores every outcome.
type NopObserver struct{}

// Delivered does nothing.
func (NopObserver) Delivered(Labels, int, time.Duration) {}

// Retried does nothing.
func (NopObserver) Retried(Labels, int) {}

// DeadLettered does nothing.
func (NopObserver) DeadLettered(Labels, string) {}

// Validated does nothing.
func (NopObserver) Validated(time.Duration) {}

// RuleEvaluated does nothing.
func (NopObserver) RuleEvaluated(Labels, string, string, string) {}

var _ Observer = NopObserver{}
