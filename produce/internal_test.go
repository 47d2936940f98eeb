package produce

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

func TestKafkaErrorClassification(t *testing.T) {
	t.Parallel()
	tests := []struct {
		err  error
		kind Kind
		code string
	}{
		{context.DeadlineExceeded, KindTimeout, CodeTimeout},
		{fmt.Errorf("wrapped: %w", kgo.ErrRecordTimeout), KindTimeout, CodeTimeout},
		{context.Canceled, KindUnavailable, CodeKafkaDown},
		{kgo.ErrClientClosed, KindUnavailable, CodeShuttingDown},
		{kgo.ErrMaxBuffered, KindOverloaded, CodeOverloaded},
		{kerr.MessageTooLarge, KindTooLarge, CodeValueTooLarge},
		{kerr.RecordListTooLarge, KindTooLarge, CodeValueTooLarge},
		{kerr.TopicAuthorizationFailed, KindForbidden, CodeKafkaRejected},
		{kerr.UnknownTopicOrPartition, KindNotFound, CodeTopicNotFound},
		{kerr.InvalidRecord, KindBadRequest, CodeKafkaRejected},
		{kerr.CorruptMessage, KindBadRequest, CodeKafkaRejected},
		{kerr.InvalidTimestamp, KindBadRequest, CodeKafkaRejected},
		{kerr.InvalidTopicException, KindBadRequest, CodeInvalidTopic},
		{fmt.Errorf("produce: %w", kerr.InvalidTopicException), KindBadRequest, CodeInvalidTopic},
		{kerr.PolicyViolation, KindForbidden, CodeKafkaRejected},
		{kerr.ClusterAuthorizationFailed, KindForbidden, CodeKafkaRejected},
		{kerr.NotEnoughReplicas, KindUnavailable, CodeKafkaDown},
		{errors.New("broken pipe"), KindUnavailable, CodeKafkaDown},
	}
	for _, tt := range tests {
		k, code, msg := kafkaError("pets", tt.err)
		if k != tt.kind || code != tt.code || msg == "" {
			t.Errorf("%v: got %v %s %q, want %v %s", tt.err, k, code, msg, tt.kind, tt.code)
		}
		if k == KindInternal {
			t.Errorf("%v: a Kafka failure classified as internal", tt.err)
		}
	}
}

func TestSummarize(t *testing.T) {
	t.Parallel()
	rerr := func(k Kind, code string) *RecordError {
		return &RecordError{Kind: k, Code: code, Message: code + " happened"}
	}
	tests := []struct {
		name string
		errs []*RecordError // per record; nil is a valid record
		kind Kind
		code string
		msg  string
	}{
		{"one invalid", []*RecordError{nil, rerr(KindInvalid, "schema_violation"), nil}, KindInvalid, CodeInvalidRecords,
			"record 1: schema_violation happened; nothing was produced"},
		{"same not found", []*RecordError{rerr(KindNotFound, CodeSchemaNotFound), rerr(KindNotFound, CodeSchemaNotFound)}, KindNotFound, CodeSchemaNotFound,
			"2 of 2 records failed; first, record 0: schema_not_found happened; nothing was produced"},
		{"one bad request keeps its code", []*RecordError{nil, rerr(KindBadRequest, CodeReservedHeader)}, KindBadRequest, CodeReservedHeader, ""},
		{"bad requests with different codes", []*RecordError{rerr(KindBadRequest, CodeReservedHeader), rerr(KindBadRequest, CodeKeyRequired)}, KindBadRequest, CodeInvalidRecords, ""},
		{"mixed kinds are 422", []*RecordError{rerr(KindNotFound, CodeSchemaNotFound), rerr(KindTooLarge, CodeValueTooLarge)}, KindInvalid, CodeInvalidRecords, ""},
		{"sunset only", []*RecordError{rerr(KindInvalid, CodeDeprecated)}, KindInvalid, CodeDeprecated, ""},
		{"sunset and invalid", []*RecordError{rerr(KindInvalid, CodeDeprecated), rerr(KindInvalid, "schema_violation")}, KindInvalid, CodeInvalidRecords, ""},
	}
	for _, tt := range tests {
		results := make([]Result, len(tt.errs))
		failed := 0
		for i, e := range tt.errs {
			results[i] = Result{Index: i, Err: e}
			if e != nil {
				failed++
			}
		}
		e := summarize(results, failed, len(results))
		if e.Kind != tt.kind || e.Code != tt.code {
			t.Errorf("%s: got %v %s, want %v %s", tt.name, e.Kind, e.Code, tt.kind, tt.code)
		}
		if tt.msg != "" && e.Message != tt.msg {
			t.Errorf("%s: message %q, want %q", tt.name, e.Message, tt.msg)
		}
	}
}
