package produce

import (
	"context"
	"log/slog"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/eventguard/eventguard/dlq"
	"github.com/eventguard/eventguard/validate"
)

// What the pipeline tells its Observer and its log about outcomes.

// Event is what the pipeline tells its Observer about one record.
type Event struct {
	Topic, Subject, Feature string
	SchemaID, Version       int
	// Outcome is "accepted" (in Kafka), "rejected" (refused before
	// producing), "dead_lettered" (a contract rule with onFailure DLQ
	// diverted it to the dead-letter topic) or "failed" (Kafka, the
	// registry or eventguard itself could not take it).
	Outcome string
	// Code is the rejection or failure code (an error code, or
	// ReasonBatchRejected); empty when accepted.
	Code string
	// Deprecated is set when the version is deprecated.
	Deprecated bool
	// Count is how many records of one request this event stands for
	// (records with the same facts are reported together); 0 means 1.
	Count int
	// Message and Path say why records were refused before producing:
	// the error's message and the JSON pointer of the record's first
	// violation ("" when none); empty otherwise. The message may quote
	// the value.
	Message, Path string
}

// ReasonBatchRejected is the Event.Code of a valid record that was not
// produced because another record of its all-or-nothing request failed.
const ReasonBatchRejected = "batch_rejected"

// Observer receives the pipeline's facts; telemetry/observe implements it.
type Observer interface {
	// Record is called when records' outcome is known: once per record,
	// or once for several records of a request with the same facts
	// (Event.Count).
	Record(Event)
	// Validated is called once per request with the time each checked
	// record's validation took, the schema lookup included.
	Validated(ds []time.Duration)
	// Acked is called once per request whose records Kafka all
	// acknowledged, with the time from the request's arrival in the
	// pipeline to the last acknowledgement.
	Acked(topic string, d time.Duration)
	// Rule is called for every contract rule that ran on a record.
	Rule(RuleEvent)
}

// RuleEvent is one contract rule's result on one produced record.
type RuleEvent struct {
	Topic, Subject, Feature string
	Version                 int
	// Rule is the rule's name; Rollout its eventguard.mode (observe, warn,
	// enforce); Outcome pass, fail, error or skipped; Effect what it asked
	// (none, warn, dead_letter, refuse).
	Rule, Rollout, Outcome, Effect string
}

type nopObserver struct{}

func (nopObserver) Record(Event)                {}
func (nopObserver) Validated([]time.Duration)   {}
func (nopObserver) Acked(string, time.Duration) {}
func (nopObserver) Rule(RuleEvent)              {}

// refuse answers a request refused as a whole before any record was
// checked: every record is reported to the Observer with the request's
// code, and one line is logged for the request.
func (p *Pipeline) refuse(ctx context.Context, req *Request, e *Error) *Response {
	outcome := "rejected"
	lv := slog.LevelInfo
	switch e.Kind {
	case KindUnavailable, KindTimeout, KindOverloaded, KindInternal:
		outcome, lv = "failed", slog.LevelWarn
	}
	if n := len(req.Records); n > 0 {
		p.o.Observer.Record(Event{Topic: req.Topic, Feature: req.Feature, Outcome: outcome, Code: e.Code, Count: n, Message: e.Message})
	}
	p.logRequest(ctx, lv, "request "+outcome, req, e)
	return &Response{Err: e}
}

// unchecked reports the records of a request abandoned at record i because
// the registry could not be asked: the valid ones so far, record i and the
// ones after it fail with e's code (the ones already rejected were reported).
func (p *Pipeline) unchecked(ctx context.Context, req *Request, valid []prepared, i int, e *Error) {
	var evs []Event
	for _, v := range valid {
		evs = addEvent(evs, Event{Topic: req.Topic, Subject: v.schema.Subject, SchemaID: v.schema.ID, Version: v.schema.Version, Feature: req.Feature, Outcome: "failed", Code: e.Code, Deprecated: v.deprecated})
	}
	p.record(evs)
	p.o.Observer.Record(Event{Topic: req.Topic, Feature: req.Feature, Outcome: "failed", Code: e.Code, Count: len(req.Records) - i})
	p.logRequest(ctx, slog.LevelWarn, "request failed", req, e)
}

// batchRejected reports the valid records of an all-or-nothing request
// that other records failed.
func (p *Pipeline) batchRejected(req *Request, valid []prepared) {
	var evs []Event
	for _, v := range valid {
		evs = addEvent(evs, Event{Topic: req.Topic, Subject: v.schema.Subject, SchemaID: v.schema.ID, Version: v.schema.Version, Feature: req.Feature, Outcome: "rejected", Code: ReasonBatchRejected, Deprecated: v.deprecated})
	}
	p.record(evs)
}

func (p *Pipeline) logRequest(ctx context.Context, lv slog.Level, msg string, req *Request, e *Error) {
	attrs := []slog.Attr{slog.String("topic", req.Topic), slog.String("feature", req.Feature), slog.Int("records", len(req.Records)), slog.String("code", e.Code), slog.String("error", e.Message)}
	if sc := trace.SpanContextFromContext(ctx); sc.HasTraceID() {
		attrs = append(attrs, slog.String("trace_id", sc.TraceID().String()))
	}
	p.o.Logger.LogAttrs(ctx, lv, msg, attrs...)
}

// reject reports and logs record i, refused before producing.
func (p *Pipeline) reject(ctx context.Context, req *Request, i int, s *validate.Schema, e *RecordError, deprecated bool) {
	ev := Event{Topic: req.Topic, Feature: req.Feature, Outcome: "rejected", Code: e.Code, Deprecated: deprecated, Message: e.Message}
	if len(e.Violations) > 0 {
		ev.Path = e.Violations[0].Path
	}
	attrs := []slog.Attr{slog.String("topic", req.Topic), slog.String("feature", req.Feature), slog.Int("index", i), slog.String("code", e.Code), slog.String("error", e.Message)}
	if s != nil {
		ev.Subject, ev.SchemaID, ev.Version = s.Subject, s.ID, s.Version
		attrs = append(attrs, slog.String("subject", s.Subject), slog.Int("version", s.Version))
	}
	if sc := trace.SpanContextFromContext(ctx); sc.HasTraceID() {
		attrs = append(attrs, slog.String("trace_id", sc.TraceID().String()))
	}
	p.o.Observer.Record(ev)
	p.o.Logger.LogAttrs(ctx, slog.LevelInfo, "record rejected", attrs...)
}

// observeSent reports the outcome of the records handed to Kafka, off the
// producer's callback path: records with the same schema and outcome are
// reported as one Event with their Count (a batch usually has one).
func (p *Pipeline) observeSent(req *Request, valid []prepared, resp *Response) {
	var evs []Event
	for _, v := range valid {
		ev := Event{Topic: req.Topic, Subject: v.schema.Subject, SchemaID: v.schema.ID, Version: v.schema.Version, Feature: req.Feature, Outcome: "accepted", Deprecated: v.deprecated}
		switch res := &resp.Results[v.index]; {
		case res.Err != nil:
			ev.Outcome, ev.Code = "failed", res.Err.Code
		case res.DeadLettered != nil:
			ev.Outcome, ev.Code = "dead_lettered", dlq.ReasonRuleViolation
		}
		evs = addEvent(evs, ev)
	}
	p.record(evs)
}

// addEvent adds one record's event to evs, counting it in the event with
// the same facts when there is one. Topic and feature are the request's.
func addEvent(evs []Event, ev Event) []Event {
	for i := range evs {
		if e := &evs[i]; e.SchemaID == ev.SchemaID && e.Subject == ev.Subject && e.Version == ev.Version && e.Outcome == ev.Outcome && e.Code == ev.Code && e.Deprecated == ev.Deprecated {
			e.Count++
			return evs
		}
	}
	ev.Count = 1
	return append(evs, ev)
}

func (p *Pipeline) record(evs []Event) {
	for _, ev := range evs {
		p.o.Observer.Record(ev)
	}
}
