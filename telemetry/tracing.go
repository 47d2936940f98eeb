package telemetry

import (
	"github.com/eventguard/eventguard/telemetry/span"

	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/eventguard/eventguard/config"
)

// TracingOptions complete the tracing configuration.
type TracingOptions struct {
	// ServiceVersion is the resource's service.version. Default: none.
	ServiceVersion string
	// Instance is the resource's service.instance.id (config's instance).
	Instance string
	// Exporter replaces the OTLP exporter (tests pass tracetest's in-memory
	// exporter); spans are then exported synchronously as they end.
	Exporter sdktrace.SpanExporter
}

// Tracing is the tracing set up for the process: its Tracer, and Shutdown
// to flush and stop the exporter.
type Tracing struct {
	// Tracer starts eventguard's spans; with tracing off it only stamps
	// child trace contexts.
	Tracer   *span.Tracer
	provider *sdktrace.TracerProvider
}

// StartTracing sets up tracing from cfg. With cfg.Tracing false (the
// default), or OTEL_SDK_DISABLED=true, there is no SDK: the Tracer only
// propagates. With it on, spans go to an OpenTelemetry SDK TracerProvider
// that exports over OTLP, configured by the standard environment variables:
//
//   - OTEL_EXPORTER_OTLP_TRACES_PROTOCOL or OTEL_EXPORTER_OTLP_PROTOCOL:
//     http/protobuf (the default; port 4318) or grpc (port 4317);
//   - OTEL_EXPORTER_OTLP_ENDPOINT / OTEL_EXPORTER_OTLP_TRACES_ENDPOINT,
//     _HEADERS, _TIMEOUT, _COMPRESSION, _CERTIFICATE, _INSECURE;
//   - OTEL_SERVICE_NAME (default "eventguard") and OTEL_RESOURCE_ATTRIBUTES;
//   - OTEL_TRACES_SAMPLER / OTEL_TRACES_SAMPLER_ARG, when set, replace the
//     configured ParentBased(TraceIDRatioBased(telemetry.sample_ratio)).
//
// The exporter connects lazily: an unreachable collector does not fail
// startup, it drops spans (and the SDK logs it).
func StartTracing(ctx context.Context, cfg config.Telemetry, o TracingOptions) (*Tracing, error) {
	if !cfg.Tracing || strings.EqualFold(strings.TrimSpace(os.Getenv("OTEL_SDK_DISABLED")), "true") {
		return &Tracing{Tracer: span.NewTracer(nil)}, nil
	}
	res, err := newResource(ctx, o)
	if err != nil {
		return nil, err
	}
	opts := []sdktrace.TracerProviderOption{sdktrace.WithResource(res)}
	if os.Getenv("OTEL_TRACES_SAMPLER") == "" {
		opts = append(opts, sdktrace.WithSampler(sdktrace.ParentBased(sdktrace.TraceIDRatioBased(cfg.SampleRatio))))
	}
	if o.Exporter != nil {
		opts = append(opts, sdktrace.WithSyncer(o.Exporter))
	} else {
		exp, err := newOTLPExporter(ctx)
		if err != nil {
			return nil, err
		}
		opts = append(opts, sdktrace.WithBatcher(exp))
	}
	tp := sdktrace.NewTracerProvider(opts...)
	return &Tracing{Tracer: span.NewTracer(tp), provider: tp}, nil
}

// Shutdown ends tracing: spans still queued are exported (bounded by ctx)
// and the exporter is closed. It is a no-op with tracing off.
func (t *Tracing) Shutdown(ctx context.Context) error {
	if t == nil || t.provider == nil {
		return nil
	}
	if err := t.provider.Shutdown(ctx); err != nil {
		return fmt.Errorf("shut down tracing: %w", err)
	}
	return nil
}

// Provider returns the SDK TracerProvider, nil with tracing off.
func (t *Tracing) Provider() trace.TracerProvider {
	if t == nil || t.provider == nil {
		return nil
	}
	return t.provider
}

func newResource(ctx context.Context, o TracingOptions) (*resource.Resource, error) {
	attrs := []attribute.KeyValue{attribute.String("service.name", "eventguard")}
	if o.Instance != "" {
		attrs = append(attrs, attribute.String("service.instance.id", o.Instance))
	}
	if o.ServiceVersion != "" {
		attrs = append(attrs, attribute.String("service.version", o.ServiceVersion))
	}
	// Later sources win: OTEL_RESOURCE_ATTRIBUTES and OTEL_SERVICE_NAME
	// override the defaults above.
	res, err := resource.New(ctx,
		resource.WithTelemetrySDK(),
		resource.WithAttributes(attrs...),
		resource.WithFromEnv(),
	)
	if err != nil && !errors.Is(err, resource.ErrPartialResource) {
		return nil, fmt.Errorf("build tracing resource: %w", err)
	}
	return res, nil
}

// OTLPProtocol returns the OTLP protocol the environment asks for:
// OTEL_EXPORTER_OTLP_TRACES_PROTOCOL, else OTEL_EXPORTER_OTLP_PROTOCOL, else
// "http/protobuf".
func OTLPProtocol() string {
	for _, k := range []string{"OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_EXPORTER_OTLP_PROTOCOL"} {
		if v := strings.TrimSpace(os.Getenv(k)); v != "" {
			return v
		}
	}
	return "http/protobuf"
}

func newOTLPExporter(ctx context.Context) (sdktrace.SpanExporter, error) {
	switch p := OTLPProtocol(); p {
	case "http/protobuf":
		exp, err := otlptracehttp.New(ctx)
		if err != nil {
			return nil, fmt.Errorf("create OTLP/HTTP trace exporter: %w", err)
		}
		return exp, nil
	case "grpc":
		exp, err := otlptracegrpc.New(ctx)
		if err != nil {
			return nil, fmt.Errorf("create OTLP/gRPC trace exporter: %w", err)
		}
		return exp, nil
	default:
		return nil, fmt.Errorf("OTLP protocol %q is not supported: use http/protobuf or grpc (OTEL_EXPORTER_OTLP_PROTOCOL)", p)
	}
}

// ingressRoute names the produce route for span names without the topic
// (span names stay low-cardinality; the topic is an attribute).
func ingressRoute(r *http.Request) string {
	p := r.URL.Path
	if strings.HasPrefix(p, "/v1/topics/") && strings.HasSuffix(p, "/records") {
		return r.Method + " /v1/topics/{topic}/records"
	}
	return r.Method
}

// startIngress starts the server span of an HTTP produce request as a child
// of the caller's traceparent, and rewrites the request's traceparent to it
// so that the handler, which extracts the context from the headers, parents
// its spans on the ingress span.
func startIngress(t *span.Tracer, r *http.Request) (context.Context, trace.Span) {
	ctx := span.Propagator.Extract(r.Context(), propagation.HeaderCarrier(r.Header))
	ctx, sp := t.Start(ctx, ingressRoute(r), trace.WithSpanKind(trace.SpanKindServer),
		trace.WithAttributes(
			attribute.String("http.request.method", r.Method),
			attribute.String("url.path", r.URL.Path),
			attribute.String("http.route", strings.TrimPrefix(ingressRoute(r), r.Method+" ")),
		))
	r.Header.Del("traceparent")
	span.Propagator.Inject(ctx, propagation.HeaderCarrier(r.Header))
	return ctx, sp
}

func endIngress(span trace.Span, status int) {
	if !span.IsRecording() {
		return
	}
	span.SetAttributes(attribute.Int("http.response.status_code", status))
	if status >= 500 {
		span.SetStatus(codes.Error, strconv.Itoa(status))
	}
}
