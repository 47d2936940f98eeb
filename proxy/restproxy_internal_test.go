package proxy

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"testing"
	"testing/iotest"
	"time"

	"github.com/eventguard/eventguard/produce"
)

// TestRESTProxyCodes: every pipeline code has a REST Proxy error code of
// the same class, and a client mistake is never a 5xx, an outage never a
// 4xx.
func TestRESTProxyCodes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		kind         produce.Kind
		code         string
		rpCode, http int
	}{
		{produce.KindNotFound, produce.CodeTopicNotFound, 40401, 404},
		{produce.KindNotFound, produce.CodePartitionNotFound, 40402, 404},
		{produce.KindBadRequest, produce.CodeInvalidPartition, 40402, 404},
		{produce.KindBadRequest, produce.CodeInvalidTopic, 40002, 400},
		{produce.KindNotFound, produce.CodeSchemaNotFound, 42207, 422},
		{produce.KindBadRequest, produce.CodeRegistryRejected, 42207, 422},
		{produce.KindInvalid, produce.CodeUnusableSchema, 42205, 422},
		{produce.KindInvalid, produce.CodeInvalidRecords, 400, 400},
		{produce.KindInvalid, "schema_violation", 400, 400},
		{produce.KindInvalid, "malformed_json", 400, 400},
		{produce.KindInvalid, produce.CodeDeprecated, 400, 400},
		{produce.KindBadRequest, produce.CodeInvalidKey, 400, 400},
		{produce.KindBadRequest, produce.CodeTypeRequired, 400, 400},
		{produce.KindForbidden, produce.CodeTopicNotAllowed, 40301, 403},
		{produce.KindForbidden, produce.CodeFeatureNotAllowed, 40301, 403},
		{produce.KindForbidden, produce.CodeKafkaRejected, 40301, 403},
		{produce.KindBadRequest, produce.CodeKafkaRejected, 40002, 400},
		{produce.KindTooLarge, produce.CodeValueTooLarge, 413, 413},
		{produce.KindTooLarge, produce.CodeTooManyRecords, 413, 413},
		{produce.KindOverloaded, produce.CodeOverloaded, 42901, 429},
		{produce.KindUnavailable, produce.CodeKafkaDown, 50302, 503},
		{produce.KindUnavailable, produce.CodeRegistryDown, 503, 503},
		{produce.KindUnavailable, produce.CodeShuttingDown, 503, 503},
		{produce.KindTimeout, produce.CodeTimeout, 50003, 504},
		{produce.KindInternal, produce.CodeInternal, 500, 500},
	}
	for _, tt := range tests {
		c := rpCode(tt.kind, tt.code)
		s := rpStatus(tt.kind, c)
		if c != tt.rpCode || s != tt.http {
			t.Errorf("%s (kind %d): error_code %d, HTTP %d; want %d, %d", tt.code, tt.kind, c, s, tt.rpCode, tt.http)
		}
		client := tt.kind != produce.KindUnavailable && tt.kind != produce.KindTimeout && tt.kind != produce.KindInternal && tt.kind != produce.KindOverloaded
		if client && s >= 500 || !client && tt.kind != produce.KindOverloaded && s < 500 {
			t.Errorf("%s: HTTP %d is of the wrong class", tt.code, s)
		}
	}
}

func TestJavaInstant(t *testing.T) {
	t.Parallel()
	for in, want := range map[time.Time]string{
		time.Date(2021, 2, 5, 19, 14, 42, 0, time.UTC):                      "2021-02-05T19:14:42Z",
		time.Date(2021, 2, 5, 19, 14, 42, 120e6, time.UTC):                  "2021-02-05T19:14:42.120Z",
		time.Date(2021, 2, 5, 20, 14, 42, 5e6, time.FixedZone("CET", 3600)): "2021-02-05T19:14:42.005Z",
		{}: "",
	} {
		if got := javaInstant(in); got != want {
			t.Errorf("javaInstant(%v) = %q, want %q", in, got, want)
		}
	}
}

// TestObjectSplitter: concatenated objects come out one by one whatever
// the read sizes, strings with brackets and escapes included; a non-object,
// an unterminated object and an object over the bound are errors.
func TestObjectSplitter(t *testing.T) {
	t.Parallel()
	in := " {\"a\":\"}{\\\"\"}\n{\"b\":[1,{\"c\":2}]}\r\n\t{}"
	for _, r := range []io.Reader{bytes.NewReader([]byte(in)), iotest.OneByteReader(bytes.NewReader([]byte(in))), iotest.DataErrReader(bytes.NewReader([]byte(in)))} {
		s := &objectSplitter{r: r, max: 64}
		var got []string
		for {
			obj, err := s.next()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, string(obj))
		}
		want := []string{"{\"a\":\"}{\\\"\"}", "{\"b\":[1,{\"c\":2}]}", "{}"}
		if len(got) != len(want) || got[0] != want[0] || got[1] != want[1] || got[2] != want[2] {
			t.Errorf("got %q, want %q", got, want)
		}
	}
	for in, want := range map[string]error{
		`[1]`:    errNotObject,
		`{"a":1`: errEndsEarly,
		`{"a":"` + string(bytes.Repeat([]byte("x"), 100)) + `"}`: errObjectLarge,
		`{"a":1} 5`: errNotObject,
	} {
		s := &objectSplitter{r: bytes.NewReader([]byte(in)), max: 64}
		var err error
		for err == nil {
			_, err = s.next()
		}
		if !errors.Is(err, want) {
			t.Errorf("%q: %v, want %v", in, err, want)
		}
	}
	// A huge object is cut off without reading it all.
	s := &objectSplitter{r: io.MultiReader(bytes.NewReader([]byte(`{"a":"`)), infinite{}), max: 1 << 20}
	if _, err := s.next(); !errors.Is(err, errObjectLarge) || cap(s.buf) > 1<<20+8192 {
		t.Errorf("an endless object: %v, buffer %d bytes", err, cap(s.buf))
	}
}

type infinite struct{}

func (infinite) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = 'x'
	}
	return len(p), nil
}

// FuzzDecodeV3Record: the v3 record decoder never panics, and a record
// it accepts is one encoding/json reads as an object with the same key
// and value data.
func FuzzDecodeV3Record(f *testing.F) {
	f.Add([]byte(`{"partition_id":1,"headers":[{"name":"Header-1","value":"SGVhZGVyLTE="}],"key":{"type":"BINARY","data":"Zm9vYmFy"},"value":{"type":"JSON","data":{"foo":"bar"}},"timestamp":"2021-02-05T19:14:42Z"}`))
	f.Add([]byte(`{"value":{"subject_name_strategy":"TOPIC_NAME","schema_version":1,"data":[1,"a\"]",{}]}}`))
	f.Add([]byte(`{"key":{"data":null},"value":{"type":"JSONSCHEMA","schema":"{}","data":"\ud83d\ude00"}}`))
	f.Fuzz(func(t *testing.T, obj []byte) {
		rec, err := decodeV3Record(obj)
		if err != nil {
			return
		}
		var ref struct {
			Key   *struct{ Data json.RawMessage } `json:"key"`
			Value *struct{ Data json.RawMessage } `json:"value"`
		}
		if !json.Valid(obj) {
			// Only data may be outside strict JSON here: the decoder
			// delimits it and the pipeline refuses it.
			return
		}
		if err := json.Unmarshal(obj, &ref); err != nil {
			t.Fatalf("accepted %q, encoding/json: %v", obj, err)
		}
		if ref.Value != nil && ref.Value.Data != nil && string(ref.Value.Data) != "null" && !bytes.Equal(ref.Value.Data, rec.value.data) {
			t.Fatalf("value data %q, encoding/json %q", rec.value.data, ref.Value.Data)
		}
		if ref.Key != nil && ref.Key.Data != nil && string(ref.Key.Data) != "null" && !bytes.Equal(ref.Key.Data, rec.key.data) {
			t.Fatalf("key data %q, encoding/json %q", rec.key.data, ref.Key.Data)
		}
	})
}

// FuzzDecodeV2Body: the v2 body decoder never panics; what it accepts as
// valid JSON, encoding/json reads with the same records.
func FuzzDecodeV2Body(f *testing.F) {
	f.Add([]byte(`{"records":[{"key":"somekey","value":{"foo":"bar"}},{"value":["foo","bar"],"partition":1},{"value":53.5}]}`))
	f.Add([]byte(`{"value_schema":"{\"type\":\"object\"}","value_schema_id":null,"records":[{"value":12}]}`))
	f.Add([]byte(`{"records":[{"key":"a2V5","value":"Y29uZmx1ZW50"}]}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		b, err := decodeV2Body(body)
		if err != nil || !json.Valid(body) {
			return
		}
		var ref struct {
			Records []struct {
				Key   json.RawMessage `json:"key"`
				Value json.RawMessage `json:"value"`
			} `json:"records"`
		}
		if err := json.Unmarshal(body, &ref); err != nil {
			t.Fatalf("accepted %q, encoding/json: %v", body, err)
		}
		if len(ref.Records) != len(b.records) {
			t.Fatalf("%d records, encoding/json %d", len(b.records), len(ref.Records))
		}
		for i, r := range ref.Records {
			if string(r.Value) != "null" && !bytes.Equal(r.Value, b.records[i].value) {
				t.Fatalf("record %d value %q, encoding/json %q", i, b.records[i].value, r.Value)
			}
		}
	})
}

// FuzzObjectSplitter: splitting never panics and never returns more than
// it read; every object returned starts with '{' and ends with '}'.
func FuzzObjectSplitter(f *testing.F) {
	f.Add([]byte(`{"a":1}{"b":"}"} {"c":[{}]}`), uint8(3))
	f.Add([]byte(`{"x":"\\\""}`+"\n"+`[`), uint8(1))
	f.Fuzz(func(t *testing.T, in []byte, chunk uint8) {
		var r io.Reader = bytes.NewReader(in)
		if chunk%2 == 1 {
			r = iotest.HalfReader(r)
		}
		s := &objectSplitter{r: r, max: 256}
		total := 0
		for range len(in) + 1 {
			obj, err := s.next()
			if err != nil {
				return
			}
			total += len(obj)
			if len(obj) < 2 || obj[0] != '{' || obj[len(obj)-1] != '}' || total > len(in) || len(obj) > 256 {
				t.Fatalf("object %q from %q", obj, in)
			}
		}
	})
}
