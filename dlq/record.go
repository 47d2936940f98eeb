// Package dlq builds dead-letter records, writes them with retry, and
// replays them.
//
// A dead-letter record keeps the original record's key, value, headers and
// timestamp byte for byte and appends the eventguard.dlq.* headers below,
// in the spirit of Kafka Connect's __connect.errors.*: where the record came
// from, why it failed, and who dead-lettered it. The header names and reason
// codes are a public contract; they never change silently.
package dlq

import (
	"encoding/json"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// Reason codes, the value of the eventguard.dlq.reason header.
const (
	// ReasonNotWireFormat: the value does not start with the Confluent
	// wire-format header (magic byte 0 and a 4-byte schema id).
	ReasonNotWireFormat = "not_wire_format"
	// ReasonUnknownSchema: the registry has no schema with the value's id,
	// or the schema cannot be used to validate (not a JSON Schema, does
	// not compile).
	ReasonUnknownSchema = "unknown_schema"
	// ReasonMalformedJSON: the payload after the header is not one strict
	// JSON text.
	ReasonMalformedJSON = "malformed_json"
	// ReasonSchemaViolation: the payload is JSON but breaks its schema.
	ReasonSchemaViolation = "schema_violation"
	// ReasonMalformedPayload: an Avro or Protobuf payload (after the
	// wire-format header) does not decode with the schema its id names.
	ReasonMalformedPayload = "malformed_payload"
	// ReasonRuleViolation: a domain rule of the record's contract (CEL,
	// KEY, TRANSITION; eventguard.dlq.rule names it) failed with onFailure
	// ERROR on consume, or DLQ on either path.
	ReasonRuleViolation = "rule_violation"
	// ReasonWrongSubject: the value's schema id is registered, but not
	// under a subject the topic's strategy allows (framed with another
	// subject's schema by a producer that bypassed eventguard).
	ReasonWrongSubject = "wrong_subject"
	// ReasonRejectedByApp: the app refused the record for good (HTTP 4xx
	// other than 408 and 429, or a gRPC Nack without retry).
	ReasonRejectedByApp = "rejected_by_app"
	// ReasonDeliveryExhausted: every delivery attempt of the retry policy
	// failed (5xx, 408, 429, connection error or timeout).
	ReasonDeliveryExhausted = "delivery_exhausted"
)

// Reasons lists every reason code.
var Reasons = []string{
	ReasonNotWireFormat, ReasonUnknownSchema, ReasonMalformedJSON, ReasonMalformedPayload,
	ReasonSchemaViolation, ReasonWrongSubject, ReasonRuleViolation, ReasonRejectedByApp, ReasonDeliveryExhausted,
}

// HeaderPrefix starts every header eventguard adds when dead-lettering.
const HeaderPrefix = "eventguard.dlq."

// Header names added to a dead-letter record. Numbers are decimal text,
// times RFC 3339 in UTC with milliseconds.
const (
	// HeaderTopic is the topic the record was consumed from.
	HeaderTopic = "eventguard.dlq.topic"
	// HeaderPartition is the partition it was consumed from.
	HeaderPartition = "eventguard.dlq.partition"
	// HeaderOffset is its offset there.
	HeaderOffset = "eventguard.dlq.offset"
	// HeaderTimestamp is its record timestamp (also kept as the dead-letter
	// record's own timestamp).
	HeaderTimestamp = "eventguard.dlq.timestamp"
	// HeaderReason is one of the reason codes.
	HeaderReason = "eventguard.dlq.reason"
	// HeaderMessage says what went wrong, in English, at most
	// MaxMessageBytes.
	HeaderMessage = "eventguard.dlq.message"
	// HeaderViolations is a JSON array of {"path","keyword","message"}
	// objects ("[]" when the reason has none).
	HeaderViolations = "eventguard.dlq.violations"
	// HeaderSchemaID is the schema id from the value's wire-format
	// header. Absent for not_wire_format.
	HeaderSchemaID = "eventguard.dlq.schema_id"
	// HeaderSubject is the registry subject of that schema. Present once
	// the schema was found.
	HeaderSubject = "eventguard.dlq.subject"
	// HeaderSchemaVersion is the subject version of that schema. Present
	// once the schema was found.
	HeaderSchemaVersion = "eventguard.dlq.schema_version"
	// HeaderRule names the contract rule that failed (reason
	// rule_violation).
	HeaderRule = "eventguard.dlq.rule"
	// HeaderGroup is the consumer group.
	HeaderGroup = "eventguard.dlq.group"
	// HeaderSubscription is the subscription name.
	HeaderSubscription = "eventguard.dlq.subscription"
	// HeaderInstance names the sidecar that dead-lettered the record.
	HeaderInstance = "eventguard.dlq.instance"
	// HeaderFailedAt is when the record was dead-lettered.
	HeaderFailedAt = "eventguard.dlq.failed_at"
	// HeaderAttempts is the number of delivery attempts made: 0 for a
	// record that failed validation and was never delivered.
	HeaderAttempts = "eventguard.dlq.attempts"
)

// MaxMessageBytes bounds the eventguard.dlq.message header.
const MaxMessageBytes = 1024

// MaxViolationsBytes bounds the eventguard.dlq.violations header: violations
// past it are left out (the array stays valid JSON).
const MaxViolationsBytes = 16 << 10

// TimeFormat is the layout of the time headers.
const TimeFormat = "2006-01-02T15:04:05.000Z07:00"

// Violation is one reason a value failed its schema.
type Violation struct {
	// Path is the RFC 6901 JSON pointer of the offending value.
	Path string `json:"path"`
	// Keyword is the JSON Schema keyword that failed, or the parse problem.
	Keyword string `json:"keyword"`
	// Message says what was wrong.
	Message string `json:"message"`
}

// Info is why and where a record is dead-lettered.
type Info struct {
	// Reason is one of the reason codes.
	Reason string
	// Message says what went wrong.
	Message string
	// Violations are the schema violations or the JSON parse problem.
	Violations []Violation
	// SchemaID is the id from the wire-format header; negative when the
	// value had none.
	SchemaID int
	// Subject and Version label the schema; "" and 0 when it was not found.
	Subject string
	Version int
	// Group, Subscription and Instance say who dead-lettered the record.
	Group        string
	Subscription string
	Instance     string
	// Attempts is the number of delivery attempts made.
	Attempts int
	// Rule names the contract rule that failed (reason rule_violation).
	Rule string
	// FailedAt is when the record failed. Default: now.
	FailedAt time.Time
}

// Build returns the dead-letter record for src, to be produced to topic: the
// key, value, headers and timestamp of src unchanged (key and value alias
// src's), followed by the eventguard.dlq.* headers from info. When src
// already carries eventguard.dlq.* headers (it was dead-lettered before),
// they stay and the new ones follow: readers take the last of each name.
func Build(src *kgo.Record, topic string, info *Info) *kgo.Record {
	failedAt := info.FailedAt
	if failedAt.IsZero() {
		failedAt = time.Now()
	}
	// Every added value goes into one buffer, sliced once it is complete.
	var (
		b    = make([]byte, 0, 256+len(info.Message)+96*len(info.Violations))
		keys [16]string
		ends [16]int
		n    int
	)
	mark := func(key string) {
		keys[n], ends[n] = key, len(b)
		n++
	}
	b = append(b, src.Topic...)
	mark(HeaderTopic)
	b = strconv.AppendInt(b, int64(src.Partition), 10)
	mark(HeaderPartition)
	b = strconv.AppendInt(b, src.Offset, 10)
	mark(HeaderOffset)
	b = src.Timestamp.UTC().AppendFormat(b, TimeFormat)
	mark(HeaderTimestamp)
	b = append(b, info.Reason...)
	mark(HeaderReason)
	b = append(b, truncate(info.Message, MaxMessageBytes)...)
	mark(HeaderMessage)
	b = appendViolations(b, info.Violations)
	mark(HeaderViolations)
	if info.SchemaID >= 0 {
		b = strconv.AppendInt(b, int64(info.SchemaID), 10)
		mark(HeaderSchemaID)
	}
	if info.Subject != "" {
		b = append(b, info.Subject...)
		mark(HeaderSubject)
		b = strconv.AppendInt(b, int64(info.Version), 10)
		mark(HeaderSchemaVersion)
	}
	if info.Rule != "" {
		b = append(b, info.Rule...)
		mark(HeaderRule)
	}
	b = append(b, info.Group...)
	mark(HeaderGroup)
	b = append(b, info.Subscription...)
	mark(HeaderSubscription)
	b = append(b, info.Instance...)
	mark(HeaderInstance)
	b = failedAt.UTC().AppendFormat(b, TimeFormat)
	mark(HeaderFailedAt)
	b = strconv.AppendInt(b, int64(info.Attempts), 10)
	mark(HeaderAttempts)

	hs := make([]kgo.RecordHeader, len(src.Headers), len(src.Headers)+n)
	copy(hs, src.Headers)
	start := 0
	for i := range n {
		hs = append(hs, kgo.RecordHeader{Key: keys[i], Value: b[start:ends[i]:ends[i]]})
		start = ends[i]
	}
	return &kgo.Record{
		Topic:     topic,
		Key:       src.Key,
		Value:     src.Value,
		Headers:   hs,
		Timestamp: src.Timestamp,
	}
}

// appendViolations appends vs as a JSON array, leaving out violations past
// MaxViolationsBytes.
func appendViolations(b []byte, vs []Violation) []byte {
	start := len(b)
	b = append(b, '[')
	for i, v := range vs {
		one, err := json.Marshal(v)
		if err != nil {
			continue
		}
		if len(b)-start+len(one)+2 > MaxViolationsBytes {
			break
		}
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, one...)
	}
	return append(b, ']')
}

// truncate cuts s to at most n bytes on a UTF-8 boundary, marking the cut.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	const mark = "…"
	cut := n - len(mark)
	for cut > 0 && !utf8Start(s[cut]) {
		cut--
	}
	return s[:cut] + mark
}

func utf8Start(b byte) bool { return b&0xC0 != 0x80 }

// IsHeader reports whether name is one of the headers dead-lettering adds.
func IsHeader(name string) bool { return strings.HasPrefix(name, HeaderPrefix) }

// Original is what a dead-letter record says about where it came from and
// why, read back from its headers.
type Original struct {
	Topic     string
	Partition int32
	Offset    int64
	Reason    string
	Message   string
}

// ReadOriginal reads the eventguard.dlq.* headers of r (the last of each
// name). ok is false when r has no eventguard.dlq.reason header.
func ReadOriginal(r *kgo.Record) (o Original, ok bool) {
	for _, h := range r.Headers {
		switch h.Key {
		case HeaderTopic:
			o.Topic = string(h.Value)
		case HeaderPartition:
			p, _ := strconv.ParseInt(string(h.Value), 10, 32)
			o.Partition = int32(p)
		case HeaderOffset:
			o.Offset, _ = strconv.ParseInt(string(h.Value), 10, 64)
		case HeaderReason:
			o.Reason, ok = string(h.Value), true
		case HeaderMessage:
			o.Message = string(h.Value)
		}
	}
	return o, ok
}
