package produce

import (
	"context"
	"fmt"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eventguard/eventguard/check"
	"github.com/eventguard/eventguard/rules"
	"github.com/eventguard/eventguard/validate"
)

// The check stage: every admitted record through the contract check
// (package check), in request order.

// prepared is one record that passed admission and its contract check.
type prepared struct {
	index      int
	schema     *validate.Schema
	id         string
	deprecated bool
	// deadLetter is the rule (onFailure DLQ) that diverts the record to
	// the dead-letter topic; nil for a record produced to its topic.
	deadLetter *rules.Result
	// payload is what to frame: the value's Avro or Protobuf encoding;
	// nil frames the value as sent (JSON Schema).
	payload []byte
}

// checkRecords admits and checks every record of req, filling resp's
// results. It returns the records to send and how many failed. When the
// registry cannot be asked it sets resp.Err (503), reports the records
// left unchecked, and returns no record to send.
func (p *Pipeline) checkRecords(ctx context.Context, req *Request, resp *Response) (valid []prepared, failed int) {
	t := p.topic(req.Topic)
	memo := check.Memo{}
	valid = make([]prepared, 0, len(req.Records))
	took := make([]time.Duration, 0, len(req.Records)) // validation times, observed at once

	vctx, vspan := p.o.Tracer.Start(ctx, "validate "+req.Topic, trace.WithAttributes(attribute.Int("eventguard.records", len(req.Records))))
	defer vspan.End()
	for i := range resp.Results {
		// Every index, also of records left unchecked when the registry
		// fails part way.
		resp.Results[i].Index = i
	}
	for i := range req.Records {
		r := &req.Records[i]
		res := &resp.Results[i]
		id, rerr := p.admitRecord(t, r)
		var v check.Verdict
		if rerr == nil {
			start := time.Now()
			in := check.ProduceInput{Topic: t, Value: r.Value, Doc: r.Doc, Type: r.Type, SchemaID: r.SchemaID, SchemaVersion: r.SchemaVersion, Feature: req.Feature, Key: r.Key}
			if len(r.Headers) > 0 {
				in.Headers = func() []kgo.RecordHeader { return kafkaHeaders(r.Headers) }
			}
			r.Doc = nil
			var err error
			v, err = p.o.Checker.Produce(vctx, &in, memo)
			if err != nil {
				resp.Err = &Error{Kind: KindUnavailable, Code: CodeRegistryDown, Message: fmt.Sprintf("record %d: %s", i, err.Error()), RetryAfter: 5 * time.Second}
				vspan.SetStatus(codes.Error, resp.Err.Message)
				p.o.Observer.Validated(took)
				p.unchecked(ctx, req, valid, i, resp.Err)
				return nil, 0
			}
			if v.Schema != nil { // validated, pass or fail
				took = append(took, time.Since(start))
			}
			if !v.Passed() {
				rerr = &RecordError{Kind: verdictKind(v.Code), Code: v.Code, Message: v.Message, Violations: v.Violations}
				if c := v.CauseRule(); c != nil && v.Code == check.CodeRuleViolation {
					rerr.Rule, rerr.Doc = c.Rule.Name, c.Rule.Doc
				}
			}
			if len(v.Rules) > 0 {
				p.rulesRan(req, i, &v, resp)
			}
		}
		s := v.Schema
		if s != nil {
			res.Subject, res.SchemaID, res.SchemaVersion = s.Subject, s.ID, s.Version
		}
		if v.Deprecation != nil {
			resp.addNotice(*v.Deprecation)
		}
		if rerr != nil {
			res.Err = rerr
			failed++
			p.reject(vctx, req, i, s, rerr, v.Deprecation != nil)
			continue
		}
		res.EventID = id
		pr := prepared{index: i, schema: s, id: id, deprecated: v.Deprecation != nil, payload: v.Payload}
		if v.Effect == rules.EffectDeadLetter {
			pr.deadLetter = v.CauseRule()
		}
		valid = append(valid, pr)
	}
	if failed > 0 {
		vspan.SetStatus(codes.Error, fmt.Sprintf("%d of %d records failed", failed, len(req.Records)))
	}
	p.o.Observer.Validated(took)
	return valid, failed
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

// rulesRan reports the rules that ran on record i to the Observer, and
// adds a warning to the response for each warn-mode rule it broke.
func (p *Pipeline) rulesRan(req *Request, i int, v *check.Verdict, resp *Response) {
	s := v.Schema
	for k := range v.Rules {
		r := &v.Rules[k]
		p.o.Observer.Rule(RuleEvent{Topic: req.Topic, Subject: s.Subject, Version: s.Version, Feature: req.Feature, Rule: r.Rule.Name, Rollout: r.Rollout.String(), Outcome: r.Outcome.String(), Effect: r.Effect.String()})
		if r.Effect == rules.EffectWarn && len(resp.Warnings) < MaxWarnings {
			resp.Warnings = append(resp.Warnings, Warning{Index: i, Rule: r.Rule.Name, Message: r.String()})
		}
	}
}

// kafkaHeaders converts a record's own headers for the rules.
func kafkaHeaders(hs []Header) []kgo.RecordHeader {
	out := make([]kgo.RecordHeader, len(hs))
	for i, h := range hs {
		out[i] = kgo.RecordHeader{Key: h.Key, Value: h.Value}
	}
	return out
}
