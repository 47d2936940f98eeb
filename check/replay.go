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

// ReplayOptions say what Replay may do beyond validating a dead-letter
// record against the schema its id names.
type ReplayOptions struct {
	// Topic returns the policy of the topic replayed to (its subject
	// strategy); nil means every topic uses the topic strategy.
	Topic func(name string) config.Topic
	// AnySubject accepts a schema registered under any subject, as a
	// subscription with subject_strategy: any does.
	AnySubject bool
	// TryLatest: a record in wire format that breaks the schema its id
	// names (schema_violation, malformed_json) is validated against the
	// latest version of "<topic>-value"; if it passes it is replayed
	// re-framed with that version's id.
	TryLatest bool
	// Reframe: records that never had a contract eventguard could check —
	// not in wire format (not_wire_format), an id the registry does not
	// know (unknown_schema), another subject's schema (wrong_subject) — are
	// validated against the latest version of "<topic>-value" too, and
	// framed with its id if they pass. Off by default: it turns bytes no
	// contract vouched for into accepted data, so it must be asked for.
	Reframe bool
}

// Replay checks a dead-letter record's value for re-production to topic:
//
//  1. A value in wire format is checked as consume checks it: the schema
//     its id names, registered under a subject the topic allows. If it
//     passes (the id is known again, or the record was rejected by the app
//     rather than by its contract) it is replayed byte for byte.
//  2. Otherwise, when the reason allows it (TryLatest for a value that
//     broke its own schema; Reframe for one that had no usable contract),
//     the JSON payload (the whole value when it has no wire-format header)
//     is validated against the latest version of "<topic>-value". If it
//     passes, it is replayed framed with that version's schema id: the
//     JSON bytes are unchanged, the 5-byte header names the schema it now
//     passes.
//  3. Otherwise the record still fails, with the reason of step 1.
//
// A schema id's content never changes in the registry, so a record that
// broke its own schema can only come back under a newer version (step 2).
// A value that passes is then held to the contract's WRITE rules (with the
// record's key and headers), as produce would: a record they refuse or
// would dead-letter still fails, as rule_violation.
//
// It returns an error only when the registry could not be asked.
// ReplayCheck wraps it for dlq.Replay.
func (c *Checker) Replay(ctx context.Context, topic string, r *kgo.Record, o ReplayOptions) (dlq.Verdict, error) {
	v, err := c.replay(ctx, topic, r.Value, o)
	if err != nil || !v.Pass {
		return v, err
	}
	t := config.Topic{Name: topic, SubjectStrategy: config.StrategyTopic}
	if o.Topic != nil {
		t = o.Topic(topic)
	}
	value := r.Value
	if v.Value != nil {
		value = v.Value
	}
	if f := c.writeRules(ctx, t, v, r, value); f != nil {
		return *f, nil
	}
	return v, nil
}

// writeRules runs the WRITE rules of the schema v passed on the replayed
// record; a non-nil verdict is the failure they found.
func (c *Checker) writeRules(ctx context.Context, t config.Topic, v dlq.Verdict, r *kgo.Record, value []byte) *dlq.Verdict {
	s, err := c.r.ByID(ctx, v.SchemaID, v.Subject)
	if err != nil {
		return &dlq.Verdict{Reason: CodeUnknownSchema, Message: err.Error()}
	}
	set, err := c.rules.forSchema(s)
	if err != nil {
		return &dlq.Verdict{Reason: CodeUnknownSchema, Message: err.Error()}
	}
	if !set.Runs(rules.Write) {
		return nil
	}
	_, payload, err := validate.Unframe(value)
	if err != nil {
		return &dlq.Verdict{Reason: CodeNotWireFormat, Message: err.Error()}
	}
	doc := jsonvalue.GetDoc()
	defer jsonvalue.PutDoc(doc)
	if s.Format() == sr.TypeJSON {
		if f := s.ParseAndValidate(payload, doc); f != nil {
			return &dlq.Verdict{Reason: f.Code, Message: f.Message}
		}
	} else if _, f := s.DecodeDoc(nil, payload, doc); f != nil {
		return &dlq.Verdict{Reason: f.Code, Message: f.Message}
	}
	results, rv := set.Eval(&rules.Input{Direction: rules.Write, Topic: t.Name, Key: r.Key, Headers: r.Headers, Value: doc}, nil)
	if rv.Effect < rules.EffectDeadLetter {
		return nil
	}
	return &dlq.Verdict{Reason: CodeRuleViolation, Message: ruleFailure(&results[rv.Cause])}
}

// replay is Replay's contract check, before the rules.
func (c *Checker) replay(ctx context.Context, topic string, value []byte, o ReplayOptions) (dlq.Verdict, error) {
	t := config.Topic{Name: topic, SubjectStrategy: config.StrategyTopic}
	if o.Topic != nil {
		t = o.Topic(topic)
	}
	res, err := c.consume(ctx, t, o.AnySubject, value, nil)
	if err != nil {
		return dlq.Verdict{}, err
	}
	if res.Passed() {
		return dlq.Verdict{Pass: true, SchemaID: res.Schema.ID, Subject: res.Schema.Subject, Version: res.Schema.Version}, nil
	}
	fail := dlq.Verdict{Reason: res.Code, Message: res.Message}
	switch res.Code {
	case CodeNotWireFormat, CodeUnknownSchema, CodeWrongSubject:
		if !o.Reframe {
			fail.Message += "; not tried against the latest version: the record had no contract eventguard could check (--reframe tries it)"
			return fail, nil
		}
	default:
		if !o.TryLatest {
			return fail, nil
		}
	}
	payload := res.Framed
	if res.Code == CodeNotWireFormat {
		payload = value
	}
	subject := TopicSubject(topic)
	latest, err := c.r.Latest(ctx, subject)
	switch {
	case err == nil:
	case errors.Is(err, validate.ErrNotFound), errors.Is(err, validate.ErrBadSchema), errors.Is(err, validate.ErrRejected):
		fail.Message += fmt.Sprintf("; and the latest version of %s: %v", subject, err)
		return fail, nil
	default:
		return dlq.Verdict{}, err
	}
	if latest.ID == res.SchemaID {
		return fail, nil // the same schema: the answer cannot change
	}
	if latest.Format() != sr.TypeJSON || (res.Schema != nil && res.Schema.Format() != sr.TypeJSON) {
		// Framing bytes with another schema's id is a JSON Schema move:
		// Avro and Protobuf payloads are read with their writer's schema.
		fail.Message += fmt.Sprintf("; not tried against the latest version: %s payloads are not re-framed", latest.Format())
		return fail, nil
	}
	if f := latest.Validate(payload); f != nil {
		fail.Message += "; and the latest version: " + f.Message
		return fail, nil
	}
	return dlq.Verdict{
		Pass:     true,
		Value:    validate.Frame(latest.ID, payload),
		SchemaID: latest.ID,
		Subject:  latest.Subject,
		Version:  latest.Version,
	}, nil
}

// ReplayCheck returns Replay as the check dlq.Replay runs on each
// dead-letter record.
func (c *Checker) ReplayCheck(o ReplayOptions) dlq.CheckFunc {
	return func(ctx context.Context, topic string, r *kgo.Record) (dlq.Verdict, error) {
		return c.Replay(ctx, topic, r, o)
	}
}
