package telemetry

import (
	"github.com/eventguard/eventguard/telemetry/span"

	"context"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

type fakeStream struct {
	grpc.ServerStream
	ctx context.Context
}

func (s fakeStream) Context() context.Context { return s.ctx }

// TestGRPCInterceptors: produce calls are counted in flight and by code,
// get a server span that continues the caller's traceparent metadata, and
// hand the handler metadata naming that span; other methods pass through.
func TestGRPCInterceptors(t *testing.T) {
	reg := prometheus.NewRegistry()
	m, err := NewMetrics(reg, MetricsOptions{})
	if err != nil {
		t.Fatal(err)
	}
	exp := tracetest.NewInMemoryExporter()
	tr := span.NewTracer(sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp)))
	if len(GRPCServerOptions(m, tr)) != 2 || GRPCServerOptions(nil, span.NewTracer(nil)) != nil {
		t.Error("server options")
	}
	in := metadata.NewIncomingContext(context.Background(), metadata.Pairs("traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"))

	var seen string
	var inflight float64
	unary := grpcUnary(m, tr)
	_, err = unary(in, nil, &grpc.UnaryServerInfo{FullMethod: "/eventguard.v1.Eventguard/Produce"}, func(ctx context.Context, _ any) (any, error) {
		md, _ := metadata.FromIncomingContext(ctx)
		seen = md.Get("traceparent")[0]
		for _, s := range gather(t, reg)[MetricInflight].GetMetric() {
			if labelsOf(s)["transport"] == "grpc" {
				inflight = s.GetGauge().GetValue()
			}
		}
		return nil, status.Error(codes.InvalidArgument, "bad")
	})
	if status.Code(err) != codes.InvalidArgument {
		t.Fatal(err)
	}
	spans := exp.GetSpans()
	if len(spans) != 1 {
		t.Fatalf("%d spans", len(spans))
	}
	s := spans[0]
	if s.Name != "eventguard.v1.Eventguard/Produce" || s.SpanKind != trace.SpanKindServer || s.Parent.SpanID().String() != "b7ad6b7169203331" {
		t.Errorf("span %s kind %v parent %s", s.Name, s.SpanKind, s.Parent.SpanID())
	}
	if want := "00-0af7651916cd43dd8448eb211c80319c-" + s.SpanContext.SpanID().String() + "-01"; seen != want {
		t.Errorf("handler saw %q, want %q", seen, want)
	}
	if inflight != 1 {
		t.Errorf("in flight during the call: %v", inflight)
	}

	// A stream is one request while open; its context carries the span.
	stream := grpcStream(m, tr)
	err = stream(nil, fakeStream{ctx: in}, &grpc.StreamServerInfo{FullMethod: "/eventguard.v1.Eventguard/ProduceStream"}, func(_ any, ss grpc.ServerStream) error {
		if !trace.SpanContextFromContext(ss.Context()).IsValid() {
			t.Error("stream context has no span")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// Subscribe is not a produce request.
	_ = stream(nil, fakeStream{ctx: in}, &grpc.StreamServerInfo{FullMethod: "/eventguard.v1.Eventguard/Subscribe"}, func(any, grpc.ServerStream) error { return nil })

	answered := map[string]float64{}
	for _, s := range gather(t, reg)[MetricIngressRequests].GetMetric() {
		answered[labelsOf(s)["status"]] = s.GetCounter().GetValue()
	}
	if answered["InvalidArgument"] != 1 || answered["OK"] != 1 || len(answered) != 2 {
		t.Errorf("answered: %v", answered)
	}
	if n := len(exp.GetSpans()); n != 2 {
		t.Errorf("%d spans after the stream, want 2", n)
	}
}
