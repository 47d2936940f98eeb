package span

import (
	"context"
	"net/http"
	"testing"

	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// TestStartWithTracingOff: with no SDK every hop still gets a span id of its
// own, continuing the caller's trace (id, flags, tracestate) or starting one.
func TestStartWithTracingOff(t *testing.T) {
	tr := NewTracer(nil)
	h := http.Header{}
	h.Set("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
	h.Set("tracestate", "vendor=x")
	ctx := Propagator.Extract(context.Background(), propagation.HeaderCarrier(h))
	ctx, s := tr.Start(ctx, "produce pets")
	defer s.End()
	sc := trace.SpanContextFromContext(ctx)
	if sc.TraceID().String() != "4bf92f3577b34da6a3ce929d0e0e4736" || !sc.IsSampled() || sc.TraceState().Get("vendor") != "x" {
		t.Errorf("did not continue the caller's trace: %v", sc)
	}
	if sc.SpanID().String() == "00f067aa0ba902b7" || !sc.SpanID().IsValid() {
		t.Errorf("span id %s: want a new one", sc.SpanID())
	}

	ctx, s2 := tr.Start(context.Background(), "produce pets")
	defer s2.End()
	sc2 := trace.SpanContextFromContext(ctx)
	if !sc2.TraceID().IsValid() || !sc2.SpanID().IsValid() || sc2.IsSampled() {
		t.Errorf("without a caller's trace: %v, want a new unsampled trace", sc2)
	}
	out := http.Header{}
	Propagator.Inject(ctx, propagation.HeaderCarrier(out))
	if len(out.Get("traceparent")) != 55 {
		t.Errorf("traceparent %q", out.Get("traceparent"))
	}
}

// TestMetadataCarrier: keys are lower-cased as gRPC metadata keys are, so a
// traceparent written by the propagator is read back from metadata.
func TestMetadataCarrier(t *testing.T) {
	md := map[string][]string{"traceparent": {"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"}}
	ctx := Propagator.Extract(context.Background(), MetadataCarrier(md))
	if got := trace.SpanContextFromContext(ctx).TraceID().String(); got != "4bf92f3577b34da6a3ce929d0e0e4736" {
		t.Fatalf("extracted trace %s", got)
	}
	c := MetadataCarrier{}
	c.Set("Traceparent", "x")
	if c["traceparent"][0] != "x" || c.Get("TRACEPARENT") != "x" || len(c.Keys()) != 1 {
		t.Fatalf("carrier %v", c)
	}
}
