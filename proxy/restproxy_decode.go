package proxy

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/eventguard/eventguard/internal/quote"
	"github.com/eventguard/eventguard/produce"
)

// The bodies of REST Proxy's produce calls: v3 records (one JSON object
// each, concatenated on a stream) and v2 requests. They are decoded with
// the strict envelope decoder of eventguard's own API (decode.go):
// unknown and duplicate fields are refused with their path, strings must
// be valid UTF-8. Values are kept as the bytes sent, for the pipeline to
// decode strictly and validate.

// Embedded data types of REST Proxy v3 (ProduceRequestData.type).
const (
	rpTypeBinary     = "BINARY"
	rpTypeJSON       = "JSON"
	rpTypeString     = "STRING"
	rpTypeJSONSchema = "JSONSCHEMA"
	rpTypeAvro       = "AVRO"
	rpTypeProtobuf   = "PROTOBUF"
)

// Subject name strategies of REST Proxy v3, and eventguard's names for
// them.
var rpStrategies = map[string]string{
	"TOPIC_NAME":        "topic",
	"RECORD_NAME":       "record",
	"TOPIC_RECORD_NAME": "topic_record",
}

// maxSubjectLen bounds a subject named in a request, in bytes.
const maxSubjectLen = 255

// v3Data is a record's key or value as a v3 request gives it.
type v3Data struct {
	present bool // the field was given and not null
	typ     string
	subject string
	// strategy is the subject_name_strategy, in REST Proxy's spelling.
	strategy      string
	schema        string
	hasSchema     bool
	schemaID      int
	schemaVersion int
	// data is the data's JSON text; nil when absent or null.
	data []byte
}

// usesSchemaFields reports whether d names a schema in any way.
func (d *v3Data) usesSchemaFields() bool {
	return d.subject != "" || d.strategy != "" || d.hasSchema || d.schemaID != 0 || d.schemaVersion != 0
}

// v3Record is one decoded v3 record.
type v3Record struct {
	partition    int32
	partitionSet bool
	headers      []produce.Header
	key, value   v3Data
	timestamp    time.Time
}

// decodeV3Record decodes one v3 record object.
func decodeV3Record(obj []byte) (*v3Record, error) {
	d := &reqDecoder{b: obj, s: string(obj)}
	rec := &v3Record{}
	seen := map[string]bool{}
	err := d.object(root, "a record must be a JSON object", func(k []byte) error {
		key := string(k)
		at := root.in(key)
		if seen[key] {
			return d.fail(root, "has %q twice", key)
		}
		seen[key] = true
		switch key {
		case "partition_id":
			if d.peek() == 'n' && d.literal("null") {
				return nil
			}
			p, err := d.int32Field(at)
			rec.partition, rec.partitionSet = p, true
			return err
		case "headers":
			return d.v3Headers(rec, at)
		case "key":
			return d.v3Data(&rec.key, at)
		case "value":
			return d.v3Data(&rec.value, at)
		case "timestamp":
			if d.peek() == 'n' && d.literal("null") {
				return nil
			}
			s, err := d.stringField(at)
			if err != nil {
				return err
			}
			t, perr := time.Parse(time.RFC3339Nano, s)
			if perr != nil {
				return d.fail(at, "is not an RFC 3339 date-time: %s", quoted(s))
			}
			rec.timestamp = t
			return nil
		default:
			return d.fail(root, "has an unknown field %q (known: partition_id, headers, key, value, timestamp)", key)
		}
	})
	if err != nil {
		return nil, err
	}
	if d.peek() != 0 {
		return nil, d.fail(root, "has data after the record object")
	}
	return rec, nil
}

func (d *reqDecoder) v3Headers(rec *v3Record, at where) error {
	if d.peek() == 'n' && d.literal("null") {
		return nil
	}
	if d.peek() != '[' {
		return d.fail(at, "must be an array of {name, value}")
	}
	return d.array(at, "between headers", func(i int) error {
		hat := where{rec: -1, field: at.field + "[" + strconv.Itoa(i) + "]"}
		var h produce.Header
		seenName, seenValue := false, false
		err := d.object(hat, "must be an object {name, value}", func(k []byte) error {
			switch string(k) {
			case "name":
				if seenName {
					return d.fail(hat, `has "name" twice`)
				}
				seenName = true
				name, err := d.stringField(hat.in(hat.field + ".name"))
				h.Key = name
				return err
			case "value":
				if seenValue {
					return d.fail(hat, `has "value" twice`)
				}
				seenValue = true
				if d.peek() == 'n' && d.literal("null") {
					return nil
				}
				v, err := d.base64Field(hat.in(hat.field + ".value"))
				h.Value = v
				return err
			default:
				return d.fail(hat, "has an unknown field %q (known: name, value)", k)
			}
		})
		if err != nil {
			return err
		}
		if !seenName {
			return d.fail(hat, `has no "name"`)
		}
		rec.headers = append(rec.headers, h)
		return nil
	})
}

func (d *reqDecoder) v3Data(out *v3Data, at where) error {
	if d.peek() == 'n' && d.literal("null") {
		return nil
	}
	out.present = true
	seen := map[string]bool{}
	return d.object(at, "must be an object {type, data, ...} or null", func(k []byte) error {
		key := string(k)
		fat := at.in(at.field + "." + key)
		if seen[key] {
			return d.fail(at, "has %q twice", key)
		}
		seen[key] = true
		null := d.peek() == 'n' && d.literal("null")
		switch key {
		case "type":
			if null {
				return nil
			}
			t, err := d.stringField(fat)
			if err != nil {
				return err
			}
			switch t {
			case rpTypeBinary, rpTypeJSON, rpTypeString, rpTypeJSONSchema, rpTypeAvro, rpTypeProtobuf:
				out.typ = t
				return nil
			}
			return d.fail(fat, "is %s; want BINARY, JSON, STRING, JSONSCHEMA, AVRO or PROTOBUF", quoted(t))
		case "subject":
			if null {
				return nil
			}
			s, err := d.stringField(fat)
			if err == nil && (s == "" || len(s) > maxSubjectLen) {
				return d.fail(fat, "must be 1 to %d bytes, got %s", maxSubjectLen, quoted(s))
			}
			out.subject = s
			return err
		case "subject_name_strategy":
			if null {
				return nil
			}
			s, err := d.stringField(fat)
			if err != nil {
				return err
			}
			if _, ok := rpStrategies[s]; !ok {
				return d.fail(fat, "is %s; want TOPIC_NAME, RECORD_NAME or TOPIC_RECORD_NAME", quoted(s))
			}
			out.strategy = s
			return nil
		case "schema_id":
			if null {
				return nil
			}
			n, err := d.count(fat)
			if err == nil && n == 0 {
				return d.fail(fat, "must be 1 or more")
			}
			out.schemaID = n
			return err
		case "schema_version":
			if null {
				return nil
			}
			n, err := d.count(fat)
			if err == nil && n == 0 {
				return d.fail(fat, "must be 1 or more")
			}
			out.schemaVersion = n
			return err
		case "schema":
			if null {
				return nil
			}
			s, err := d.stringField(fat)
			out.schema, out.hasSchema = s, true
			return err
		case "data":
			if null {
				return nil
			}
			start := d.i
			if err := d.skip(fat); err != nil {
				return err
			}
			out.data = d.b[start:d.i:d.i]
			return nil
		default:
			return d.fail(at, "has an unknown field %q (known: type, subject, subject_name_strategy, schema_id, schema_version, schema, data)", key)
		}
	})
}

// int32Field parses a whole number that fits an int32, negative allowed.
func (d *reqDecoder) int32Field(at where) (int32, error) {
	start := d.i
	if d.i < len(d.b) && d.b[d.i] == '-' {
		d.i++
	}
	for d.i < len(d.b) && d.b[d.i] >= '0' && d.b[d.i] <= '9' {
		d.i++
	}
	lit := string(d.b[start:d.i])
	digits := strings.TrimPrefix(lit, "-")
	if d.i < len(d.b) && (d.b[d.i] == '.' || d.b[d.i] == 'e' || d.b[d.i] == 'E') {
		d.i = start
		return 0, d.fail(at, "must be a whole number")
	}
	n, err := strconv.ParseInt(lit, 10, 32)
	if err != nil || digits == "" || len(digits) > 1 && digits[0] == '0' {
		d.i = start
		return 0, d.fail(at, "must be a whole number from -2147483648 to 2147483647, got %s", quote.Cut(lit, quote.MaxBytes))
	}
	return int32(n), nil
}

// base64Field reads a JSON string holding base64 (standard alphabet, with
// padding, as REST Proxy wants it) and returns the bytes it encodes.
func (d *reqDecoder) base64Field(at where) ([]byte, error) {
	start := d.i
	s, err := d.stringField(at)
	if err != nil {
		return nil, err
	}
	b, err := decodeBase64(s)
	if err != nil {
		d.i = start
		return nil, d.fail(at, "is not base64: %v", err)
	}
	return b, nil
}

func decodeBase64(s string) ([]byte, error) { return base64.StdEncoding.DecodeString(s) }

// jsonString returns the string a JSON string literal holds; an error
// when lit is not a string, or not a valid one (UTF-8, escapes).
func jsonString(lit []byte) (string, error) {
	if len(lit) < 2 || lit[0] != '"' {
		return "", errNotString
	}
	d := &reqDecoder{b: lit, s: string(lit)}
	s, err := d.str(root)
	if err == nil && d.i != len(lit) {
		err = errNotString
	}
	return s, err
}

var errNotString = errors.New("not a string")

// compactJSON returns raw JSON text without insignificant whitespace: the
// bytes REST Proxy's JSON serializer writes for a JSON key.
func compactJSON(raw []byte) ([]byte, error) {
	var buf bytes.Buffer
	if err := json.Compact(&buf, raw); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// v2Body is a decoded v2 produce request.
type v2Body struct {
	records                      []v2Record
	keySchema, valueSchema       string
	hasKeySchema, hasValueSchema bool
	keySchemaID, valueSchemaID   int
}

// v2Record is one record of a v2 request: key and value as the JSON text
// sent (nil when absent or null).
type v2Record struct {
	key, value   []byte
	partition    int32
	partitionSet bool
}

// decodeV2Body decodes a v2 produce request.
func decodeV2Body(body []byte) (*v2Body, error) {
	d := &reqDecoder{b: body, s: string(body)}
	if d.peek() == 0 {
		return nil, d.fail(root, "the body is empty")
	}
	out := &v2Body{}
	seen := map[string]bool{}
	err := d.object(root, "the request must be a JSON object", func(k []byte) error {
		key := string(k)
		at := root.in(key)
		if seen[key] {
			return d.fail(root, "has %q twice", key)
		}
		seen[key] = true
		null := d.peek() == 'n' && d.literal("null")
		switch key {
		case "records":
			if null {
				return nil
			}
			if d.peek() != '[' {
				return d.fail(at, "must be an array of records")
			}
			return d.array(at, "between records", func(i int) error {
				r, err := d.v2Record(i)
				out.records = append(out.records, r)
				return err
			})
		case "key_schema", "value_schema":
			if null {
				return nil
			}
			s, err := d.stringField(at)
			if key == "key_schema" {
				out.keySchema, out.hasKeySchema = s, true
			} else {
				out.valueSchema, out.hasValueSchema = s, true
			}
			return err
		case "key_schema_id", "value_schema_id":
			if null {
				return nil
			}
			n, err := d.count(at)
			if err == nil && n == 0 {
				return d.fail(at, "must be 1 or more")
			}
			if key == "key_schema_id" {
				out.keySchemaID = n
			} else {
				out.valueSchemaID = n
			}
			return err
		default:
			return d.fail(root, "has an unknown field %q (known: records, key_schema, key_schema_id, value_schema, value_schema_id)", key)
		}
	})
	if err != nil {
		return nil, err
	}
	if d.peek() != 0 {
		return nil, d.fail(root, "has data after the JSON object")
	}
	return out, nil
}

func (d *reqDecoder) v2Record(i int) (v2Record, error) {
	at := where{rec: i}
	var r v2Record
	seen := map[string]bool{}
	err := d.object(at, "must be an object {key, value, partition}", func(k []byte) error {
		key := string(k)
		fat := at.in(key)
		if seen[key] {
			return d.fail(at, "has %q twice", key)
		}
		seen[key] = true
		if d.peek() == 'n' && d.literal("null") {
			return nil
		}
		switch key {
		case "key", "value":
			start := d.i
			if err := d.skip(fat); err != nil {
				return err
			}
			if key == "key" {
				r.key = d.b[start:d.i:d.i]
			} else {
				r.value = d.b[start:d.i:d.i]
			}
			return nil
		case "partition":
			p, err := d.int32Field(fat)
			r.partition, r.partitionSet = p, true
			return err
		default:
			return d.fail(at, "has an unknown field %q (known: key, value, partition)", key)
		}
	})
	return r, err
}

// Errors of the stream splitter.
var (
	errNotObject   = errors.New("a record must be a JSON object")
	errObjectLarge = errors.New("record too large")
	errEndsEarly   = errors.New("the stream ends inside a record")
	errBrackets    = errors.New("a record's brackets do not match")
	errTooDeep     = errors.New("a record nests too deeply")
)

// maxSplitDepth bounds the nesting the splitter follows (the strict
// decode of a value allows less).
const maxSplitDepth = 512

// objectSplitter cuts a stream of concatenated JSON objects (REST Proxy
// v3's streamed produce) into one byte slice per object. It only finds
// where an object ends (brackets outside strings); the strict decode
// follows. No object may be longer than max bytes.
type objectSplitter struct {
	r   io.Reader
	max int
	buf []byte // read, not yet returned
	eof bool
	err error
}

// next returns the next object, io.EOF at a clean end of the stream,
// errNotObject, errObjectLarge, errEndsEarly, or the reader's error.
func (s *objectSplitter) next() ([]byte, error) {
	// Skip whitespace between objects.
	for {
		i := 0
		for i < len(s.buf) && isSpace(s.buf[i]) {
			i++
		}
		s.buf = s.buf[i:]
		if len(s.buf) > 0 {
			break
		}
		if err := s.fill(); err != nil {
			return nil, err
		}
	}
	if s.buf[0] != '{' {
		return nil, errNotObject
	}
	var open []byte // the brackets open, innermost last
	inStr, esc := false, false
	for i := 0; ; i++ {
		for i >= len(s.buf) {
			if err := s.fill(); err != nil {
				if err == io.EOF {
					return nil, errEndsEarly
				}
				return nil, err
			}
		}
		c := s.buf[i]
		switch {
		case inStr:
			switch {
			case esc:
				esc = false
			case c == '\\':
				esc = true
			case c == '"':
				inStr = false
			}
		case c == '"':
			inStr = true
		case c == '{' || c == '[':
			if len(open) == maxSplitDepth {
				return nil, errTooDeep
			}
			open = append(open, c)
		case c == '}' || c == ']':
			if (c == '}') != (open[len(open)-1] == '{') {
				return nil, errBrackets
			}
			open = open[:len(open)-1]
			if len(open) == 0 {
				if i+1 > s.max {
					return nil, errObjectLarge
				}
				obj := bytes.Clone(s.buf[:i+1])
				s.buf = s.buf[i+1:]
				return obj, nil
			}
		}
	}
}

// fill reads more of the stream; io.EOF when there is no more.
func (s *objectSplitter) fill() error {
	if s.err != nil {
		return s.err
	}
	if s.eof {
		return io.EOF
	}
	// Only the current object is ever unread past its start: more than
	// max bytes of it is a record too large. The buffer stays under
	// max+4 KiB.
	if len(s.buf) > s.max {
		return errObjectLarge
	}
	if cap(s.buf)-len(s.buf) < 4096 {
		nb := make([]byte, len(s.buf), min(max(2*cap(s.buf), 32<<10), s.max+4096))
		copy(nb, s.buf)
		s.buf = nb
	}
	n, err := s.r.Read(s.buf[len(s.buf):cap(s.buf)])
	s.buf = s.buf[:len(s.buf)+n]
	if err == io.EOF {
		s.eof = true
		if n > 0 {
			return nil
		}
		return io.EOF
	}
	if err != nil {
		s.err = fmt.Errorf("read the request body: %w", err)
		if n > 0 {
			return nil
		}
		return s.err
	}
	return nil
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\r' || c == '\n' }
