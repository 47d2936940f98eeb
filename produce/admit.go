package produce

import (
	"fmt"
	"regexp"

	"github.com/eventguard/eventguard/check"
	"github.com/eventguard/eventguard/config"
	"github.com/eventguard/eventguard/internal/quote"
	"github.com/eventguard/eventguard/kafka"
)

// The admit stage: what a request and its records must be before their
// contract is checked — names, limits, the topic policy.

var (
	// topicRe is Apache Kafka's rule for topic names (Topic.validate), but
	// for "." and "..", which validTopic refuses too.
	topicRe   = regexp.MustCompile(`^[a-zA-Z0-9._-]{1,249}$`)
	featureRe = regexp.MustCompile(`^[a-zA-Z0-9._:/-]{1,128}$`)
)

// Bounds on a record's envelope: the strings a caller sends beside the
// value. Each is refused past its bound with a 400 naming the field.
const (
	// MaxEventIDLen bounds a caller-given event id, in bytes.
	MaxEventIDLen = 128
	// MaxTypeLen bounds a record type (given, or read at the topic's type
	// pointer), in bytes.
	MaxTypeLen = check.MaxTypeLen
	// MaxHeaders bounds the caller's own headers on one record.
	MaxHeaders = 64
	// MaxHeaderNameLen bounds a header name, in bytes.
	MaxHeaderNameLen = 255
	// MaxHeaderValueLen bounds a header value, in bytes.
	MaxHeaderValueLen = 8192
)

// validTopic reports whether name is a topic name Apache Kafka accepts.
func validTopic(name string) bool {
	return name != "." && name != ".." && topicRe.MatchString(name)
}

// admit applies the request-level checks and the topic policy.
func (p *Pipeline) admit(req *Request) *Error {
	if !validTopic(req.Topic) {
		return errorf(KindBadRequest, CodeInvalidTopic, "topic %s is not a valid Kafka topic name (1 to 249 of letters, digits, '.', '_', '-'; not \".\" or \"..\")", quote.String(req.Topic))
	}
	if req.Feature == "" {
		req.Feature = p.cfg.Feature
	}
	if !featureRe.MatchString(req.Feature) {
		return errorf(KindBadRequest, CodeInvalidFeature, "feature %s is not valid: use 1 to 128 of letters, digits, '.', '_', ':', '/', '-'", quote.String(req.Feature))
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

// topic returns the policy of the topic named: its config entry, or the
// defaults (topic strategy) for a topic admitted by allow_any_topic.
func (p *Pipeline) topic(name string) config.Topic {
	if t, ok := p.cfg.Topic(name); ok {
		return t
	}
	return config.Topic{Name: name, SubjectStrategy: config.StrategyTopic}
}

// admitRecord applies the per-record limits and the topic's record policy
// to r, and gives it its event id (a new UUIDv7 when it has none).
func (p *Pipeline) admitRecord(t config.Topic, r *Record) (string, *RecordError) {
	if len(r.Value) > p.cfg.Limits.MaxValueBytes {
		return "", &RecordError{Kind: KindTooLarge, Code: CodeValueTooLarge, Message: fmt.Sprintf("value is %d bytes; the limit is %d (limits.max_value_bytes)", len(r.Value), p.cfg.Limits.MaxValueBytes)}
	}
	if len(r.Key) > p.cfg.Limits.MaxKeyBytes {
		return "", &RecordError{Kind: KindBadRequest, Code: CodeInvalidKey, Message: fmt.Sprintf("key is %d bytes; the limit is %d (limits.max_key_bytes)", len(r.Key), p.cfg.Limits.MaxKeyBytes)}
	}
	if len(r.Headers) > MaxHeaders {
		return "", &RecordError{Kind: KindBadRequest, Code: CodeInvalidHeader, Message: fmt.Sprintf("%d headers; the limit is %d", len(r.Headers), MaxHeaders)}
	}
	for _, h := range r.Headers {
		switch {
		case kafka.ReservedHeader(h.Key):
			return "", &RecordError{Kind: KindBadRequest, Code: CodeReservedHeader, Message: fmt.Sprintf("header %s is set by eventguard; send trace context as request headers and the event id as \"id\"", quote.String(h.Key))}
		case h.Key == "" || len(h.Key) > MaxHeaderNameLen || !kafka.HeaderValueSafe(h.Key):
			return "", &RecordError{Kind: KindBadRequest, Code: CodeInvalidHeader, Message: fmt.Sprintf("header name %s is not valid: 1 to %d bytes, no control characters, no leading or trailing space", quote.String(h.Key), MaxHeaderNameLen)}
		case len(h.Value) > MaxHeaderValueLen:
			return "", &RecordError{Kind: KindBadRequest, Code: CodeInvalidHeader, Message: fmt.Sprintf("header %s is %d bytes; the limit is %d", quote.String(h.Key), len(h.Value), MaxHeaderValueLen)}
		}
	}
	id := r.ID
	switch {
	case id == "":
		id = ids.next()
	case len(id) > MaxEventIDLen:
		return "", &RecordError{Kind: KindBadRequest, Code: CodeInvalidEventID, Message: fmt.Sprintf("id is %d bytes; the limit is %d", len(id), MaxEventIDLen)}
	case !kafka.HeaderValueSafe(id):
		// The id travels as a Kafka header and, on delivery, as the
		// HTTP header Eventguard-Event-Id.
		return "", &RecordError{Kind: KindBadRequest, Code: CodeInvalidEventID, Message: fmt.Sprintf("id %s cannot travel as a header value: no control characters (CR, LF, NUL...), no leading or trailing space", quote.String(id))}
	}
	if len(r.Type) > MaxTypeLen || !kafka.HeaderValueSafe(r.Type) {
		return "", &RecordError{Kind: KindBadRequest, Code: CodeInvalidType, Message: fmt.Sprintf("type %s is not valid: at most %d bytes, no control characters, no leading or trailing space", quote.String(r.Type), MaxTypeLen)}
	}
	if t.KeyRequired && len(r.Key) == 0 {
		return "", &RecordError{Kind: KindBadRequest, Code: CodeKeyRequired, Message: fmt.Sprintf("topic %q requires a key (topics[].key_required)", t.Name)}
	}
	if r.PartitionSet && r.Partition < 0 {
		return "", &RecordError{Kind: KindBadRequest, Code: CodeInvalidPartition, Message: fmt.Sprintf("partition %d is not valid: partitions are numbered from 0", r.Partition)}
	}
	if r.SchemaID != 0 && r.SchemaVersion != 0 {
		return "", &RecordError{Kind: KindBadRequest, Code: CodeConflictingPins, Message: "give schema_id or schema_version, not both"}
	}
	return id, nil
}
