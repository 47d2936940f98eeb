package consume

import (
	"context"
	"errors"
	"fmt"

	"github.com/eventguard/eventguard/dlq"
	"github.com/eventguard/eventguard/validate"
)

// Resolver finds schemas; *validate.Resolver implements it.
type Resolver interface {
	// ByID returns the schema with a global id, labelled with its
	// registration under preferSubject when there is one.
	ByID(ctx context.Context, id int, preferSubject string) (*validate.Schema, error)
	// Latest returns the latest version of subject.
	Latest(ctx context.Context, subject string) (*validate.Schema, error)
}

var _ Resolver = (*validate.Resolver)(nil)

// Result is what Check found out about one value.
type Result struct {
	// Reason is "" when the value passed, else the dlq reason code.
	Reason string
	// Message says why the value failed.
	Message string
	// Violations are the schema violations or the JSON parse problem.
	Violations []dlq.Violation
	// SchemaID is the id in the wire-format header; -1 when there is none.
	SchemaID int
	// Schema is the schema found for SchemaID; nil when none was.
	Schema *validate.Schema
	// Payload is the JSON after the wire-format header (aliasing the value).
	Payload []byte
}

// Checker classifies values the way the consume loop does: decode the
// Confluent framing, find the schema by id, validate.
type Checker struct {
	r Resolver
}

// NewChecker returns a Checker resolving schemas through r.
func NewChecker(r Resolver) *Checker { return &Checker{r: r} }

// Subject returns the subject preferred when labelling a schema id found on
// topic: "<topic>-value".
func Subject(topic string) string { return topic + "-value" }

// Check classifies value, labelling its schema with preferSubject when it is
// registered there. It returns an error, wrapping validate.ErrUnavailable,
// only when the registry could not be asked: that is no verdict on the
// record, so the caller waits and asks again.
func (c *Checker) Check(ctx context.Context, value []byte, preferSubject string) (Result, error) {
	id, payload, err := validate.Unframe(value)
	if err != nil {
		return Result{Reason: dlq.ReasonNotWireFormat, Message: err.Error(), SchemaID: -1}, nil
	}
	res := Result{SchemaID: id, Payload: payload}
	s, err := c.r.ByID(ctx, id, preferSubject)
	switch {
	case err == nil:
	case errors.Is(err, validate.ErrNotFound), errors.Is(err, validate.ErrBadSchema):
		res.Reason, res.Message = dlq.ReasonUnknownSchema, err.Error()
		return res, nil
	default:
		return res, err
	}
	res.Schema = s
	if f := s.Validate(payload); f != nil {
		res.Reason, res.Message, res.Violations = reasonOf(f), f.Message, violations(f.Violations)
	}
	return res, nil
}

func reasonOf(f *validate.Failure) string {
	if f.Code == validate.CodeMalformedJSON {
		return dlq.ReasonMalformedJSON
	}
	return dlq.ReasonSchemaViolation
}

func violations(vs []validate.Violation) []dlq.Violation {
	if len(vs) == 0 {
		return nil
	}
	out := make([]dlq.Violation, len(vs))
	for i, v := range vs {
		out[i] = dlq.Violation{Path: v.Path, Keyword: v.Keyword, Message: v.Message}
	}
	return out
}

// ReplayCheck returns the check `eventguard dlq replay` runs on each
// dead-letter record, for records to be produced to topic:
//
//  1. A value in wire format is validated against the schema its id names.
//     If it passes (the id is known again, or the record was rejected by
//     the app rather than by its contract) it is replayed byte for byte.
//  2. Otherwise, when tryLatest is set, the JSON payload (the whole value
//     when it has no wire-format header) is validated against the latest
//     version of "<topic>-value". If it passes, it is replayed re-framed
//     with that version's schema id: the JSON bytes are unchanged, the
//     5-byte header names the schema it now passes.
//  3. Otherwise the record still fails, with the reason of step 1.
//
// A schema id's content never changes in the registry, so a record that
// broke its own schema can only come back under a newer version (step 2).
func (c *Checker) ReplayCheck(tryLatest bool) dlq.CheckFunc {
	return func(ctx context.Context, topic string, value []byte) (dlq.Verdict, error) {
		subject := Subject(topic)
		res, err := c.Check(ctx, value, subject)
		if err != nil {
			return dlq.Verdict{}, err
		}
		if res.Reason == "" {
			return dlq.Verdict{Pass: true, SchemaID: res.Schema.ID, Subject: res.Schema.Subject, Version: res.Schema.Version}, nil
		}
		fail := dlq.Verdict{Reason: res.Reason, Message: res.Message}
		if !tryLatest {
			return fail, nil
		}
		payload := res.Payload
		if res.Reason == dlq.ReasonNotWireFormat {
			payload = value
		}
		latest, err := c.r.Latest(ctx, subject)
		switch {
		case err == nil:
		case errors.Is(err, validate.ErrNotFound), errors.Is(err, validate.ErrBadSchema):
			fail.Message += fmt.Sprintf("; and the latest version of %s: %v", subject, err)
			return fail, nil
		default:
			return dlq.Verdict{}, err
		}
		if latest.ID == res.SchemaID {
			return fail, nil // the same schema: the answer cannot change
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
}
