package check

import (
	"context"
	"errors"
	"fmt"

	"github.com/eventguard/eventguard/dlq"
	"github.com/eventguard/eventguard/validate"
)

// Replay checks a dead-letter record's value for re-production to topic:
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
// It returns an error only when the registry could not be asked.
// ReplayCheck wraps it for dlq.Replay.
func (c *Checker) Replay(ctx context.Context, topic string, value []byte, tryLatest bool) (dlq.Verdict, error) {
	subject := TopicSubject(topic)
	res, err := c.consume(ctx, subject, value)
	if err != nil {
		return dlq.Verdict{}, err
	}
	if res.Passed() {
		return dlq.Verdict{Pass: true, SchemaID: res.Schema.ID, Subject: res.Schema.Subject, Version: res.Schema.Version}, nil
	}
	fail := dlq.Verdict{Reason: res.Code, Message: res.Message}
	if !tryLatest {
		return fail, nil
	}
	payload := res.Payload
	if res.Code == CodeNotWireFormat {
		payload = value
	}
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
func (c *Checker) ReplayCheck(tryLatest bool) dlq.CheckFunc {
	return func(ctx context.Context, topic string, value []byte) (dlq.Verdict, error) {
		return c.Replay(ctx, topic, value, tryLatest)
	}
}
