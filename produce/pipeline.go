// Package produce is the one produce pipeline behind every ingress transport:
// it applies the topic policy, resolves each record's schema, validates,
// stamps the trace, feature, event id and schema headers, produces with
// franz-go, and answers once the broker acknowledged. HTTP and gRPC only
// decode requests into a Request and encode the Response.
package produce

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/eventguard/eventguard/config"
	"github.com/eventguard/eventguard/internal/jsonvalue"
	"github.com/eventguard/eventguard/kafka"
	"github.com/eventguard/eventguard/telemetry/span"
	"github.com/eventguard/eventguard/validate"
)

// Header is one caller-supplied record header.
type Header struct {
	Key   string
	Value []byte
}

// Record is one event to produce.
type Record struct {
	// Key is the Kafka key; nil means no key.
	Key []byte
	// Value is the event as JSON text, exactly as sent.
	Value []byte
	// Headers are the caller's own headers, kept as given.
	Headers []Header
	// ID is the event id; empty means generate a UUIDv7.
	ID string
	// Type names the record type for the record and topic_record subject
	// strategies.
	Type string
	// SchemaID pins a schema by global id; 0 means not pinned.
	SchemaID int
	// SchemaVersion pins a subject version; 0 means the latest.
	SchemaVersion int
	// Doc, when set, is Value already decoded by the transport
	// (jsonvalue.Doc.ParseIn over the request body, in the same pass that
	// found the value's end); the pipeline validates it instead of decoding
	// Value again, and gives it back to jsonvalue's pool. nil: the pipeline
	// decodes Value.
	Doc *jsonvalue.Doc
}

// Request is one produce call.
type Request struct {
	Topic string
	// Feature is the producing feature; empty means the configured default.
	Feature string
	// Records are the events. Once the pipeline has copied the valid ones
	// into what it hands Kafka, it sets every Record.Value to nil, so that a
	// request waiting on the broker keeps none of the caller's buffers.
	Records []Record
	// Partial produces the valid records even when others are invalid.
	Partial bool
	// Order, when set, is called just before the request's valid records
	// are handed to the producer and blocks until it is this request's
	// turn; the pipeline calls the returned function right after handing
	// them over. An error (ctx done first) means nothing is handed over:
	// every record is answered as timed out. gRPC ProduceStream uses it to
	// hand requests to Kafka in stream order while validating several at
	// once. Default: nil, no ordering between requests.
	Order func(ctx context.Context) (handedOff func(), err error)
	// Release, when set, is called as soon as the pipeline no longer needs
	// the records' values (see Records), before it waits for the
	// acknowledgements: the HTTP ingress gives its pooled body back. Not
	// called when nothing is sent. Default: nil.
	Release func()
}

// RecordError says why one record was not produced.
type RecordError struct {
	Kind       Kind                 `json:"-"`
	Code       string               `json:"code"`
	Message    string               `json:"message"`
	Violations []validate.Violation `json:"violations,omitempty"`
}

// Result is the outcome for one record, in request order.
type Result struct {
	Index         int
	Produced      bool
	Partition     int32
	Offset        int64
	Subject       string
	SchemaID      int
	SchemaVersion int
	EventID       string
	Err           *RecordError
}

// Response answers a Request. Err is set when the request failed as a
// whole; Results are still filled as far as they are known (which records
// were valid, which landed before a Kafka failure).
type Response struct {
	Results      []Result
	Err          *Error
	Deprecations []Notice
}

// Resolver finds schemas; *validate.Resolver implements it.
type Resolver interface {
	ByID(ctx context.Context, id int, preferSubject string) (*validate.Schema, error)
	ByVersion(ctx context.Context, subject string, version int) (*validate.Schema, error)
	Latest(ctx context.Context, subject string) (*validate.Schema, error)
}

// Producer writes records; *kgo.Client implements it.
type Producer interface {
	Produce(ctx context.Context, r *kgo.Record, promise func(*kgo.Record, error))
}

// Event is what the pipeline tells its Observer about one record.
type Event struct {
	Topic, Subject, Feature string
	SchemaID, Version       int
	// Outcome is "accepted" (in Kafka), "rejected" (refused before
	// producing) or "failed" (Kafka, the registry or eventguard itself
	// could not take it).
	Outcome string
	// Code is the rejection or failure code (an error code, or
	// ReasonBatchRejected); empty when accepted.
	Code string
	// Deprecated is set when the version is deprecated.
	Deprecated bool
	// Count is how many records of one request this event stands for
	// (records with the same facts are reported together); 0 means 1.
	Count int
}

// ReasonBatchRejected is the Event.Code of a valid record that was not
// produced because another record of its all-or-nothing request failed.
const ReasonBatchRejected = "batch_rejected"

// Observer receives the pipeline's facts; telemetry implements it.
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
}

type nopObserver struct{}

func (nopObserver) Record(Event)                {}
func (nopObserver) Validated([]time.Duration)   {}
func (nopObserver) Acked(string, time.Duration) {}

// Options wire a Pipeline.
type Options struct {
	Resolver Resolver
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
	// Deprecations are checked for every resolved schema; nil means none.
	Deprecations *Deprecations
}

// Pipeline is the produce pipeline. It is safe for concurrent use.
type Pipeline struct {
	cfg     *config.Config
	o       Options
	closing atomic.Bool
	// inflight counts requests between admission and answer, for Drain.
	inflight sync.WaitGroup
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
	return &Pipeline{cfg: cfg, o: o}
}

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

var (
	topicRe   = regexp.MustCompile(`^[a-zA-Z0-9._-]{1,249}$`)
	featureRe = regexp.MustCompile(`^[a-zA-Z0-9._:/-]{1,128}$`)
)

// MaxEventIDLen bounds a caller-given event id.
const MaxEventIDLen = 128

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
		p.o.Observer.Record(Event{Topic: req.Topic, Feature: req.Feature, Outcome: outcome, Code: e.Code, Count: n})
	}
	attrs := []slog.Attr{slog.String("topic", req.Topic), slog.String("feature", req.Feature), slog.Int("records", len(req.Records)), slog.String("code", e.Code), slog.String("error", e.Message)}
	if sc := trace.SpanContextFromContext(ctx); sc.HasTraceID() {
		attrs = append(attrs, slog.String("trace_id", sc.TraceID().String()))
	}
	p.o.Logger.LogAttrs(ctx, lv, "request "+outcome, attrs...)
	return &Response{Err: e}
}

// admit applies the request-level checks and the topic policy.
func (p *Pipeline) admit(req *Request) *Error {
	if !topicRe.MatchString(req.Topic) {
		return errorf(KindBadRequest, CodeInvalidTopic, "topic %q is not a valid Kafka topic name (letters, digits, '.', '_', '-'; 1 to 249)", req.Topic)
	}
	if req.Feature == "" {
		req.Feature = p.cfg.Feature
	}
	if !featureRe.MatchString(req.Feature) {
		return errorf(KindBadRequest, CodeInvalidFeature, "feature %q is not valid: use 1 to 128 of letters, digits, '.', '_', ':', '/', '-'", req.Feature)
	}
	if len(req.Records) == 0 {
		return errorf(KindBadRequest, CodeEmptyBatch, "records is empty: send at least one record")
	}
	if n, max := len(req.Records), p.cfg.Limits.MaxRecordsPerRequest; n > max {
		return errorf(KindTooLarge, CodeTooManyRecords, "%d records in one request; the limit is %d (limits.max_records_per_request)", n, max)
	}
	t, ok := p.cfg.Topic(req.Topic)
	if !ok && !p.cfg.AllowAnyTopic {
		return errorf(KindForbidden, CodeTopicNotAllowed, "topic %q is not in this sidecar's allow-list (topics in the config)", req.Topic)
	}
	if ok && len(t.Features) > 0 {
		allowed := false
		for _, f := range t.Features {
			allowed = allowed || f == req.Feature
		}
		if !allowed {
			return errorf(KindForbidden, CodeFeatureNotAllowed, "feature %q may not produce to topic %q (topics[].features)", req.Feature, req.Topic)
		}
	}
	return nil
}

func (p *Pipeline) topic(name string) config.Topic {
	if t, ok := p.cfg.Topic(name); ok {
		return t
	}
	return config.Topic{Name: name, SubjectStrategy: config.StrategyTopic}
}

type schemaKey struct {
	typ         string // the record type; "" under the topic strategy
	id, version int
}

// prepared is one record that passed validation.
type prepared struct {
	index      int
	schema     *validate.Schema
	id         string
	deprecated bool
}

func (p *Pipeline) produce(ctx context.Context, req *Request, start time.Time) *Response {
	t := p.topic(req.Topic)
	resp := &Response{Results: make([]Result, len(req.Records))}
	memo := map[schemaKey]*validate.Schema{}
	valid := make([]prepared, 0, len(req.Records))
	failed := 0
	took := make([]time.Duration, 0, len(req.Records)) // validation times, observed at once

	vctx, vspan := p.o.Tracer.Start(ctx, "validate "+req.Topic, trace.WithAttributes(attribute.Int("eventguard.records", len(req.Records))))
	for i := range resp.Results {
		// Every index, also of records left unchecked when the registry
		// fails part way.
		resp.Results[i].Index = i
	}
	for i := range req.Records {
		r := &req.Records[i]
		res := &resp.Results[i]
		s, id, rerr := p.check(vctx, t, r, memo, &took)
		if rerr != nil && rerr.Kind == KindUnavailable {
			resp.Err = &Error{Kind: KindUnavailable, Code: CodeRegistryDown, Message: fmt.Sprintf("record %d: %s", i, rerr.Message), RetryAfter: 5 * time.Second}
			vspan.SetStatus(codes.Error, resp.Err.Message)
			vspan.End()
			p.o.Observer.Validated(took)
			p.unchecked(ctx, req, valid, i, resp.Err)
			return resp
		}
		if s != nil {
			res.Subject, res.SchemaID, res.SchemaVersion = s.Subject, s.ID, s.Version
		}
		deprecated := false
		if rerr == nil && p.o.Deprecations != nil && s != nil {
			n, reject := p.o.Deprecations.CheckSchema(s, req.Feature)
			if n != nil {
				deprecated = true
				resp.addNotice(*n)
			}
			if reject {
				rerr = &RecordError{Kind: KindInvalid, Code: CodeDeprecated, Message: fmt.Sprintf("%s version %d was sunset on %s; produce version %s instead", s.Subject, s.Version, n.Sunset.Format(time.DateOnly), n.replacementText())}
			}
		}
		if rerr != nil {
			res.Err = rerr
			failed++
			p.reject(vctx, req, i, s, rerr, deprecated)
			continue
		}
		res.EventID = id
		valid = append(valid, prepared{index: i, schema: s, id: id, deprecated: deprecated})
	}
	if failed > 0 {
		vspan.SetStatus(codes.Error, fmt.Sprintf("%d of %d records failed", failed, len(req.Records)))
	}
	vspan.End()
	p.o.Observer.Validated(took)

	if failed > 0 && !req.Partial {
		resp.Err = summarize(resp.Results, failed, len(req.Records))
		var evs []Event
		for _, v := range valid {
			evs = addEvent(evs, Event{Topic: req.Topic, Subject: v.schema.Subject, SchemaID: v.schema.ID, Version: v.schema.Version, Feature: req.Feature, Outcome: "rejected", Code: ReasonBatchRejected, Deprecated: v.deprecated})
		}
		p.record(evs)
		return resp
	}
	if len(valid) == 0 {
		resp.Err = summarize(resp.Results, failed, len(req.Records))
		return resp
	}
	p.send(ctx, req, valid, resp, start)
	return resp
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
	attrs := []slog.Attr{slog.String("topic", req.Topic), slog.String("feature", req.Feature), slog.Int("records", len(req.Records)), slog.String("code", e.Code), slog.String("error", e.Message)}
	if sc := trace.SpanContextFromContext(ctx); sc.HasTraceID() {
		attrs = append(attrs, slog.String("trace_id", sc.TraceID().String()))
	}
	p.o.Logger.LogAttrs(ctx, slog.LevelWarn, "request failed", attrs...)
}

// check derives the subject, resolves and validates one record.
// The time the value's validation took, the schema lookup included, is
// appended to took.
func (p *Pipeline) check(ctx context.Context, t config.Topic, r *Record, memo map[schemaKey]*validate.Schema, took *[]time.Duration) (*validate.Schema, string, *RecordError) {
	if len(r.Value) > p.cfg.Limits.MaxValueBytes {
		return nil, "", &RecordError{Kind: KindTooLarge, Code: CodeValueTooLarge, Message: fmt.Sprintf("value is %d bytes; the limit is %d (limits.max_value_bytes)", len(r.Value), p.cfg.Limits.MaxValueBytes)}
	}
	for _, h := range r.Headers {
		if kafka.ReservedHeader(h.Key) {
			return nil, "", &RecordError{Kind: KindBadRequest, Code: CodeReservedHeader, Message: fmt.Sprintf("header %q is set by eventguard; send trace context as request headers and the event id as \"id\"", h.Key)}
		}
	}
	id := r.ID
	if id == "" {
		id = ids.next()
	} else if len(id) > MaxEventIDLen {
		return nil, "", &RecordError{Kind: KindBadRequest, Code: CodeInvalidEventID, Message: fmt.Sprintf("id is %d bytes; the limit is %d", len(id), MaxEventIDLen)}
	}
	if t.KeyRequired && len(r.Key) == 0 {
		return nil, "", &RecordError{Kind: KindBadRequest, Code: CodeKeyRequired, Message: fmt.Sprintf("topic %q requires a key (topics[].key_required)", t.Name)}
	}
	if r.SchemaID != 0 && r.SchemaVersion != 0 {
		return nil, "", &RecordError{Kind: KindBadRequest, Code: CodeConflictingPins, Message: "give schema_id or schema_version, not both"}
	}

	start := time.Now()
	doc := r.Doc
	r.Doc = nil
	if doc == nil {
		doc = jsonvalue.GetDoc()
		if err := doc.Parse(r.Value, jsonvalue.Limits{}); err != nil {
			jsonvalue.PutDoc(doc)
			f := validate.Malformed(err)
			return nil, "", &RecordError{Kind: KindInvalid, Code: f.Code, Message: f.Message, Violations: f.Violations}
		}
	}
	defer jsonvalue.PutDoc(doc)

	typ := ""
	if t.SubjectStrategy != config.StrategyTopic {
		typ = r.Type
		if typ == "" && t.TypePointer != "" {
			typ = lookupString(doc, t.TypePointer)
		}
		if typ == "" {
			where := "give \"type\" with the record"
			if t.TypePointer != "" {
				where = fmt.Sprintf("the value has no string at %s and the record has no \"type\"", t.TypePointer)
			}
			return nil, "", &RecordError{Kind: KindBadRequest, Code: CodeTypeRequired, Message: fmt.Sprintf("topic %q uses the %s subject strategy: %s", t.Name, t.SubjectStrategy, where)}
		}
	}

	// The schema of the same type and pin was resolved for an earlier
	// record of the request: the subject is known, no string to build.
	k := schemaKey{typ: typ, id: r.SchemaID, version: r.SchemaVersion}
	s, ok := memo[k]
	if !ok {
		var err error
		subject := t.Name + "-value"
		switch t.SubjectStrategy {
		case config.StrategyRecord:
			subject = typ
		case config.StrategyTopicRecord:
			subject = t.Name + "-" + typ
		}
		switch {
		case r.SchemaID != 0:
			s, err = p.o.Resolver.ByID(ctx, r.SchemaID, subject)
			if err == nil && s.Subject != subject {
				return nil, "", &RecordError{Kind: KindNotFound, Code: CodeSchemaNotFound, Message: fmt.Sprintf("schema id %d is not registered under subject %q (it is %s version %d)", r.SchemaID, subject, s.Subject, s.Version)}
			}
		case r.SchemaVersion != 0:
			s, err = p.o.Resolver.ByVersion(ctx, subject, r.SchemaVersion)
		default:
			s, err = p.o.Resolver.Latest(ctx, subject)
		}
		if err != nil {
			return nil, "", resolveError(err)
		}
		memo[k] = s
	}
	f := s.ValidateDoc(doc)
	*took = append(*took, time.Since(start))
	if f != nil {
		return s, "", &RecordError{Kind: KindInvalid, Code: f.Code, Message: f.Message, Violations: f.Violations}
	}
	return s, id, nil
}

func resolveError(err error) *RecordError {
	switch {
	case errors.Is(err, validate.ErrNotFound):
		return &RecordError{Kind: KindNotFound, Code: CodeSchemaNotFound, Message: err.Error()}
	case errors.Is(err, validate.ErrBadSchema):
		return &RecordError{Kind: KindInvalid, Code: CodeUnusableSchema, Message: err.Error()}
	default:
		return &RecordError{Kind: KindUnavailable, Code: CodeRegistryDown, Message: err.Error()}
	}
}

// lookupString returns the string at JSON pointer ptr in doc, or "".
func lookupString(doc *jsonvalue.Doc, ptr string) string {
	i, ok := doc.Pointer(ptr)
	if !ok || doc.Nodes[i].Kind != jsonvalue.KindString {
		return ""
	}
	return doc.Nodes[i].Str
}

// summarize builds the request-level error for failed records: the shared
// kind when every failure has the same one, else 422.
func summarize(results []Result, failed, total int) *Error {
	var first *Result
	kind, code := Kind(0), ""
	for i := range results {
		e := results[i].Err
		if e == nil {
			continue
		}
		if first == nil {
			first, kind, code = &results[i], e.Kind, e.Code
			continue
		}
		if e.Kind != kind {
			kind = KindInvalid
		}
		if e.Code != code {
			code = CodeInvalidRecords
		}
	}
	if kind == KindInvalid && code != CodeDeprecated {
		code = CodeInvalidRecords
	}
	msg := fmt.Sprintf("record %d: %s", first.Index, first.Err.Message)
	if failed > 1 {
		msg = fmt.Sprintf("%d of %d records failed; first, %s", failed, total, msg)
	}
	return &Error{Kind: kind, Code: code, Message: msg + "; nothing was produced"}
}

func (p *Pipeline) reject(ctx context.Context, req *Request, i int, s *validate.Schema, e *RecordError, deprecated bool) {
	ev := Event{Topic: req.Topic, Feature: req.Feature, Outcome: "rejected", Code: e.Code, Deprecated: deprecated}
	attrs := []any{"topic", req.Topic, "feature", req.Feature, "index", i, "code", e.Code, "error", e.Message}
	if s != nil {
		ev.Subject, ev.SchemaID, ev.Version = s.Subject, s.ID, s.Version
		attrs = append(attrs, "subject", s.Subject, "version", s.Version)
	}
	if sc := trace.SpanContextFromContext(ctx); sc.HasTraceID() {
		attrs = append(attrs, "trace_id", sc.TraceID().String())
	}
	p.o.Observer.Record(ev)
	p.o.Logger.LogAttrs(ctx, slog.LevelInfo, "record rejected", slogAttrs(attrs)...)
}

func slogAttrs(kv []any) []slog.Attr {
	out := make([]slog.Attr, 0, len(kv)/2)
	for i := 0; i+1 < len(kv); i += 2 {
		out = append(out, slog.Any(kv[i].(string), kv[i+1]))
	}
	return out
}

// pending tracks one request's outstanding acknowledgements.
type pending struct {
	mu        sync.Mutex
	left      int
	abandoned bool
	done      chan struct{}
}

// send stamps and produces the valid records and waits for their
// acknowledgements or the deadline.
func (p *Pipeline) send(ctx context.Context, req *Request, valid []prepared, resp *Response, start time.Time) {
	// Headers shared by every record of the request.
	var trace []kgo.RecordHeader
	span.Propagator.Inject(ctx, kafka.HeaderCarrier{Headers: &trace})
	feature := []byte(req.Feature)
	// The subject and version headers, rendered once per schema.
	type stamp struct{ subject, version []byte }
	stamps := map[*validate.Schema]stamp{}

	pd := &pending{left: len(valid), done: make(chan struct{})}
	toSend := valid
	var handedOff func()
	if req.Order != nil {
		var err error
		if handedOff, err = req.Order(ctx); err != nil {
			// ctx is done before this request's turn: nothing is handed
			// over and every record is answered as timed out below.
			toSend = nil
		}
	}
	// The request's records, their headers, event ids and framed values
	// are carved out of four allocations, not four per record.
	nHeaders, nBytes := 0, 0
	for _, v := range toSend {
		r := &req.Records[v.index]
		nHeaders += len(r.Headers) + len(trace) + 4
		nBytes += validate.WireHeaderLen + len(r.Value) + len(v.id)
	}
	recs := make([]kgo.Record, len(toSend))
	headers := make([]kgo.RecordHeader, 0, nHeaders)
	buf := make([]byte, 0, nBytes)
	for n, v := range toSend {
		r := &req.Records[v.index]
		first := len(headers)
		for _, h := range r.Headers {
			headers = append(headers, kgo.RecordHeader{Key: h.Key, Value: h.Value})
		}
		headers = append(headers, trace...)
		st, ok := stamps[v.schema]
		if !ok {
			st = stamp{[]byte(v.schema.Subject), []byte(strconv.Itoa(v.schema.Version))}
			stamps[v.schema] = st
		}
		from := len(buf)
		buf = append(buf, v.id...)
		id := buf[from:len(buf):len(buf)]
		from = len(buf)
		buf = validate.AppendFrame(buf, v.schema.ID, r.Value)
		value := buf[from:len(buf):len(buf)]
		headers = append(headers,
			kgo.RecordHeader{Key: kafka.HeaderFeature, Value: feature},
			kgo.RecordHeader{Key: kafka.HeaderEventID, Value: id},
			kgo.RecordHeader{Key: kafka.HeaderSubject, Value: st.subject},
			kgo.RecordHeader{Key: kafka.HeaderSchemaVersion, Value: st.version},
		)
		rec := &recs[n]
		rec.Topic, rec.Key, rec.Value = req.Topic, r.Key, value
		rec.Headers = headers[first:len(headers):len(headers)]
		res := &resp.Results[v.index]
		p.o.Producer.Produce(ctx, rec, func(rec *kgo.Record, err error) {
			pd.mu.Lock()
			defer pd.mu.Unlock()
			if pd.abandoned {
				return
			}
			if err != nil {
				k, code, msg := kafkaError(req.Topic, err)
				res.Err = &RecordError{Kind: k, Code: code, Message: msg}
			} else {
				res.Produced, res.Partition, res.Offset = true, rec.Partition, rec.Offset
			}
			pd.left--
			if pd.left == 0 {
				close(pd.done)
			}
		})
	}
	if handedOff != nil {
		handedOff()
	}
	for i := range req.Records {
		req.Records[i].Value = nil
	}
	if req.Release != nil {
		req.Release()
	}

	select {
	case <-pd.done:
		acked := true
		for _, v := range valid {
			acked = acked && resp.Results[v.index].Produced
		}
		if acked {
			p.o.Observer.Acked(req.Topic, time.Since(start))
		}
	case <-ctx.Done():
		pd.mu.Lock()
		pd.abandoned = true
		for _, v := range valid {
			res := &resp.Results[v.index]
			if !res.Produced && res.Err == nil {
				res.Err = &RecordError{Kind: KindTimeout, Code: CodeTimeout, Message: fmt.Sprintf("no acknowledgement from Kafka within %s; the record may or may not have been written", p.cfg.Limits.ProduceTimeout)}
			}
		}
		pd.mu.Unlock()
	}
	p.observeSent(req, valid, resp)

	// Request-level error from Kafka failures: the first failure's kind.
	for _, v := range valid {
		if e := resp.Results[v.index].Err; e != nil && !req.Partial {
			produced := 0
			for _, w := range valid {
				if resp.Results[w.index].Produced {
					produced++
				}
			}
			resp.Err = &Error{Kind: e.Kind, Code: e.Code, Message: fmt.Sprintf("record %d: %s (%d of %d records were written; see results)", v.index, e.Message, produced, len(req.Records))}
			if e.Kind == KindUnavailable {
				resp.Err.RetryAfter = 5 * time.Second
			}
			p.o.Logger.LogAttrs(ctx, slog.LevelWarn, "produce failed", slog.String("topic", req.Topic), slog.String("code", e.Code), slog.String("error", e.Message))
			return
		}
	}
}

// observeSent reports the outcome of the records handed to Kafka, off the
// producer's callback path: records with the same schema and outcome are
// reported as one Event with their Count (a batch usually has one).
func (p *Pipeline) observeSent(req *Request, valid []prepared, resp *Response) {
	var evs []Event
	for _, v := range valid {
		ev := Event{Topic: req.Topic, Subject: v.schema.Subject, SchemaID: v.schema.ID, Version: v.schema.Version, Feature: req.Feature, Outcome: "accepted", Deprecated: v.deprecated}
		if e := resp.Results[v.index].Err; e != nil {
			ev.Outcome, ev.Code = "failed", e.Code
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

// kafkaError classifies a produce failure.
func kafkaError(topic string, err error) (Kind, string, string) {
	switch {
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, kgo.ErrRecordTimeout):
		return KindTimeout, CodeTimeout, "no acknowledgement from Kafka in time: " + err.Error()
	case errors.Is(err, context.Canceled):
		return KindUnavailable, CodeKafkaDown, "the request was cancelled before Kafka acknowledged: " + err.Error()
	case errors.Is(err, kgo.ErrClientClosed):
		return KindUnavailable, CodeShuttingDown, "eventguard is shutting down"
	case errors.Is(err, kgo.ErrMaxBuffered):
		return KindOverloaded, CodeOverloaded, "too many records buffered for Kafka; slow down"
	case errors.Is(err, kerr.MessageTooLarge), errors.Is(err, kerr.RecordListTooLarge):
		return KindTooLarge, CodeValueTooLarge, "Kafka refused the record as too large: " + err.Error()
	case errors.Is(err, kerr.TopicAuthorizationFailed):
		return KindForbidden, CodeKafkaRejected, fmt.Sprintf("Kafka does not let eventguard write to topic %q: %v", topic, err)
	case errors.Is(err, kerr.UnknownTopicOrPartition):
		return KindNotFound, CodeTopicNotFound, fmt.Sprintf("topic %q does not exist in Kafka", topic)
	case errors.Is(err, kerr.InvalidRecord), errors.Is(err, kerr.CorruptMessage):
		return KindBadRequest, CodeKafkaRejected, "Kafka refused the record: " + err.Error()
	default:
		return KindUnavailable, CodeKafkaDown, "Kafka did not take the record: " + err.Error()
	}
}
