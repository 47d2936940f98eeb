package protobuf_test

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/dynamicpb"

	"github.com/eventguard/eventguard/internal/jsonvalue"
	"github.com/eventguard/eventguard/validate/protobuf"
)

var update = flag.Bool("update", false, "rewrite testdata goldens")

func readFile(t testing.TB, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func orderSchema(t testing.TB) *protobuf.Schema {
	t.Helper()
	s, err := protobuf.Compile(context.Background(), readFile(t, "order.proto"), map[string]string{
		"acme/common/v1/money.proto": readFile(t, "common.proto"),
	})
	if err != nil {
		t.Fatalf("compile: %v", err)
	}
	return s
}

func encode(t testing.TB, s *protobuf.Schema, js, msgType string) ([]byte, []protobuf.Violation) {
	t.Helper()
	d, err := jsonvalue.ParseDoc([]byte(js), jsonvalue.Limits{})
	if err != nil {
		t.Fatalf("parse %s: %v", js, err)
	}
	return s.Encode(nil, d, []byte(js), msgType)
}

func TestCompile(t *testing.T) {
	s := orderSchema(t)
	if !s.Validates() {
		t.Error("buf.validate rules are not enforced though the schema imports buf/validate/validate.proto")
	}
	want := "acme.orders.v1.OrderPlaced,acme.orders.v1.OrderPlaced.Item,acme.orders.v1.OrderCancelled"
	if got := strings.Join(s.MessageNames(), ","); got != want {
		t.Errorf("messages %s, want %s", got, want)
	}
	plain, err := protobuf.Compile(context.Background(), `syntax = "proto3"; message A { int32 x = 1; }`, nil)
	if err != nil || plain.Validates() {
		t.Errorf("a schema without buf.validate: %v, validates=%v", err, plain != nil && plain.Validates())
	}
	for _, bad := range []struct{ schema, want string }{
		{`syntax = "proto3"; import "missing.proto"; message A { int32 x = 1; }`, "missing.proto"},
		{`syntax = "proto3"; message A { int32 x = 1; string y = 1; }`, "same tag"},
		{`syntax = "proto3"; enum E { E_A = 0; }`, "no message"},
		{`syntax = "proto3"; import "buf/validate/validate.proto"; message A { string x = 1 [(buf.validate.field).cel = {id: "x", expression: "this >"}]; }`, "buf.validate"},
	} {
		if _, err := protobuf.Compile(context.Background(), bad.schema, nil); err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("%s: error %v, want one saying %q", bad.schema, err, bad.want)
		}
	}
}

// TestRoundTrip: JSON (JSON and proto names mixed, 64-bit integers as
// strings and numbers) encodes; the payload decodes to the golden JSON
// (proto names, defaults written), which encodes to the same payload.
func TestRoundTrip(t *testing.T) {
	s := orderSchema(t)
	payload, viol := encode(t, s, readFile(t, "order.json"), "")
	if len(viol) > 0 {
		t.Fatalf("violations: %+v", viol)
	}
	if payload[0] != 0 {
		t.Errorf("first message: index array % x, want the single byte 0", payload[:1])
	}
	js, viol, err := s.Decode(nil, payload)
	if err != nil || len(viol) > 0 {
		t.Fatalf("decode: %v %+v", err, viol)
	}
	golden := filepath.Join("testdata", "order.decoded.json")
	if *update {
		if err := os.WriteFile(golden, append(js, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if want := strings.TrimSpace(readFile(t, "order.decoded.json")); string(js) != want {
		t.Errorf("decoded\n got %s\nwant %s", js, want)
	}
	again, viol := encode(t, s, string(js), "acme.orders.v1.OrderPlaced")
	if len(viol) > 0 || !bytes.Equal(again, payload) {
		t.Errorf("decoded JSON encodes differently (%+v):\n first %x\n again %x", viol, payload, again)
	}
	// The message after the index array is plain protobuf.
	msg := dynamicpb.NewMessage(s.File().Messages().Get(0))
	if err := proto.Unmarshal(payload[1:], msg); err != nil {
		t.Fatal(err)
	}
}

// TestMessageIndexes: the message-index array for nested and later
// messages, and selection by full or simple name.
func TestMessageIndexes(t *testing.T) {
	s := orderSchema(t)
	cases := []struct{ msgType, js, prefix string }{
		{"OrderCancelled", `{"order_id":"o-1"}`, "0202"},                          // [1]
		{".acme.orders.v1.OrderCancelled", `{"order_id":"o-1"}`, "0202"},          // [1]
		{"acme.orders.v1.OrderPlaced.Item", `{"sku":"x","quantity":1}`, "040000"}, // [0, 0]
		{"Item", `{"sku":"x","quantity":1}`, "040000"},
	}
	for _, c := range cases {
		payload, viol := encode(t, s, c.js, c.msgType)
		if len(viol) > 0 {
			t.Fatalf("%s: %+v", c.msgType, viol)
		}
		if got := hex.EncodeToString(payload); !strings.HasPrefix(got, c.prefix) {
			t.Errorf("%s: payload %s, want it to start with %s", c.msgType, got, c.prefix)
		}
		js, viol, err := s.Decode(nil, payload)
		if err != nil || len(viol) > 0 {
			t.Errorf("%s: decode %v %+v", c.msgType, err, viol)
		}
		if !strings.Contains(string(js), `"x"`) && !strings.Contains(string(js), `"o-1"`) {
			t.Errorf("%s: decoded %s", c.msgType, js)
		}
	}
	_, viol := encode(t, s, `{}`, "Nope")
	if len(viol) != 1 || viol[0].Keyword != protobuf.KeywordMessageType {
		t.Errorf("unknown message type: %+v", viol)
	}
}

func TestEncodeViolations(t *testing.T) {
	s := orderSchema(t)
	typical := readFile(t, "order.json")
	cases := []struct {
		member, value string
		path, keyword string
	}{
		{`"tenant_id":"cafe-12"`, `"tenant_id":12`, "/tenant_id", protobuf.KeywordType},
		{`"tenant_id":"cafe-12"`, `"tenant_id":""`, "/tenant_id", "string.min_len"},
		{`"tenant_id":"cafe-12"`, `"tenant":"cafe-12"`, "/tenant", protobuf.KeywordUnknownField},
		{`"order_type":"ORDER_TYPE_DINE_IN"`, `"order_type":"BRUNCH"`, "/order_type", protobuf.KeywordEnum},
		{`"order_type":"ORDER_TYPE_DINE_IN"`, `"order_type":7`, "/order_type", "enum.defined_only"},
		{`"order_id":"5f0c6e2a-1b2c-4d3e-8f90-123456789abc"`, `"order_id":"nope"`, "/order_id", "string.uuid"},
		{`"quantity":2`, `"quantity":-2`, "/items/0/quantity", protobuf.KeywordRange},
		{`"quantity":2`, `"quantity":0`, "/items/0/quantity", "uint32.gt"},
		{`"quantity":2`, `"quantity":1.5`, "/items/0/quantity", protobuf.KeywordRange},
		{`"minor_units":"450"`, `"minor_units":"4x"`, "/items/0/unit_price/minor_units", protobuf.KeywordRange},
		{`"minorUnits":300`, `"minorUnits":300,"minor_units":300`, "/items/1/unitPrice/minor_units", protobuf.KeywordDuplicateField},
		{`"occurred_at":"2026-11-02T12:30:00Z"`, `"occurred_at":"yesterday"`, "/occurred_at", protobuf.KeywordFormat},
		{`"occurred_at":"2026-11-02T12:30:00Z",`, ``, "/occurred_at", "required"},
		{`"labels":{"b":"2","a":"1"}`, `"labels":{"b":2}`, "/labels/b", protobuf.KeywordType},
		{`"signature":"AAECAw=="`, `"signature":"not base64!"`, "/signature", protobuf.KeywordFormat},
		{`"card_token":"tok_123"`, `"card_token":"tok_123","cash_register":"r1"`, "/cash_register", protobuf.KeywordOneof},
		{`"items":[`, `"items":{},"x":[`, "/items", protobuf.KeywordType},
		{`"customer_id":"cust-7"`, `"customer_id":7`, "/customer_id", protobuf.KeywordType},
		{`"tip":1.5`, `"tip":"lots"`, "/tip", protobuf.KeywordFormat},
	}
	for _, c := range cases {
		if !strings.Contains(typical, c.member) {
			t.Fatalf("order.json has no %s", c.member)
		}
		js := strings.Replace(typical, c.member, c.value, 1)
		_, viol := encode(t, s, js, "")
		found := false
		for _, v := range viol {
			found = found || v.Path == c.path && v.Keyword == c.keyword
		}
		if !found {
			t.Errorf("%s: violations %+v, want one at %s (%s)", c.value, viol, c.path, c.keyword)
		}
	}
	// Several problems at once are all named.
	_, viol := encode(t, s, `{"tenant_id":1,"order_type":"X","nope":true}`, "")
	if len(viol) != 3 {
		t.Errorf("violations %+v, want 3", viol)
	}
	// Rules check the whole message: every rule broken is reported.
	_, viol = encode(t, s, `{"order_id":"x","tenant_id":"","items":[]}`, "")
	var kws []string
	for _, v := range viol {
		kws = append(kws, v.Path+" "+v.Keyword)
	}
	if got := strings.Join(kws, ","); got != "/items repeated.min_items,/occurred_at required,/order_id string.uuid,/tenant_id string.min_len" {
		t.Errorf("rule violations %s", got)
	}
}

func TestDecodeRefusals(t *testing.T) {
	s := orderSchema(t)
	valid, viol := encode(t, s, `{"order_id":"o-1","reason":"late"}`, "OrderCancelled")
	if len(viol) > 0 {
		t.Fatal(viol)
	}
	for _, c := range []struct {
		hex, why string
	}{
		{"", "ends inside the message-index array"},
		{"06", "ends inside the message-index array"},
		{"0204", "message index 2 out of range"},
		{"41", "message-index array of -33 entries"},
		{"7e", "message-index array of 63 entries"},
		{"02020a", "not a acme.orders.v1.OrderCancelled"},
		{"0202" + "0a05" + "6f2d31", "not a acme.orders.v1.OrderCancelled"},
		{"ffffffffffffffffffff01", "overlong varint"},
	} {
		b, _ := hex.DecodeString(c.hex)
		_, _, err := s.Decode(nil, b)
		var de *protobuf.DecodeError
		if !errors.As(err, &de) || !strings.Contains(de.Msg, c.why) {
			t.Errorf("%s: error %v, want one saying %q", c.hex, err, c.why)
		}
	}
	// A field the message does not declare (number 15): a violation.
	unknown := append(append([]byte(nil), valid...), 0x78, 0x01)
	_, viol, err := s.Decode(nil, unknown)
	if err != nil || len(viol) != 1 || viol[0].Keyword != protobuf.KeywordUnknownField {
		t.Errorf("unknown field: %v %+v", err, viol)
	}
	// A rule broken in the binary: a violation on decode too.
	long := `{"order_id":"o-1","reason":"` + strings.Repeat("x", 201) + `"}`
	raw := dynamicpb.NewMessage(s.File().Messages().Get(1))
	raw.Set(raw.Descriptor().Fields().ByName("reason"), protoValueOfString(strings.Repeat("x", 201)))
	body, _ := proto.Marshal(raw)
	_, viol, err = s.Decode(nil, append([]byte{0x02, 0x02}, body...))
	if err != nil || len(viol) != 1 || viol[0].Keyword != "string.max_len" || viol[0].Path != "/reason" {
		t.Errorf("rule on decode: %v %+v (%d bytes of JSON)", err, viol, len(long))
	}
}

func protoValueOfString(s string) protoreflect.Value { return protoreflect.ValueOfString(s) }

// TestFastEncoder: the fast encoder takes the goldens (and the JSON
// forms it covers) and writes exactly what protojson + proto.Marshal
// write; forms it does not cover make it give up, never write otherwise.
func TestFastEncoder(t *testing.T) {
	s := orderSchema(t)
	cases := []struct {
		js, msgType string
		fast        bool
	}{
		{readFile(t, "order.json"), "", false}, // customer_id is a wrapper: protojson's
		{strings.Replace(readFile(t, "order.json"), `"customer_id":"cust-7",`, "", 1), "", true},
		{readFile(t, "order.decoded.json"), "", false},
		{`{"order_id":"o-1","reason":"late"}`, "OrderCancelled", true},
		{`{"order_id":"","reason":null}`, "OrderCancelled", true},
		{`{"sku":"x","quantity":"7","unit_price":{"minor_units":"-9007199254740993","currency":"EUR"}}`, "Item", true},
		{`{"sku":"x","quantity":7.0}`, "Item", false},        // 7.0: protojson's to read
		{`{"sku":"x","quantity":1e2}`, "Item", false},        // likewise
		{`{"sku":"x","quantity":-1}`, "Item", false},         // out of range: refused by both
		{`{"order_type":2,"table":0,"tip":-0.0}`, "", false}, // -0
		{`{"order_type":2,"table":0,"tip":0,"labels":{"z":"","a":"b"},"signature":"AAEC"}`, "", true},
		{`{"occurred_at":"2026-11-02T12:30:00.123456789-07:00","cash_register":""}`, "", true},
		{`{"occurred_at":"2026-11-02t12:30:00Z"}`, "", false},
		{`{"signature":"AAE"}`, "", false},
		{`{"card_token":"a","cash_register":"b"}`, "", false},
		{`{"card_token":null,"cash_register":"b"}`, "", true},
		{`{"nope":1}`, "", false},
	}
	for _, c := range cases {
		d, err := jsonvalue.ParseDoc([]byte(c.js), jsonvalue.Limits{})
		if err != nil {
			t.Fatal(err)
		}
		fast, ok, ref, refOK := s.EncodeBoth(d, []byte(c.js), c.msgType)
		if ok != c.fast {
			t.Errorf("%s: fast encoder ok=%v, want %v", c.js, ok, c.fast)
		}
		if ok && (!refOK || !bytes.Equal(fast, ref)) {
			t.Errorf("%s: fast %x, protojson %x (protojson accepts: %v)", c.js, fast, ref, refOK)
		}
	}
}
