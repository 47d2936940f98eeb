package check

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sr"

	"github.com/eventguard/eventguard/config"
	"github.com/eventguard/eventguard/internal/jsonvalue"
	"github.com/eventguard/eventguard/internal/quote"
	"github.com/eventguard/eventguard/kafka"
	"github.com/eventguard/eventguard/rules"
	"github.com/eventguard/eventguard/validate"
)

// ProduceInput is one record about to be produced.
type ProduceInput struct {
	// Topic is the destination topic's policy (its subject strategy and
	// type pointer).
	Topic config.Topic
	// Value is the event as JSON text, exactly as sent.
	Value []byte
	// Doc, when set, is Value already decoded; the check takes it over and
	// gives it back to jsonvalue's pool. nil: the check decodes Value.
	Doc *jsonvalue.Doc
	// Type names the record type for the record and topic_record
	// strategies; "" reads it from the topic's type pointer.
	Type string
	// SchemaID pins a schema by global id; 0 means not pinned.
	SchemaID int
	// SchemaVersion pins a subject version; 0 means the latest.
	SchemaVersion int
	// Feature is the producing feature, for the deprecation log.
	Feature string
	// Key is the record's Kafka key (nil: none), for the rules.
	Key []byte
	// Headers returns the record's own headers, for the rules; called only
	// when rules run. nil: none.
	Headers func() []kgo.RecordHeader
}

// Memo remembers the schemas resolved for one request, so that records of
// the same type and pin resolve once. Make one per request: Memo{}.
type Memo map[memoKey]*validate.Schema

type memoKey struct {
	typ         string // the record type; "" under the topic strategy
	id, version int
}

// Produce checks one record before it is produced. It returns an error,
// wrapping validate.ErrUnavailable, only when the registry could not be
// asked: no verdict, the request is answered 503.
func (c *Checker) Produce(ctx context.Context, in *ProduceInput, memo Memo) (Verdict, error) {
	doc := in.Doc
	in.Doc = nil
	if doc == nil {
		doc = jsonvalue.GetDoc()
		if err := doc.Parse(in.Value, jsonvalue.Limits{}); err != nil {
			jsonvalue.PutDoc(doc)
			return failed(validate.Malformed(err), nil), nil
		}
	}
	defer jsonvalue.PutDoc(doc)

	t := in.Topic
	typ := ""
	if t.SubjectStrategy != config.StrategyTopic && t.SubjectStrategy != "" {
		typ = in.Type
		if typ == "" && t.TypePointer != "" {
			typ = lookupString(doc, t.TypePointer)
		}
		if typ == "" {
			where := "give \"type\" with the record"
			if t.TypePointer != "" {
				where = fmt.Sprintf("the value has no string at %s and the record has no \"type\"", t.TypePointer)
			}
			return Verdict{Code: CodeTypeRequired, Message: fmt.Sprintf("topic %q uses the %s subject strategy: %s", t.Name, t.SubjectStrategy, where)}, nil
		}
		if in.Type == "" && (len(typ) > MaxTypeLen || !kafka.HeaderValueSafe(typ)) {
			return Verdict{Code: CodeInvalidType, Message: fmt.Sprintf("the type at %s, %s, is not valid: at most %d bytes, no control characters, no leading or trailing space", t.TypePointer, quote.String(typ), MaxTypeLen)}, nil
		}
	}

	// The schema of the same type and pin was resolved for an earlier
	// record of the request: the subject is known, no string to build.
	k := memoKey{typ: typ, id: in.SchemaID, version: in.SchemaVersion}
	s, ok := memo[k]
	if !ok {
		var err error
		subject := Subject(t, typ)
		switch {
		case in.SchemaID != 0:
			s, err = c.r.ByID(ctx, in.SchemaID, subject)
			if err == nil && s.Subject != subject {
				return Verdict{Code: CodeSchemaNotFound, Message: fmt.Sprintf("schema id %d is not registered under subject %q (it is %s version %d)", in.SchemaID, subject, s.Subject, s.Version)}, nil
			}
		case in.SchemaVersion != 0:
			s, err = c.r.ByVersion(ctx, subject, in.SchemaVersion)
		default:
			s, err = c.r.Latest(ctx, subject)
		}
		if err != nil {
			return resolveFailure(err)
		}
		memo[k] = s
	}
	var payload []byte
	if s.Format() == sr.TypeJSON {
		if f := s.ValidateDoc(doc); f != nil {
			return failed(f, s), nil
		}
	} else {
		// Avro, Protobuf: JSON in, the registry's binary format out. The
		// record type names a Protobuf message ("" is the first).
		var f *validate.Failure
		if payload, f = s.EncodeDoc(nil, doc, in.Value, typ); f != nil {
			return failed(f, s), nil
		}
	}
	v := Verdict{Schema: s, Cause: -1, Payload: payload}
	if c.deps != nil {
		n, reject := c.deps.CheckSchema(s, in.Feature)
		v.Deprecation = n
		if reject {
			v.Code = CodeDeprecated
			v.Message = fmt.Sprintf("%s version %d was sunset on %s; produce version %s instead", s.Subject, s.Version, n.Sunset.Format(time.DateOnly), n.ReplacementText())
			return v, nil
		}
	}
	set, err := c.rules.forSchema(s)
	switch {
	case err != nil:
		v.Code, v.Message = CodeUnusableSchema, err.Error()
	case set.Runs(rules.Write):
		ri := rules.Input{Direction: rules.Write, Topic: t.Name, Key: in.Key, Value: doc}
		if in.Headers != nil {
			ri.Headers = in.Headers()
		}
		var rv rules.Verdict
		v.Rules, rv = set.Eval(&ri, nil)
		v.Effect, v.Cause = rv.Effect, rv.Cause
		if rv.Effect == rules.EffectRefuse {
			v.Code, v.Message = CodeRuleViolation, ruleFailure(v.CauseRule())
		}
	}
	return v, nil
}

// failed is the verdict for a validation failure against s (nil when the
// value failed before a schema was found).
func failed(f *validate.Failure, s *validate.Schema) Verdict {
	return Verdict{Code: f.Code, Message: f.Message, Violations: f.Violations, Schema: s}
}

// resolveFailure turns a resolver error into a verdict (not found, an
// unusable schema) or, for an unavailable registry, an error.
func resolveFailure(err error) (Verdict, error) {
	switch {
	case errors.Is(err, validate.ErrNotFound):
		return Verdict{Code: CodeSchemaNotFound, Message: err.Error()}, nil
	case errors.Is(err, validate.ErrBadSchema):
		return Verdict{Code: CodeUnusableSchema, Message: err.Error()}, nil
	case errors.Is(err, validate.ErrRejected):
		return Verdict{Code: CodeRegistryRejected, Message: err.Error()}, nil
	default:
		return Verdict{}, err
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
