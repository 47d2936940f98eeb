package telemetry

import (
	"context"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/eventguard/eventguard/config"
)

// TestStartTracingOff: tracing off by default means no SDK, and the Tracer
// still continues the caller's trace with a fresh span id.
func TestStartTracingOff(t *testing.T) {
	tr, err := StartTracing(context.Background(), config.Telemetry{SampleRatio: 1}, TracingOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if tr.Provider() != nil || tr.Tracer.Enabled() {
		t.Error("tracing off has an SDK provider")
	}
	parent := trace.NewSpanContext(trace.SpanContextConfig{TraceID: trace.TraceID{1}, SpanID: trace.SpanID{2}, TraceFlags: trace.FlagsSampled, Remote: true})
	ctx, span := tr.Tracer.Start(trace.ContextWithRemoteSpanContext(context.Background(), parent), "x")
	span.End()
	sc := trace.SpanContextFromContext(ctx)
	if sc.TraceID() != parent.TraceID() || sc.SpanID() == parent.SpanID() || !sc.SpanID().IsValid() {
		t.Errorf("child %v of %v", sc, parent)
	}
	if err := tr.Shutdown(context.Background()); err != nil {
		t.Error(err)
	}
}

// TestStartTracingSampling: the ratio sampler applies to new traces; a
// sampled parent is always followed; the resource names the service and
// instance, and OTEL_SERVICE_NAME overrides the name.
func TestStartTracingSampling(t *testing.T) {
	t.Setenv("OTEL_SERVICE_NAME", "checkout-sidecar")
	t.Setenv("OTEL_TRACES_SAMPLER", "")
	exp := tracetest.NewInMemoryExporter()
	tr, err := StartTracing(context.Background(), config.Telemetry{Tracing: true, SampleRatio: 0}, TracingOptions{Instance: "pod-1", ServiceVersion: "1.0.0", Exporter: exp})
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Shutdown(context.Background())
	// Ratio 0: a new trace is not sampled, but still gets ids.
	ctx, span := tr.Tracer.Start(context.Background(), "root")
	span.End()
	if sc := trace.SpanContextFromContext(ctx); !sc.IsValid() || sc.IsSampled() {
		t.Errorf("new trace at ratio 0: %v", sc)
	}
	// A sampled remote parent is followed.
	parent := trace.NewSpanContext(trace.SpanContextConfig{TraceID: trace.TraceID{1}, SpanID: trace.SpanID{2}, TraceFlags: trace.FlagsSampled, Remote: true})
	_, span = tr.Tracer.Start(trace.ContextWithRemoteSpanContext(context.Background(), parent), "child")
	span.End()
	spans := exp.GetSpans()
	if len(spans) != 1 || spans[0].Name != "child" {
		t.Fatalf("exported %v", spans.Snapshots())
	}
	attrs := map[attribute.Key]string{}
	for _, a := range spans[0].Resource.Attributes() {
		attrs[a.Key] = a.Value.String()
	}
	if attrs["service.name"] != "checkout-sidecar" || attrs["service.instance.id"] != "pod-1" || attrs["service.version"] != "1.0.0" {
		t.Errorf("resource: %v", attrs)
	}
}

// TestStartTracingOTLP: with tracing on and no test exporter, the OTLP
// exporter is chosen by OTEL_EXPORTER_OTLP_PROTOCOL; an unknown protocol is
// an error; OTEL_SDK_DISABLED turns tracing off. The exporters connect
// lazily, so no collector is needed here.
func TestStartTracingOTLP(t *testing.T) {
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:1")
	for _, p := range []string{"", "http/protobuf", "grpc"} {
		t.Setenv("OTEL_EXPORTER_OTLP_PROTOCOL", p)
		tr, err := StartTracing(context.Background(), config.Telemetry{Tracing: true, SampleRatio: 0.01}, TracingOptions{})
		if err != nil {
			t.Fatalf("protocol %q: %v", p, err)
		}
		if !tr.Tracer.Enabled() {
			t.Errorf("protocol %q: tracing not enabled", p)
		}
		ctx, cancel := context.WithCancel(context.Background())
		cancel() // nothing to flush; do not wait for the unreachable collector
		_ = tr.Shutdown(ctx)
	}
	t.Setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json")
	if _, err := StartTracing(context.Background(), config.Telemetry{Tracing: true}, TracingOptions{}); err == nil {
		t.Error("http/json accepted")
	}
	t.Setenv("OTEL_SDK_DISABLED", "true")
	tr, err := StartTracing(context.Background(), config.Telemetry{Tracing: true}, TracingOptions{})
	if err != nil || tr.Tracer.Enabled() {
		t.Errorf("OTEL_SDK_DISABLED: %v, enabled %v", err, tr.Tracer.Enabled())
	}
}
