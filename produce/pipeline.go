// Package produce is the one produce pipeline behind every ingress
// transport. A request goes through four stages, one file each:
//
//	admit.go  the request and its records: names, limits, topic policy
//	check.go  each record's contract (package check: subject, schema,
//	          decode, validate, deprecation)
//	stamp.go  trace, feature, event id and schema headers; wire format
//	send.go   hand to franz-go and wait for the broker's acknowledgements
//
// and observe.go tells the Observer and the log what happened. HTTP and
// gRPC (package proxy) only decode requests into a Request and encode the
// Response.
package produce

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/twmb/franz-go/pkg/kgo"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/eventguard/eventguard/check"
	"github.com/eventguard/eventguard/config"
	"github.com/eventguard/eventguard/telemetry/span"
)

// Producer writes records without waiting for buffer room; *kgo.Client
// implements it. TryProduce fails a record at once with kgo.ErrMaxBuffered
// when the buffer is full (the pipeline's own budget keeps that from
// happening: it is the last line of defence).
type Producer interface {
	TryProduce(ctx context.Context, r *kgo.Record, promise func(*kgo.Record, error))
}

// Options wire a Pipeline.
type Options struct {
	// Checker is the contract check every record goes through. Required.
	Checker *check.Checker
	// Producer writes to Kafka. Required.
	Producer Producer
	// KafkaErr, when set, reports whether Kafka answers (nil) or why not;
	// while it does not, requests fail fast with 503.
	KafkaErr func() error
	// Tracer starts spans; nil means tracing off.
	Tracer *span.Tracer
	// Observer is told every outcome; nil means nobody.
	Observer Observer
	// Logger logs rejected records; nil means slog.Default().
	Logger *slog.Logger
}

// Pipeline is the produce pipeline. It is safe for concurrent use.
type Pipeline struct {
	cfg     *config.Config
	o       Options
	closing atomic.Bool
	// inflight counts requests between admission and answer, for Drain.
	inflight sync.WaitGroup
	// buffered bounds the records handed to the producer and not yet
	// acknowledged (budget.go).
	buffered budget
}

// New returns a pipeline for cfg (defaults applied and validated).
func New(cfg *config.Config, o Options) *Pipeline {
	if o.Tracer == nil {
		o.Tracer = span.NewTracer(nil)
	}
	if o.Observer == nil {
		o.Observer = nopObserver{}
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return &Pipeline{cfg: cfg, o: o, buffered: budget{maxRec: cfg.Kafka.MaxBufferedRecords, maxByte: cfg.Kafka.MaxBufferedBytes}}
}

// Buffered returns the records, and their bytes, handed to the producer
// and not yet acknowledged by Kafka: at most kafka.max_buffered_records and
// kafka.max_buffered_bytes.
func (p *Pipeline) Buffered() (records, bytes int) { return p.buffered.inUse() }

// Close makes every later request fail with 503 shutting_down and waits,
// until ctx is done, for the requests already admitted to be answered.
func (p *Pipeline) Close(ctx context.Context) error {
	p.closing.Store(true)
	done := make(chan struct{})
	go func() { p.inflight.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("drain produce requests: %w", ctx.Err())
	}
}

// Produce runs one request through the pipeline. It always returns a
// Response; Response.Err says whether the request failed as a whole.
func (p *Pipeline) Produce(ctx context.Context, req *Request) *Response {
	start := time.Now()
	if p.closing.Load() {
		return p.refuse(ctx, req, &Error{Kind: KindUnavailable, Code: CodeShuttingDown, Message: "eventguard is shutting down; retry against the next instance", RetryAfter: time.Second})
	}
	p.inflight.Add(1)
	defer p.inflight.Done()

	if e := p.admit(req); e != nil {
		return p.refuse(ctx, req, e)
	}
	if p.o.KafkaErr != nil {
		if err := p.o.KafkaErr(); err != nil {
			return p.refuse(ctx, req, &Error{Kind: KindUnavailable, Code: CodeKafkaDown, Message: "kafka is unreachable: " + err.Error(), RetryAfter: 5 * time.Second})
		}
	}
	ctx, cancel := context.WithTimeout(ctx, p.cfg.Limits.ProduceTimeout)
	defer cancel()
	ctx, span := p.o.Tracer.Start(ctx, "produce "+req.Topic, trace.WithSpanKind(trace.SpanKindProducer),
		trace.WithAttributes(
			attribute.String("messaging.system", "kafka"),
			attribute.String("messaging.operation.type", "send"),
			attribute.String("messaging.destination.name", req.Topic),
			attribute.Int("messaging.batch.message_count", len(req.Records)),
		))
	defer span.End()

	resp := p.produce(ctx, req, start)
	if resp.Err != nil {
		span.SetStatus(codes.Error, resp.Err.Message)
	}
	if span.IsRecording() && len(req.Records) == 1 && len(resp.Results) == 1 {
		if k := req.Records[0].Key; len(k) > 0 && len(k) <= 256 && utf8.Valid(k) {
			span.SetAttributes(attribute.String("messaging.kafka.message.key", string(k)))
		}
		if r := resp.Results[0]; r.Produced {
			span.SetAttributes(
				attribute.String("messaging.destination.partition.id", strconv.Itoa(int(r.Partition))),
				attribute.Int64("messaging.kafka.offset", r.Offset),
			)
		}
	}
	return resp
}

// produce runs an admitted request through check, stamp and send.
func (p *Pipeline) produce(ctx context.Context, req *Request, start time.Time) *Response {
	resp := &Response{Results: make([]Result, len(req.Records))}
	valid, failed := p.checkRecords(ctx, req, resp)
	if resp.Err != nil {
		return resp // the registry could not be asked
	}
	if failed > 0 && !req.Partial {
		resp.Err = summarize(resp.Results, failed, len(req.Records))
		p.batchRejected(req, valid)
		return resp
	}
	if len(valid) == 0 {
		resp.Err = summarize(resp.Results, failed, len(req.Records))
		return resp
	}
	p.send(ctx, req, valid, resp, start)
	return resp
}
