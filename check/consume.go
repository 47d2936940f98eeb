package check

import (
	"context"
	"errors"

	"github.com/eventguard/eventguard/dlq"
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

// ConsumeVerdict is a Verdict on a consumed record, with what the check
// read from its wire format.
type ConsumeVerdict struct {
	Verdict
	// SchemaID is the id in the wire-format header; -1 when there is none.
	SchemaID int
	// Payload is the value after the wire-format header (aliasing the
	// record's value).
	Payload []byte
}

// Consume checks a record consumed from topic: decode the Confluent
// framing, find the schema by id (labelled with "<topic>-value" when it is
// registered there), validate. group names the consumer group in the
// deprecation log. It returns an error, wrapping validate.ErrUnavailable,
// only when the registry could not be asked: that is no verdict on the
// record, so the caller waits and asks again.
func (c *Checker) Consume(ctx context.Context, topic string, value []byte, group string) (ConsumeVerdict, error) {
	v, err := c.consume(ctx, TopicSubject(topic), value)
	if err != nil || v.Schema == nil || c.deps == nil {
		return v, err
	}
	v.Deprecation = c.deps.ConsumedSchema(v.Schema, group)
	return v, nil
}

func (c *Checker) consume(ctx context.Context, preferSubject string, value []byte) (ConsumeVerdict, error) {
	id, payload, err := validate.Unframe(value)
	if err != nil {
		return ConsumeVerdict{Verdict: Verdict{Code: CodeNotWireFormat, Message: err.Error()}, SchemaID: -1}, nil
	}
	v := ConsumeVerdict{SchemaID: id, Payload: payload}
	s, err := c.r.ByID(ctx, id, preferSubject)
	switch {
	case err == nil:
	case errors.Is(err, validate.ErrNotFound), errors.Is(err, validate.ErrBadSchema), errors.Is(err, validate.ErrRejected):
		v.Code, v.Message = CodeUnknownSchema, err.Error()
		return v, nil
	default:
		return v, err
	}
	v.Schema = s
	if f := s.Validate(payload); f != nil {
		v.Code, v.Message, v.Violations = f.Code, f.Message, f.Violations
	}
	return v, nil
}
