package produce

import (
	"context"
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eventguard/eventguard/config"
	"github.com/eventguard/eventguard/dlq"
	"github.com/eventguard/eventguard/kafka"
	"github.com/eventguard/eventguard/telemetry/span"
	"github.com/eventguard/eventguard/validate"
)

// The stamp stage: each checked record becomes a Kafka record with the
// caller's headers, the trace context, eventguard's headers and the value
// in Confluent wire format.

// stamp builds the Kafka records of the valid records of req. The
// request's records, their headers, event ids and framed values are carved
// out of four allocations, not four per record.
func stamp(ctx context.Context, req *Request, valid []prepared, instance string) []kgo.Record {
	// Headers shared by every record of the request.
	var trace []kgo.RecordHeader
	span.Propagator.Inject(ctx, kafka.HeaderCarrier{Headers: &trace})
	feature := []byte(req.Feature)
	// The subject and version headers, rendered once per schema.
	type rendered struct{ subject, version []byte }
	stamps := map[*validate.Schema]rendered{}

	nHeaders, nBytes := 0, 0
	for _, v := range valid {
		r := &req.Records[v.index]
		nHeaders += len(r.Headers) + len(trace) + 4
		nBytes += validate.WireHeaderLen + len(v.value(r)) + len(v.id)
	}
	recs := make([]kgo.Record, len(valid))
	headers := make([]kgo.RecordHeader, 0, nHeaders)
	buf := make([]byte, 0, nBytes)
	for n, v := range valid {
		r := &req.Records[v.index]
		first := len(headers)
		for _, h := range r.Headers {
			headers = append(headers, kgo.RecordHeader{Key: h.Key, Value: h.Value})
		}
		headers = append(headers, trace...)
		st, ok := stamps[v.schema]
		if !ok {
			st = rendered{[]byte(v.schema.Subject), []byte(strconv.Itoa(v.schema.Version))}
			stamps[v.schema] = st
		}
		from := len(buf)
		buf = append(buf, v.id...)
		id := buf[from:len(buf):len(buf)]
		from = len(buf)
		buf = validate.AppendFrame(buf, v.schema.ID, v.value(r))
		value := buf[from:len(buf):len(buf)]
		headers = append(headers,
			kgo.RecordHeader{Key: kafka.HeaderFeature, Value: feature},
			kgo.RecordHeader{Key: kafka.HeaderEventID, Value: id},
			kgo.RecordHeader{Key: kafka.HeaderSubject, Value: st.subject},
			kgo.RecordHeader{Key: kafka.HeaderSchemaVersion, Value: st.version},
		)
		rec := &recs[n]
		rec.Topic, rec.Key, rec.Value, rec.Timestamp = req.Topic, r.Key, value, r.Timestamp
		if r.PartitionSet {
			rec.Partition = r.Partition // kafka.Partitioner honours it (send marks the record)
		}
		rec.Headers = headers[first:len(headers):len(headers)]
		if v.deadLetter != nil {
			divert(rec, v, instance)
		}
	}
	return recs
}

// divert turns a stamped record into its dead-letter copy: a contract rule
// with onFailure DLQ keeps it out of its topic and in <topic>.dlq, as it
// was stamped, with the eventguard.dlq.* headers (reason rule_violation,
// the rule, partition and offset -1: it was never in its topic).
func divert(rec *kgo.Record, v prepared, instance string) {
	rec.Partition, rec.Offset, rec.Timestamp = -1, -1, time.Now()
	out := dlq.Build(rec, config.DefaultDLQTopic(rec.Topic), &dlq.Info{
		Reason:   dlq.ReasonRuleViolation,
		Message:  v.deadLetter.String(),
		Rule:     v.deadLetter.Rule.Name,
		SchemaID: v.schema.ID,
		Subject:  v.schema.Subject,
		Version:  v.schema.Version,
		Instance: instance,
	})
	*rec = *out
}

// value is what follows r's wire-format header: its Avro or Protobuf
// encoding, or the JSON as sent.
func (v *prepared) value(r *Record) []byte {
	if v.payload != nil {
		return v.payload
	}
	return r.Value
}
