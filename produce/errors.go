package produce

import (
	"fmt"
	"time"

	"github.com/eventguard/eventguard/check"
)

// Kind classifies a failure for the transports, which map it to their own
// answers (proxy: an HTTP status, a gRPC code). A client mistake is never
// KindInternal.
type Kind int

// The kinds of failure, with the answer each transport gives.
const (
	KindBadRequest  Kind = iota + 1 // 400 / InvalidArgument
	KindForbidden                   // 403 / PermissionDenied
	KindNotFound                    // 404 / NotFound
	KindTooLarge                    // 413 / InvalidArgument (ResourceExhausted for messages)
	KindInvalid                     // 422 / InvalidArgument with BadRequest details
	KindOverloaded                  // 429 / ResourceExhausted
	KindUnavailable                 // 503 / Unavailable
	KindTimeout                     // 504 / DeadlineExceeded
	KindInternal                    // 500 / Internal: a bug
)

// Error codes in request-level and record-level errors. They are part of the
// API: they never change silently.
const (
	CodeBadRequest        = "bad_request"
	CodeMalformedRequest  = "malformed_request"
	CodeEmptyBatch        = "empty_batch"
	CodeTooManyRecords    = "too_many_records"
	CodeBodyTooLarge      = "body_too_large"
	CodeUnsupportedMedia  = "unsupported_media_type"
	CodeTopicNotAllowed   = "topic_not_allowed"
	CodeFeatureNotAllowed = "feature_not_allowed"
	CodeInvalidTopic      = "invalid_topic"
	CodeInvalidFeature    = "invalid_feature"
	CodeInvalidRecords    = "invalid_records"
	CodeSchemaNotFound    = check.CodeSchemaNotFound
	CodeUnusableSchema    = check.CodeUnusableSchema
	CodeValueTooLarge     = "value_too_large"
	CodeReservedHeader    = "reserved_header"
	CodeInvalidEventID    = "invalid_event_id"
	CodeInvalidType       = check.CodeInvalidType
	CodeInvalidKey        = "invalid_key"
	CodeInvalidHeader     = "invalid_header"
	CodeRegistryRejected  = check.CodeRegistryRejected
	CodeTypeRequired      = check.CodeTypeRequired
	CodeKeyRequired       = "key_required"
	CodeConflictingPins   = "conflicting_pins"
	CodeDeprecated        = check.CodeDeprecated
	CodeRegistryDown      = "registry_unavailable"
	CodeKafkaDown         = "kafka_unavailable"
	CodeKafkaRejected     = "kafka_rejected"
	CodeTopicNotFound     = "topic_not_found"
	CodeInvalidPartition  = "invalid_partition"
	CodePartitionNotFound = "partition_not_found"
	CodeTimeout           = "timeout"
	CodeOverloaded        = "overloaded"
	CodeShuttingDown      = "shutting_down"
	CodeInternal          = "internal"
)

// Error is a request-level failure.
type Error struct {
	Kind    Kind
	Code    string
	Message string
	// RetryAfter, when set, is sent as Retry-After (HTTP) or retry info (gRPC).
	RetryAfter time.Duration
}

// Error renders the error as "code: message".
func (e *Error) Error() string { return e.Code + ": " + e.Message }

func errorf(k Kind, code, format string, args ...any) *Error {
	return &Error{Kind: k, Code: code, Message: fmt.Sprintf(format, args...)}
}

// verdictKind is the kind of failure a contract check's verdict code is.
func verdictKind(code string) Kind {
	switch code {
	case check.CodeTypeRequired, check.CodeInvalidType, check.CodeRegistryRejected:
		return KindBadRequest
	case check.CodeSchemaNotFound:
		return KindNotFound
	default: // malformed_json, schema_violation, unusable_schema, deprecated_version_sunset
		return KindInvalid
	}
}
