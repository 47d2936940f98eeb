package produce

import (
	"context"
	"time"

	"github.com/eventguard/eventguard/check"
	"github.com/eventguard/eventguard/internal/jsonvalue"
	"github.com/eventguard/eventguard/validate"
)

// Header is one caller-supplied record header.
type Header struct {
	Key   string
	Value []byte
}

// Record is one event to produce.
type Record struct {
	// Key is the Kafka key; nil means no key.
	Key []byte
	// Value is the event as JSON text, exactly as sent.
	Value []byte
	// Headers are the caller's own headers, kept as given.
	Headers []Header
	// ID is the event id; empty means generate a UUIDv7.
	ID string
	// Type names the record type for the record and topic_record subject
	// strategies.
	Type string
	// SchemaID pins a schema by global id; 0 means not pinned.
	SchemaID int
	// SchemaVersion pins a subject version; 0 means the latest.
	SchemaVersion int
	// Partition, when PartitionSet, is the partition to write to (REST
	// Proxy's partition_id) instead of the one the key picks. It must be 0
	// or more (else invalid_partition, 400); a partition the topic does not
	// have fails the record with partition_not_found (404).
	Partition int32
	// PartitionSet says Partition is chosen. Default: false (the key, or
	// the producer's spreading, picks the partition).
	PartitionSet bool
	// Timestamp is the record's timestamp (CreateTime); zero means the
	// time the record is handed to the producer. Default: zero.
	Timestamp time.Time
	// Doc, when set, is Value already decoded by the transport
	// (jsonvalue.Doc.ParseIn over the request body, in the same pass that
	// found the value's end); the pipeline validates it instead of decoding
	// Value again, and gives it back to jsonvalue's pool. nil: the pipeline
	// decodes Value.
	Doc *jsonvalue.Doc
}

// Request is one produce call.
type Request struct {
	Topic string
	// Feature is the producing feature; empty means the configured default.
	Feature string
	// Records are the events. Once the pipeline has copied the valid ones
	// into what it hands Kafka, it sets every Record.Value to nil, so that a
	// request waiting on the broker keeps none of the caller's buffers.
	Records []Record
	// Partial produces the valid records even when others are invalid.
	Partial bool
	// Order, when set, is called just before the request's valid records
	// are handed to the producer and blocks until it is this request's
	// turn; the pipeline calls the returned function right after handing
	// them over. An error (ctx done first) means nothing is handed over:
	// every record is answered as timed out. gRPC ProduceStream uses it to
	// hand requests to Kafka in stream order while validating several at
	// once. Default: nil, no ordering between requests.
	Order func(ctx context.Context) (handedOff func(), err error)
	// Release, when set, is called as soon as the pipeline no longer needs
	// the records' values (see Records), before it waits for the
	// acknowledgements: the HTTP ingress gives its pooled body back. Not
	// called when nothing is sent. Default: nil.
	Release func()
}

// RecordError says why one record was not produced.
type RecordError struct {
	Kind       Kind                 `json:"-"`
	Code       string               `json:"code"`
	Message    string               `json:"message"`
	Violations []validate.Violation `json:"violations,omitempty"`
	// Rule and Doc name the contract rule that refused the record (code
	// rule_violation) and what it means.
	Rule string `json:"rule,omitempty"`
	Doc  string `json:"doc,omitempty"`
}

// DeadLetter says where a record went that a contract rule with
// onFailure DLQ diverted to the dead-letter topic instead of its topic.
type DeadLetter struct {
	Topic     string
	Partition int32
	Offset    int64
	// Rule names the rule.
	Rule string
	// Message says why it failed.
	Message string
}

// Warning is a contract rule in warn mode that a produced record broke:
// the record was produced, and the producer is told.
type Warning struct {
	// Index is the record's index in the request.
	Index int
	// Rule is the rule's name; Message says what it found.
	Rule, Message string
}

// Result is the outcome for one record, in request order.
type Result struct {
	Index     int
	Produced  bool
	Partition int32
	Offset    int64
	// Timestamp is the record's timestamp as written, once Produced.
	Timestamp     time.Time
	Subject       string
	SchemaID      int
	SchemaVersion int
	EventID       string
	Err           *RecordError
	// DeadLettered is set when a contract rule diverted the record to the
	// dead-letter topic (Produced stays false; Partition and Offset are
	// the dead-letter copy's in DeadLettered).
	DeadLettered *DeadLetter
}

// Response answers a Request. Err is set when the request failed as a
// whole; Results are still filled as far as they are known (which records
// were valid, which landed before a Kafka failure).
type Response struct {
	Results      []Result
	Err          *Error
	Deprecations []check.Notice
	// Warnings are the warn-mode rules the produced records broke, at
	// most MaxWarnings.
	Warnings []Warning
}

// MaxWarnings bounds Response.Warnings: past it, warnings are counted in
// the metrics and the log but not repeated to the producer.
const MaxWarnings = 20

// addNotice adds n to the response's deprecation notices, once per subject
// version.
func (r *Response) addNotice(n check.Notice) {
	for _, m := range r.Deprecations {
		if m.Subject == n.Subject && m.Version == n.Version {
			return
		}
	}
	r.Deprecations = append(r.Deprecations, n)
}
