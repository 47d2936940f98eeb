package telemetry

import (
	"github.com/eventguard/eventguard/telemetry/span"

	"context"
	"strings"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// produceMethods are the gRPC methods that are produce requests; only they
// are counted as ingress requests.
var produceMethods = map[string]bool{
	"/eventguard.v1.Eventguard/Produce":       true,
	"/eventguard.v1.Eventguard/ProduceStream": true,
}

// GRPCServerOptions returns the interceptors that observe the gRPC produce
// ingress as InstrumentHTTP observes HTTP: Produce calls and open
// ProduceStream streams count in eventguard_inflight_requests{transport="grpc"},
// each answer in eventguard_ingress_requests_total by gRPC code name, and with
// tracing on each call gets a server span, child of the caller's traceparent
// metadata, which the handler's spans continue. Other methods (Subscribe,
// health, reflection) pass through. Either m or t may be nil.
func GRPCServerOptions(m *Metrics, t *span.Tracer) []grpc.ServerOption {
	if m == nil && !t.Enabled() {
		return nil
	}
	return []grpc.ServerOption{grpc.ChainUnaryInterceptor(grpcUnary(m, t)), grpc.ChainStreamInterceptor(grpcStream(m, t))}
}

func grpcUnary(m *Metrics, t *span.Tracer) grpc.UnaryServerInterceptor {
	tracing := t.Enabled()
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, next grpc.UnaryHandler) (any, error) {
		if !produceMethods[info.FullMethod] {
			return next(ctx, req)
		}
		done := m.InFlight("grpc")
		defer done()
		var span trace.Span
		if tracing {
			ctx, span = startGRPC(t, ctx, info.FullMethod)
		}
		resp, err := next(ctx, req)
		endGRPC(span, err)
		m.Answered("grpc", status.Code(err).String())
		return resp, err
	}
}

func grpcStream(m *Metrics, t *span.Tracer) grpc.StreamServerInterceptor {
	tracing := t.Enabled()
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, next grpc.StreamHandler) error {
		if !produceMethods[info.FullMethod] {
			return next(srv, ss)
		}
		done := m.InFlight("grpc")
		defer done()
		var span trace.Span
		if tracing {
			var ctx context.Context
			ctx, span = startGRPC(t, ss.Context(), info.FullMethod)
			ss = &contextStream{ServerStream: ss, ctx: ctx}
		}
		err := next(srv, ss)
		endGRPC(span, err)
		m.Answered("grpc", status.Code(err).String())
		return err
	}
}

// contextStream replaces a server stream's context.
type contextStream struct {
	grpc.ServerStream
	ctx context.Context
}

func (s *contextStream) Context() context.Context { return s.ctx }

// startGRPC starts the server span of a produce call as a child of the
// caller's traceparent metadata, and rewrites that metadata to the span so
// the handler, which extracts the context from the metadata, continues it.
func startGRPC(t *span.Tracer, ctx context.Context, method string) (context.Context, trace.Span) {
	md, _ := metadata.FromIncomingContext(ctx)
	md = md.Copy()
	ctx = span.Propagator.Extract(ctx, span.MetadataCarrier(md))
	service, rpc, _ := strings.Cut(strings.TrimPrefix(method, "/"), "/")
	ctx, sp := t.Start(ctx, strings.TrimPrefix(method, "/"), trace.WithSpanKind(trace.SpanKindServer),
		trace.WithAttributes(
			attribute.String("rpc.system", "grpc"),
			attribute.String("rpc.service", service),
			attribute.String("rpc.method", rpc),
		))
	delete(md, "traceparent")
	span.Propagator.Inject(ctx, span.MetadataCarrier(md))
	return metadata.NewIncomingContext(ctx, md), sp
}

func endGRPC(span trace.Span, err error) {
	if span == nil {
		return
	}
	defer span.End()
	if !span.IsRecording() {
		return
	}
	c := status.Code(err)
	span.SetAttributes(attribute.Int("rpc.grpc.status_code", int(c)))
	if err != nil {
		span.SetStatus(codes.Error, c.String())
	}
}
