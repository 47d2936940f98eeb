package check

import (
	"context"
	"errors"
	"fmt"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sr"

	"github.com/eventguard/eventguard/config"
	"github.com/eventguard/eventguard/dlq"
	"github.com/eventguard/eventguard/internal/jsonvalue"
	"github.com/eventguard/eventguard/rules"
	"github.com/eventguard/eventguard/validate"
)

// Failure codes of a consume or replay Verdict: the dead-letter reasons a
// record's contract gives (package dlq lists them with the delivery
// reasons), and CodeMalformedJSON and CodeSchemaViolation.
const (
	// CodeNotWireFormat: the value does not start with the Confluent
	// wire-format header.
	CodeNotWireFormat = dlq.ReasonNotWireFormat
	// CodeUnknownSchema: the registry has no schema with the value's id,
	// or the schema cannot be used to validate.
	CodeUnknownSchema = dlq.ReasonUnknownSchema
)

// CodeWrongSubject: the value's schema id is registered, but not under a
// subject the topic's strategy allows (a producer that bypassed eventguard
// framed it with another subject's schema). A dead-letter reason.
const CodeWrongSubject = dlq.ReasonWrongSubject

// ConsumeInput is one record consumed from a topic.
type ConsumeInput struct {
	// Topic is the topic's policy: its name and subject strategy, which
	// say what subjects its records may carry (SubjectAllowed).
	Topic config.Topic
	// AnySubject accepts a schema registered under any subject (a topic
	// that carries several types under subjects of their own).
	AnySubject bool
	// Value is the record's value as read from Kafka.
	Value []byte
	// Group names the consumer group in the deprecation log.
	Group string
	// Partition, Key and Headers are the record's, for the rules.
	Partition int32
	Key       []byte
	Headers   []kgo.RecordHeader
	// State is the subscription's TRANSITION memory (rules.NewState);
	// required when the schema has TRANSITION rules, else nil is fine.
	State *rules.State
}

// ConsumeVerdict is a Verdict on a consumed record, with what the check
// read from its wire format. Verdict.Payload is the JSON to deliver.
type ConsumeVerdict struct {
	Verdict
	// SchemaID is the id in the wire-format header; -1 when there is none.
	SchemaID int
	// Framed is the value after the wire-format header (aliasing the
	// record's value): the JSON, Avro or Protobuf payload as written.
	Framed []byte
}

// Consume checks a consumed record: decode the Confluent framing, find the
// schema by id, check that it is registered under a subject the topic's
// strategy allows (unless AnySubject), validate. It returns an error,
// wrapping validate.ErrUnavailable, only when the registry could not be
// asked: that is no verdict on the record, so the caller waits and asks
// again.
func (c *Checker) Consume(ctx context.Context, in *ConsumeInput) (ConsumeVerdict, error) {
	v, err := c.consume(ctx, in.Topic, in.AnySubject, in.Value, in)
	if err != nil || v.Schema == nil || c.deps == nil {
		return v, err
	}
	v.Deprecation = c.deps.ConsumedSchema(v.Schema, in.Group)
	return v, nil
}

// consume checks value as read from topic t. With ri set it also runs the
// schema's READ rules (Consume); replay leaves it nil: a replayed record
// is checked by the consumers that read it again.
func (c *Checker) consume(ctx context.Context, t config.Topic, anySubject bool, value []byte, ri *ConsumeInput) (ConsumeVerdict, error) {
	id, payload, err := validate.Unframe(value)
	if err != nil {
		return ConsumeVerdict{Verdict: Verdict{Code: CodeNotWireFormat, Message: err.Error()}, SchemaID: -1}, nil
	}
	v := ConsumeVerdict{SchemaID: id, Framed: payload}
	prefer := ""
	if t.SubjectStrategy == config.StrategyTopic || t.SubjectStrategy == "" {
		prefer = TopicSubject(t.Name)
	}
	s, err := c.r.ByID(ctx, id, prefer)
	switch {
	case err == nil:
	case errors.Is(err, validate.ErrNotFound), errors.Is(err, validate.ErrBadSchema), errors.Is(err, validate.ErrRejected):
		v.Code, v.Message = CodeUnknownSchema, err.Error()
		return v, nil
	default:
		return v, err
	}
	if !anySubject && !SubjectAllowed(t, s.Subject) {
		// Another registration of the same id may be allowed (one schema
		// registered under several subjects has one id).
		found := false
		regs := c.r.Registrations(id)
		for try := 0; try < 2 && !found; try++ {
			if try == 1 {
				// Registered under an allowed subject since the id was
				// cached? Ask again (bounded by the resolver).
				if regs, err = c.r.RefreshRegistrations(ctx, id); err != nil {
					return v, err
				}
			}
			for _, sv := range regs {
				if SubjectAllowed(t, sv.Subject) {
					if s, err = c.r.ByID(ctx, id, sv.Subject); err != nil {
						return v, err
					}
					found = true
					break
				}
			}
		}
		if !found {
			v.Schema = s
			v.Code = CodeWrongSubject
			v.Message = fmt.Sprintf("schema id %d is registered as %s version %d, not under a subject topic %q may carry (%s); "+
				"the record was framed with another subject's schema. A subscription may allow any subject (subscriptions[].subject_strategy: any)",
				id, s.Subject, s.Version, t.Name, allowedText(t))
			return v, nil
		}
	}
	v.Schema = s
	v.Cause = -1
	doc := jsonvalue.GetDoc()
	defer jsonvalue.PutDoc(doc)
	if s.Format() == sr.TypeJSON {
		if f := s.ParseAndValidate(payload, doc); f != nil {
			v.Code, v.Message, v.Violations = f.Code, f.Message, f.Violations
			return v, nil
		}
		v.Payload = payload
	} else {
		out, f := s.DecodeDoc(nil, payload, doc)
		if f != nil {
			v.Code, v.Message, v.Violations = f.Code, f.Message, f.Violations
			return v, nil
		}
		v.Payload = out
	}
	if ri == nil {
		return v, nil
	}
	set, err := c.rules.forSchema(s)
	switch {
	case err != nil:
		v.Code, v.Message = CodeUnknownSchema, err.Error()
	case set.Runs(rules.Read):
		var rv rules.Verdict
		v.Rules, rv = set.Eval(&rules.Input{Direction: rules.Read, Topic: t.Name, Partition: ri.Partition, Key: ri.Key, Headers: ri.Headers, Value: doc, State: ri.State}, nil)
		v.Effect, v.Cause = rv.Effect, rv.Cause
		if rv.Effect >= rules.EffectDeadLetter {
			v.Code, v.Message = CodeRuleViolation, ruleFailure(v.CauseRule())
		}
	}
	return v, nil
}

// allowedText says which subjects topic t's strategy allows.
func allowedText(t config.Topic) string {
	switch t.SubjectStrategy {
	case config.StrategyTopicRecord:
		return fmt.Sprintf("%s-<type>, topic_record strategy", t.Name)
	case config.StrategyRecord:
		return "any, record strategy"
	default:
		return TopicSubject(t.Name) + ", topic strategy"
	}
}
