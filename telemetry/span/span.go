// Package span starts spans and carries W3C trace context (traceparent,
// tracestate) across HTTP, gRPC and Kafka headers. It is all the hot path
// needs of telemetry: light, with no exporter and no metrics behind it.
package span

import (
	"context"
	"math/rand/v2"

	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
)

// Propagator reads and writes W3C traceparent and tracestate.
var Propagator = propagation.TraceContext{}

// Tracer starts spans. With tracing off it still gives every hop a span id
// of its own, so the traceparent eventguard stamps always continues the
// caller's trace as a child (or starts a new one), never repeats it.
type Tracer struct {
	t       trace.Tracer
	enabled bool
}

// NewTracer wraps tp's tracer; a nil tp means tracing off.
func NewTracer(tp trace.TracerProvider) *Tracer {
	enabled := tp != nil
	if tp == nil {
		tp = noop.NewTracerProvider()
	}
	return &Tracer{t: tp.Tracer("github.com/eventguard/eventguard"), enabled: enabled}
}

// Enabled reports whether spans go to a real TracerProvider (tracing on).
// A nil Tracer is off.
func (t *Tracer) Enabled() bool { return t != nil && t.enabled }

// Start starts a span named name as a child of the span in ctx.
func (t *Tracer) Start(ctx context.Context, name string, opts ...trace.SpanStartOption) (context.Context, trace.Span) {
	parent := trace.SpanContextFromContext(ctx)
	ctx, span := t.t.Start(ctx, name, opts...)
	sc := span.SpanContext()
	if sc.IsValid() && sc.SpanID() != parent.SpanID() {
		return ctx, span
	}
	// Tracing is off: make the child span context ourselves.
	cfg := trace.SpanContextConfig{
		TraceID:    parent.TraceID(),
		SpanID:     newSpanID(),
		TraceFlags: parent.TraceFlags(),
		TraceState: parent.TraceState(),
	}
	if !parent.TraceID().IsValid() {
		cfg.TraceID = newTraceID()
		cfg.TraceFlags = 0
	}
	return trace.ContextWithSpanContext(ctx, trace.NewSpanContext(cfg)), span
}

func newTraceID() trace.TraceID {
	var id trace.TraceID
	for {
		a, b := rand.Uint64(), rand.Uint64()
		for i := 0; i < 8; i++ {
			id[i] = byte(a >> (8 * i))
			id[8+i] = byte(b >> (8 * i))
		}
		if id.IsValid() {
			return id
		}
	}
}

func newSpanID() trace.SpanID {
	var id trace.SpanID
	for {
		a := rand.Uint64()
		for i := 0; i < 8; i++ {
			id[i] = byte(a >> (8 * i))
		}
		if id.IsValid() {
			return id
		}
	}
}
