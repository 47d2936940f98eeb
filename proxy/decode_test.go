package proxy

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/eventguard/eventguard/internal/jsonvalue"
)

func TestDecodeRequest(t *testing.T) {
	body := []byte(` {"partial":true, "records":[{"key":"k\u00e9","value": {"a":[1,"]}"]} ,"headers":{"b":"2","a":"1"},"id":"e1","type":"T","schema_id":7},
		{"value":null,"key":null,"headers":null,"schema_version":2}]} `)
	req, msg := decodeRequest(body)
	if msg != "" {
		t.Fatal(msg)
	}
	if !req.Partial || len(req.Records) != 2 {
		t.Fatalf("got %+v", req)
	}
	r := req.Records[0]
	if string(r.Key) != "ké" || string(r.Value) != `{"a":[1,"]}"]}` || r.ID != "e1" || r.Type != "T" || r.SchemaID != 7 {
		t.Errorf("record 0: %+v (value %s)", r, r.Value)
	}
	if len(r.Headers) != 2 || r.Headers[0].Key != "a" || string(r.Headers[1].Value) != "2" {
		t.Errorf("headers not kept sorted: %+v", r.Headers)
	}
	if r1 := req.Records[1]; r1.Key != nil || string(r1.Value) != "null" || r1.SchemaVersion != 2 {
		t.Errorf("record 1: %+v", r1)
	}
}

// TestDecodeEmptyKeyAndHeader: an empty key or header value stays empty,
// not null (Kafka tells them apart), and nothing decoded shares the body.
func TestDecodeEmptyKeyAndHeader(t *testing.T) {
	body := []byte(`{"records":[{"key":"","value":1,"headers":{"h":""}},{"key":"k1","value":2,"headers":{"h":"v1"}}]}`)
	req, msg := decodeRequest(body)
	if msg != "" {
		t.Fatal(msg)
	}
	r := req.Records[0]
	if r.Key == nil || len(r.Key) != 0 || r.Headers[0].Value == nil || len(r.Headers[0].Value) != 0 {
		t.Errorf("empty key %#v, empty header value %#v: want empty, non-nil", r.Key, r.Headers[0].Value)
	}
	for i := range body {
		body[i] = 'x' // as a pooled buffer is reused
	}
	if r := req.Records[1]; string(r.Key) != "k1" || string(r.Headers[0].Value) != "v1" || r.Headers[0].Key != "h" {
		t.Errorf("record 1 changed with the body: key %q, header %q=%q", r.Key, r.Headers[0].Key, r.Headers[0].Value)
	}
}

func TestDecodeRequestErrors(t *testing.T) {
	for _, c := range []struct{ body, want string }{
		{``, "the body is empty"},
		{`[]`, "must be a JSON object"},
		{`{"records":[{"value":1}],"records":[]}`, `has "records" twice`},
		{`{"records":[{"value":1,"value":2}]}`, `records[0] has "value" twice`},
		{`{"records":[{"value":1,"headers":{"a":"1","a":"2"}}]}`, `has header "a" twice`},
		{`{"records":[{"value":1,"headers":{"a":1}}]}`, `records[0].headers.a must be a string`},
		{`{"records":[{"value":1},{"value":1,"kye":1}]}`, `records[1] has an unknown field "kye"`},
		{`{"records":[{"value":1},{}]}`, `records[1].value is missing`},
		{`{"records":[{"value":1},{"value":1,"id":7}]}`, `records[1].id must be a string`},
		{`{"records":[{"value":1,"schema_id":1.5}]}`, `records[0].schema_id must be a whole number`},
		{`{"records":[{"value":1,"schema_id":-1}]}`, `records[0].schema_id must be positive`},
		{`{"records":[{"value":1,"schema_id":99999999999}]}`, `must be a whole number up to 2147483647`},
		{`{"records":[{"value":1,"schema_version":"2"}]}`, `records[0].schema_version must be a number`},
		{`{"records":[{"value":{"a":]}}]}`, `records[0].value`},
		{`{"records":[{"value":"abc}]}`, `unterminated string`},
		{`{"records":[{"value":1}],"partial":"yes"}`, `partial must be true or false`},
		{`{"records":[{"value":1}]`, `ends early`},
		{`{"records":[{"key":"a` + "\x01" + `","value":1}]}`, `raw control character`},
		{`{"records":[{"key":"\x","value":1}]}`, `records[0].key is not a valid JSON string`},
		{"{\"records\":[{\"key\":\"\xf2\",\"value\":1}]}", `records[0].key is not valid UTF-8`},
		{"{\"records\":[{\"value\":1,\"headers\":{\"h\":\"\xff\"}}]}", `records[0].headers.h is not valid UTF-8`},
		{"{\"records\":[{\"value\":1,\"id\":\"a\xc3\"}]}", `records[0].id is not valid UTF-8`},
		{`{"records":[{"value":1}]}}`, `has data after the JSON object`},
		// Brackets are matched at any depth to find the value's end.
		{`{"records":[{"value":` + strings.Repeat("[", 300) + "}" + strings.Repeat("]", 299) + `}]}`, `has '}' where a bracket of the other kind is open`},
		{`{"records":[{"value":` + strings.Repeat(`{"a":[`, 5000), "ends early"},
	} {
		_, msg := decodeRequest([]byte(c.body))
		if !strings.Contains(msg, c.want) {
			t.Errorf("%s:\n got %q\nwant it to contain %q", c.body, msg, c.want)
		}
	}
}

// TestDecodeDeepValue: a value nested deeper than anything the decoder
// tracks on its stack is delimited by its brackets and handed to the
// pipeline undecoded, which refuses it for its record alone; the records
// after it are decoded (issue 10, item 2: above 256 levels the whole
// request was refused).
func TestDecodeDeepValue(t *testing.T) {
	for _, deep := range []string{
		strings.Repeat("[", 257) + strings.Repeat("]", 257),
		strings.Repeat(`{"a":[`, 10000) + `"]}"` + strings.Repeat("]}", 10000),
	} {
		body := `{"records":[{"value":` + deep + `},{"value":{"b":1},"key":"k"}],"partial":true}`
		req, msg := decodeRequest([]byte(body))
		if msg != "" {
			t.Fatalf("depth %d: %s", strings.Count(deep, "["), msg)
		}
		if len(req.Records) != 2 || string(req.Records[0].Value) != deep || req.Records[0].Doc != nil {
			t.Fatalf("depth %d: record 0 not delimited as the whole value (%d records)", strings.Count(deep, "["), len(req.Records))
		}
		if r := req.Records[1]; r.Doc == nil || string(r.Key) != "k" || string(r.Value) != `{"b":1}` {
			t.Errorf("record after the deep one: %+v", r)
		}
		if _, err := jsonvalue.Parse(req.Records[0].Value, jsonvalue.Limits{}); err == nil || err.(*jsonvalue.Error).Code != jsonvalue.CodeTooDeep {
			t.Errorf("the pipeline's strict parse of the deep value: %v, want too_deep", err)
		}
	}
}

// FuzzDecodeRequest: never panics; what it accepts, encoding/json accepts
// too when every value is itself valid JSON, with the same records.
func FuzzDecodeRequest(f *testing.F) {
	f.Add([]byte(`{"records":[{"key":"k","value":{"a":1},"headers":{"h":"v"},"id":"x","schema_version":1}]}`))
	f.Add([]byte(`{"partial":true,"records":[{"value":[1,2,{"b":"\"]"}]}]}`))
	f.Add([]byte(`{"records":[{"value":"\ud83d\ude00","key":"\u00e9"}]}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		req, msg := decodeRequest(body)
		if msg != "" {
			return
		}
		var ref struct {
			Records []struct {
				Key   *string         `json:"key"`
				Value json.RawMessage `json:"value"`
			} `json:"records"`
		}
		for i, r := range req.Records {
			// A value decoded in place is the value its bytes hold.
			if r.Doc != nil {
				want, err := jsonvalue.Parse(r.Value, jsonvalue.Limits{})
				if err != nil || !reflect.DeepEqual(r.Doc.Value(0), want) {
					t.Fatalf("record %d: decoded in place as %#v, its bytes %q give %#v, %v", i, r.Doc.Value(0), r.Value, want, err)
				}
			}
		}
		for _, r := range req.Records {
			if !json.Valid(r.Value) {
				return // the pipeline refuses it as malformed_json, per record
			}
		}
		if err := json.Unmarshal(body, &ref); err != nil {
			return // e.g. invalid UTF-8 that encoding/json tolerates differently
		}
		if len(ref.Records) != len(req.Records) {
			t.Fatalf("%d records, encoding/json sees %d", len(req.Records), len(ref.Records))
		}
		for i, r := range ref.Records {
			if (r.Key == nil) != (req.Records[i].Key == nil) || r.Key != nil && *r.Key != string(req.Records[i].Key) {
				t.Fatalf("record %d key differs", i)
			}
			if string(r.Value) != string(req.Records[i].Value) {
				t.Fatalf("record %d value %q, encoding/json %q", i, req.Records[i].Value, r.Value)
			}
		}
	})
}
