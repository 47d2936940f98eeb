package produce

import (
	"fmt"
	"regexp"

	"github.com/eventguard/eventguard/config"
	"github.com/eventguard/eventguard/kafka"
)

// The admit stage: what a request and its records must be before their
// contract is checked — names, limits, the topic policy.

var (
	topicRe   = regexp.MustCompile(`^[a-zA-Z0-9._-]{1,249}$`)
	featureRe = regexp.MustCompile(`^[a-zA-Z0-9._:/-]{1,128}$`)
)

// MaxEventIDLen bounds a caller-given event id.
const MaxEventIDLen = 128

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
	for _, h := range r.Headers {
		if kafka.ReservedHeader(h.Key) {
			return "", &RecordError{Kind: KindBadRequest, Code: CodeReservedHeader, Message: fmt.Sprintf("header %q is set by eventguard; send trace context as request headers and the event id as \"id\"", h.Key)}
		}
	}
	id := r.ID
	if id == "" {
		id = ids.next()
	} else if len(id) > MaxEventIDLen {
		return "", &RecordError{Kind: KindBadRequest, Code: CodeInvalidEventID, Message: fmt.Sprintf("id is %d bytes; the limit is %d", len(id), MaxEventIDLen)}
	}
	if t.KeyRequired && len(r.Key) == 0 {
		return "", &RecordError{Kind: KindBadRequest, Code: CodeKeyRequired, Message: fmt.Sprintf("topic %q requires a key (topics[].key_required)", t.Name)}
	}
	if r.SchemaID != 0 && r.SchemaVersion != 0 {
		return "", &RecordError{Kind: KindBadRequest, Code: CodeConflictingPins, Message: "give schema_id or schema_version, not both"}
	}
	return id, nil
}
