package check_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eventguard/eventguard/check"
	"github.com/eventguard/eventguard/config"
	"github.com/eventguard/eventguard/dlq"
	"github.com/eventguard/eventguard/internal/testutil"
	"github.com/eventguard/eventguard/rules"
	"github.com/eventguard/eventguard/validate"
)

var ctx = context.Background()

// TestCodesAreDeadLetterReasons: the consume verdict codes are the
// eventguard.dlq.reason values, one vocabulary.
func TestCodesAreDeadLetterReasons(t *testing.T) {
	t.Parallel()
	for _, code := range []string{check.CodeNotWireFormat, check.CodeUnknownSchema, check.CodeWrongSubject, check.CodeMalformedJSON, check.CodeSchemaViolation} {
		found := false
		for _, r := range dlq.Reasons {
			found = found || r == code
		}
		if !found {
			t.Errorf("verdict code %q is not a dlq reason", code)
		}
	}
}

// TestConsumeSubjectMustMatchTheTopic: by default a consumed record's
// schema id must be registered under a subject its topic's strategy
// allows, else wrong_subject (issue 10, item 3: a producer that bypassed
// eventguard framed a record on "parcels" with decoy-value's schema, and
// it was delivered).
func TestConsumeSubjectMustMatchTheTopic(t *testing.T) {
	t.Parallel()
	st := testutil.Start(t)
	parcelsID, _ := st.Register(t, "parcels-value", `{"type":"object","required":["parcel_id"]}`)
	decoyID, _ := st.Register(t, "decoy-value", `{"type":"object"}`)
	orderID, _ := st.Register(t, "orders-OrderPlaced", `{"type":"object","required":["order_id"]}`)
	// The same schema under two subjects has one id.
	sharedID, _ := st.Register(t, "shared-value", `{"type":"object","properties":{"shared":{}}}`)
	if id, _ := st.Register(t, "mirror-value", `{"type":"object","properties":{"shared":{}}}`); id != sharedID {
		t.Logf("srfake gave the same schema two ids (%d, %d): the shared case tests one registration", sharedID, id)
	}
	c := st.Checker(t, validate.Options{}, nil)
	topic := func(name, strategy string) config.Topic { return config.Topic{Name: name, SubjectStrategy: strategy} }
	tests := []struct {
		name       string
		topic      config.Topic
		any        bool
		value      []byte
		code       string
		subject    string
		msgContain string
	}{
		{"own subject", topic("parcels", config.StrategyTopic), false, validate.Frame(parcelsID, []byte(`{"parcel_id":"p"}`)), "", "parcels-value", ""},
		{"another subject's id", topic("parcels", config.StrategyTopic), false, validate.Frame(decoyID, []byte(`{}`)), check.CodeWrongSubject, "decoy-value", "decoy-value"},
		{"another subject's id, any allowed", topic("parcels", config.StrategyTopic), true, validate.Frame(decoyID, []byte(`{}`)), "", "decoy-value", ""},
		{"topic_record, the topic's type", topic("orders", config.StrategyTopicRecord), false, validate.Frame(orderID, []byte(`{"order_id":"o"}`)), "", "orders-OrderPlaced", ""},
		{"topic_record, another topic's subject", topic("orders", config.StrategyTopicRecord), false, validate.Frame(parcelsID, []byte(`{"parcel_id":"p"}`)), check.CodeWrongSubject, "parcels-value", "orders-<type>"},
		{"topic_record, the prefix alone is no type", topic("decoy", config.StrategyTopicRecord), false, validate.Frame(decoyID, []byte(`{}`)), "", "decoy-value", ""},
		{"record strategy, any type", topic("events", config.StrategyRecord), false, validate.Frame(decoyID, []byte(`{}`)), "", "decoy-value", ""},
		{"wrong subject is checked before the value", topic("parcels", config.StrategyTopic), false, validate.Frame(orderID, []byte(`{}`)), check.CodeWrongSubject, "orders-OrderPlaced", ""},
		{"not wire format", topic("parcels", config.StrategyTopic), false, []byte(`{}`), check.CodeNotWireFormat, "", ""},
		{"unknown id", topic("parcels", config.StrategyTopic), false, validate.Frame(9999, []byte(`{}`)), check.CodeUnknownSchema, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, err := c.Consume(ctx, &check.ConsumeInput{Topic: tt.topic, AnySubject: tt.any, Value: tt.value, Group: "g"})
			if err != nil {
				t.Fatal(err)
			}
			if v.Code != tt.code {
				t.Fatalf("code %q (%s), want %q", v.Code, v.Message, tt.code)
			}
			if tt.subject != "" && (v.Schema == nil || v.Schema.Subject != tt.subject) {
				t.Errorf("schema %+v, want subject %s", v.Schema, tt.subject)
			}
			if !strings.Contains(v.Message, tt.msgContain) {
				t.Errorf("message %q does not name %q", v.Message, tt.msgContain)
			}
		})
	}
	// A schema registered under the topic's subject and another is allowed
	// through either registration.
	v, err := c.Consume(ctx, &check.ConsumeInput{Topic: topic("mirror", config.StrategyTopic), Value: validate.Frame(sharedID, []byte(`{}`))})
	if err != nil {
		t.Fatal(err)
	}
	if sharedID == st.ID(t, "mirror-value", 1) && (v.Code != "" || v.Schema.Subject != "mirror-value") {
		t.Errorf("the same schema registered under mirror-value: %q %s, want a pass labelled mirror-value", v.Code, v.Message)
	}
}

// TestReplayReframesOnlyWhenAsked: records that never had a contract
// (not in wire format, unknown id, another subject's schema) are framed
// with the latest schema only with ReplayOptions.Reframe (issue 10, item
// 4); a record that broke its own schema is tried against the latest with
// TryLatest.
func TestReplayReframesOnlyWhenAsked(t *testing.T) {
	t.Parallel()
	st := testutil.Start(t)
	v1, _ := st.Register(t, "weights-value", `{"type":"object","required":["weight"],"properties":{"weight":{"type":"integer"}}}`)
	decoy, _ := st.Register(t, "decoy-value", `{"type":"object"}`)
	v2, _ := st.Register(t, "weights-value", `{"type":"object","required":["weight"],"properties":{"weight":{"type":"number"}}}`)
	c := st.Checker(t, validate.Options{}, nil)
	body := []byte(`{"weight":4.5}`)
	tests := []struct {
		name            string
		value           []byte
		o               check.ReplayOptions
		pass            bool
		reason, message string
	}{
		{"broke its own schema, latest tried", validate.Frame(v1, body), check.ReplayOptions{TryLatest: true}, true, "", ""},
		{"broke its own schema, latest not asked", validate.Frame(v1, body), check.ReplayOptions{}, false, check.CodeSchemaViolation, ""},
		{"not wire format, without --reframe", body, check.ReplayOptions{TryLatest: true}, false, check.CodeNotWireFormat, "--reframe"},
		{"not wire format, with --reframe", body, check.ReplayOptions{Reframe: true}, true, "", ""},
		{"unknown id, without --reframe", validate.Frame(4242, body), check.ReplayOptions{TryLatest: true}, false, check.CodeUnknownSchema, "--reframe"},
		{"unknown id, with --reframe", validate.Frame(4242, body), check.ReplayOptions{Reframe: true}, true, "", ""},
		{"another subject, without --reframe", validate.Frame(decoy, body), check.ReplayOptions{TryLatest: true}, false, check.CodeWrongSubject, "--reframe"},
		{"another subject, with --reframe", validate.Frame(decoy, body), check.ReplayOptions{Reframe: true}, true, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, err := c.Replay(ctx, "weights", &kgo.Record{Value: tt.value}, tt.o)
			if err != nil {
				t.Fatal(err)
			}
			if v.Pass != tt.pass || v.Reason != tt.reason || !strings.Contains(v.Message, tt.message) {
				t.Fatalf("got %+v, want pass=%v reason=%q message containing %q", v, tt.pass, tt.reason, tt.message)
			}
			if v.Pass && (v.SchemaID != v2 || v.Subject != "weights-value" || v.Version != 2) {
				t.Errorf("passed against %s version %d (id %d), want weights-value version 2 (id %d)", v.Subject, v.Version, v.SchemaID, v2)
			}
		})
	}
}

// TestAvroAndProtobufRoundTrip: on produce an Avro or Protobuf subject's
// JSON value is encoded to the registry's binary format (Verdict.Payload);
// on consume that binary is decoded back to JSON for the app, and a payload
// that does not decode is malformed_payload.
func TestAvroAndProtobufRoundTrip(t *testing.T) {
	t.Parallel()
	st := testutil.Start(t)
	c := st.Checker(t, validate.Options{}, nil)
	for _, tt := range []struct {
		topic, golden, typ string
	}{
		{"payments", "../examples/contracts/payments-value/1/valid/typical.json", ""},
		{"tables", "../examples/contracts/tables-value/1/valid/seated.json", ""},
	} {
		t.Run(tt.topic, func(t *testing.T) {
			value, err := os.ReadFile(tt.golden)
			if err != nil {
				t.Fatal(err)
			}
			in := check.ProduceInput{Topic: config.Topic{Name: tt.topic, SubjectStrategy: config.StrategyTopic}, Value: value, Type: tt.typ}
			v, err := c.Produce(ctx, &in, check.Memo{})
			if err != nil || !v.Passed() {
				t.Fatalf("produce: %q %s %v", v.Code, v.Message, err)
			}
			if len(v.Payload) == 0 || json.Valid(v.Payload) {
				t.Fatalf("payload %q: want the binary encoding, not JSON", v.Payload)
			}
			framed := validate.Frame(v.Schema.ID, v.Payload)
			cv, err := c.Consume(ctx, &check.ConsumeInput{Topic: in.Topic, Value: framed, Key: []byte("k"), State: rules.NewState(10)})
			if err != nil || !cv.Passed() {
				t.Fatalf("consume: %q %s %v", cv.Code, cv.Message, err)
			}
			if !json.Valid(cv.Payload) {
				t.Fatalf("delivered %q: want JSON", cv.Payload)
			}
			// Decoded again, it encodes to the same bytes.
			in2 := check.ProduceInput{Topic: in.Topic, Value: cv.Payload}
			v2, err := c.Produce(ctx, &in2, check.Memo{})
			if err != nil || !bytes.Equal(v2.Payload, v.Payload) {
				t.Errorf("the delivered JSON does not encode to the same bytes: %q %v", v2.Code, err)
			}
			bad, err := c.Consume(ctx, &check.ConsumeInput{Topic: in.Topic, Value: validate.Frame(v.Schema.ID, []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}), Key: []byte("k"), State: rules.NewState(10)})
			if err != nil || bad.Code != validate.CodeMalformedPayload {
				t.Errorf("garbage payload: %q %s %v, want malformed_payload", bad.Code, bad.Message, err)
			}
		})
	}
}
