package dlq

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/twmb/franz-go/pkg/kgo"
)

func TestBuildKeepsTheRecordAndAddsContext(t *testing.T) {
	src := &kgo.Record{
		Topic: "pets", Partition: 2, Offset: 41,
		Key:       []byte{0xff, 'k'},
		Value:     []byte{0, 0, 0, 0, 7, '{', '}'},
		Headers:   []kgo.RecordHeader{{Key: "a", Value: []byte{0x00, 0xfe}}, {Key: "a", Value: nil}},
		Timestamp: time.UnixMilli(1_700_000_000_123),
	}
	failed := time.Date(2026, 11, 2, 8, 15, 0, 0, time.UTC)
	out := Build(src, "pets.dlq", &Info{
		Reason: ReasonSchemaViolation, Message: "bad", SchemaID: 7, Subject: "pets-value", Version: 2,
		Violations: []Violation{{Path: "/w", Keyword: "type", Message: "want integer"}},
		Group:      "g", Subscription: "s", Instance: "pod-1", Attempts: 0, FailedAt: failed,
	})
	if out.Topic != "pets.dlq" || !bytes.Equal(out.Key, src.Key) || !bytes.Equal(out.Value, src.Value) || !out.Timestamp.Equal(src.Timestamp) {
		t.Fatalf("record changed: %+v", out)
	}
	for i, h := range src.Headers {
		if out.Headers[i].Key != h.Key || !bytes.Equal(out.Headers[i].Value, h.Value) {
			t.Fatalf("header %d changed", i)
		}
	}
	got := map[string]string{}
	for _, h := range out.Headers[len(src.Headers):] {
		got[h.Key] = string(h.Value)
	}
	want := map[string]string{
		HeaderTopic: "pets", HeaderPartition: "2", HeaderOffset: "41",
		HeaderTimestamp: "2023-11-14T22:13:20.123Z", HeaderReason: ReasonSchemaViolation, HeaderMessage: "bad",
		HeaderViolations: `[{"path":"/w","keyword":"type","message":"want integer"}]`,
		HeaderSchemaID:   "7", HeaderSubject: "pets-value", HeaderSchemaVersion: "2",
		HeaderGroup: "g", HeaderSubscription: "s", HeaderInstance: "pod-1",
		HeaderFailedAt: "2026-11-02T08:15:00.000Z", HeaderAttempts: "0",
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %q, want %q", k, got[k], v)
		}
	}
	if len(got) != len(want) {
		t.Errorf("added %d headers, want %d: %v", len(got), len(want), got)
	}
	o, ok := ReadOriginal(out)
	if !ok || o != (Original{Topic: "pets", Partition: 2, Offset: 41, Reason: ReasonSchemaViolation, Message: "bad"}) {
		t.Errorf("ReadOriginal = %+v, %v", o, ok)
	}
}

func TestBuildLeavesOutWhatIsNotKnown(t *testing.T) {
	out := Build(&kgo.Record{Topic: "pets", Value: []byte("raw")}, "pets.dlq", &Info{Reason: ReasonNotWireFormat, Message: "m", SchemaID: -1})
	for _, h := range out.Headers {
		switch h.Key {
		case HeaderSchemaID, HeaderSubject, HeaderSchemaVersion:
			t.Errorf("%s present for a record without schema", h.Key)
		case HeaderViolations:
			if string(h.Value) != "[]" {
				t.Errorf("violations %q, want []", h.Value)
			}
		case HeaderFailedAt:
			if _, err := time.Parse(time.RFC3339, string(h.Value)); err != nil {
				t.Errorf("failed_at defaulted to %q: %v", h.Value, err)
			}
		}
	}
}

func TestHeadersAreBounded(t *testing.T) {
	var vs []Violation
	for i := 0; i < 1000; i++ {
		vs = append(vs, Violation{Path: "/items/" + strings.Repeat("x", 40), Keyword: "type", Message: strings.Repeat("é", 20)})
	}
	msg := strings.Repeat("ü", MaxMessageBytes)
	out := Build(&kgo.Record{}, "t", &Info{Reason: ReasonSchemaViolation, Message: msg, Violations: vs})
	for _, h := range out.Headers {
		switch h.Key {
		case HeaderViolations:
			var back []Violation
			if err := json.Unmarshal(h.Value, &back); err != nil || len(h.Value) > MaxViolationsBytes || len(back) == 0 || len(back) == len(vs) {
				t.Errorf("violations: %d bytes, %d of %d kept, err %v", len(h.Value), len(back), len(vs), err)
			}
		case HeaderMessage:
			if len(h.Value) > MaxMessageBytes || !utf8.Valid(h.Value) || !strings.HasSuffix(string(h.Value), "…") {
				t.Errorf("message: %d bytes, valid UTF-8 %v", len(h.Value), utf8.Valid(h.Value))
			}
		}
	}
}

func TestReasonsAreTheDocumentedCodes(t *testing.T) {
	want := "not_wire_format unknown_schema malformed_json malformed_payload schema_violation wrong_subject rule_violation rejected_by_app delivery_exhausted"
	if got := strings.Join(Reasons, " "); got != want {
		t.Errorf("reasons %q, want %q", got, want)
	}
	for _, h := range []string{HeaderTopic, HeaderReason, HeaderAttempts} {
		if !IsHeader(h) {
			t.Errorf("%s not recognised as a dead-letter header", h)
		}
	}
}
