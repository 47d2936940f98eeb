package proxy

import (
	"encoding/binary"
	"fmt"
	"strconv"
	"strings"

	"github.com/eventguard/eventguard/internal/jsonvalue"
	"github.com/eventguard/eventguard/produce"
)

// decodeRequest parses a produce request body in one pass without
// reflection. Each record's value is kept as the raw bytes sent (a sub-slice
// of body, never copied here); it is parsed strictly, once, by the pipeline.
// Envelope mistakes (unknown or duplicate fields, wrong types) are reported
// with their path and byte offset; the message is "" on success.
func decodeRequest(body []byte) (*produce.Request, string) {
	d := &reqDecoder{b: body}
	req, err := d.request()
	if err != nil {
		return nil, "request body is not a valid produce request: " + err.Error()
	}
	return req, ""
}

type reqDecoder struct {
	b []byte
	i int
}

type decodeError struct {
	path, msg string
	off       int
}

func (e *decodeError) Error() string {
	if e.path == "" {
		return fmt.Sprintf("%s (at byte %d)", e.msg, e.off)
	}
	return fmt.Sprintf("%s %s (at byte %d)", e.path, e.msg, e.off)
}

func (d *reqDecoder) fail(path, format string, args ...any) error {
	msg := fmt.Sprintf(format, args...)
	if d.i >= len(d.b) && !strings.HasPrefix(msg, "ends early") {
		msg = "ends early: " + msg
	}
	return &decodeError{path: path, msg: msg, off: d.i}
}

func (d *reqDecoder) ws() {
	for d.i < len(d.b) {
		switch d.b[d.i] {
		case ' ', '\t', '\r', '\n':
			d.i++
		default:
			return
		}
	}
}

// peek skips whitespace and returns the next byte (0 at the end).
func (d *reqDecoder) peek() byte {
	d.ws()
	if d.i >= len(d.b) {
		return 0
	}
	return d.b[d.i]
}

func (d *reqDecoder) expect(c byte, path, what string) error {
	if d.peek() != c {
		if d.i >= len(d.b) {
			return d.fail(path, "ends early: expected %s", what)
		}
		return d.fail(path, "expected %s, found %q", what, d.b[d.i])
	}
	d.i++
	return nil
}

func (d *reqDecoder) request() (*produce.Request, error) {
	if d.peek() == 0 {
		return nil, d.fail("", "the body is empty")
	}
	req := &produce.Request{}
	seenRecords, seenPartial := false, false
	err := d.object("", "the request must be a JSON object", func(key []byte) error {
		switch string(key) {
		case "records":
			if seenRecords {
				return d.fail("", `has "records" twice`)
			}
			seenRecords = true
			return d.records(req)
		case "partial":
			if seenPartial {
				return d.fail("", `has "partial" twice`)
			}
			seenPartial = true
			b, err := d.boolean("partial")
			req.Partial = b
			return err
		default:
			return d.fail("", "has an unknown field %q (known: records, partial)", key)
		}
	})
	if err != nil {
		return nil, err
	}
	if d.peek() != 0 {
		return nil, d.fail("", "has data after the JSON object")
	}
	if !seenRecords || req.Records == nil {
		return nil, d.fail("", `has no "records" array`)
	}
	return req, nil
}

// object parses {"key": value, ...}, calling field with the cursor on each
// value.
func (d *reqDecoder) object(path, notObject string, field func(key []byte) error) error {
	if d.peek() != '{' {
		if d.i >= len(d.b) {
			return d.fail(path, "ends early: %s", notObject)
		}
		return d.fail(path, "%s", notObject)
	}
	d.i++
	if d.peek() == '}' {
		d.i++
		return nil
	}
	for {
		if d.peek() != '"' {
			return d.fail(path, "expected a field name in quotes")
		}
		key, err := d.rawStr(path)
		if err != nil {
			return err
		}
		if err := d.expect(':', path, "':' after a field name"); err != nil {
			return err
		}
		d.ws()
		if err := field(key); err != nil {
			return err
		}
		switch d.peek() {
		case ',':
			d.i++
		case '}':
			d.i++
			return nil
		default:
			return d.fail(path, "expected ',' or '}' in an object")
		}
	}
}

func (d *reqDecoder) records(req *produce.Request) error {
	if d.peek() == 'n' && d.literal("null") {
		return nil
	}
	if d.peek() != '[' {
		return d.fail("records", "must be an array of records")
	}
	req.Records = make([]produce.Record, 0, 16)
	return d.array("records", "between records", func(i int) error {
		req.Records = append(req.Records, produce.Record{})
		return d.record(&req.Records[i], i)
	})
}

// array parses [elem, ...] with the cursor on '[', calling elem with the
// cursor on each element.
func (d *reqDecoder) array(path, where string, elem func(i int) error) error {
	d.i++
	if d.peek() == ']' {
		d.i++
		return nil
	}
	for i := 0; ; i++ {
		if err := elem(i); err != nil {
			return err
		}
		switch d.peek() {
		case ',':
			d.i++
		case ']':
			d.i++
			return nil
		default:
			return d.fail(path, "expected ',' or ']' %s", where)
		}
	}
}

func (d *reqDecoder) record(rec *produce.Record, idx int) error {
	path := "records[" + strconv.Itoa(idx) + "]"
	var seen uint8
	once := func(bit uint8, key string) error {
		if seen&bit != 0 {
			return d.fail(path, "has %q twice", key)
		}
		seen |= bit
		return nil
	}
	err := d.object(path, "must be an object", func(k []byte) error {
		var err error
		key := ""
		switch string(k) {
		case "key":
			key = "key"
			if err = once(1, key); err == nil {
				if d.peek() == 'n' && d.literal("null") {
					return nil
				}
				var s string
				s, err = d.stringField(path + ".key")
				rec.Key = []byte(s)
			}
		case "value":
			key = "value"
			if err = once(2, key); err == nil {
				start := d.i
				if err = d.skip(path + ".value"); err == nil {
					rec.Value = d.b[start:d.i:d.i]
				}
			}
		case "headers":
			key = "headers"
			if err = once(4, key); err == nil {
				err = d.headers(rec, path+".headers")
			}
		case "id":
			key = "id"
			if err = once(8, key); err == nil {
				rec.ID, err = d.stringField(path + ".id")
			}
		case "type":
			key = "type"
			if err = once(16, key); err == nil {
				rec.Type, err = d.stringField(path + ".type")
			}
		case "schema_id":
			key = "schema_id"
			if err = once(32, key); err == nil {
				rec.SchemaID, err = d.count(path + ".schema_id")
			}
		case "schema_version":
			key = "schema_version"
			if err = once(64, key); err == nil {
				rec.SchemaVersion, err = d.count(path + ".schema_version")
			}
		default:
			err = d.fail(path, "has an unknown field %q (known: key, value, headers, id, type, schema_id, schema_version)", k)
		}
		return err
	})
	if err != nil {
		return err
	}
	if seen&2 == 0 {
		return d.fail(path+".value", "is missing")
	}
	return nil
}

func (d *reqDecoder) headers(rec *produce.Record, path string) error {
	if d.peek() == 'n' && d.literal("null") {
		return nil
	}
	err := d.object(path, "must be an object of string values", func(k []byte) error {
		key := string(k)
		if key == "" {
			return d.fail(path, "has an empty header name")
		}
		for _, h := range rec.Headers {
			if h.Key == key {
				return d.fail(path, "has header %q twice", key)
			}
		}
		v, err := d.stringField(path + "." + key)
		if err != nil {
			return err
		}
		rec.Headers = append(rec.Headers, produce.Header{Key: key, Value: []byte(v)})
		return nil
	})
	if err != nil {
		return err
	}
	sortHeaders(rec.Headers)
	return nil
}

func (d *reqDecoder) literal(lit string) bool {
	if len(d.b)-d.i >= len(lit) && string(d.b[d.i:d.i+len(lit)]) == lit {
		d.i += len(lit)
		return true
	}
	return false
}

func (d *reqDecoder) boolean(path string) (bool, error) {
	switch {
	case d.literal("true"):
		return true, nil
	case d.literal("false"):
		return false, nil
	}
	return false, d.fail(path, "must be true or false")
}

func (d *reqDecoder) stringField(path string) (string, error) {
	if d.peek() != '"' {
		return "", d.fail(path, "must be a string")
	}
	return d.str(path)
}

// count parses a non-negative integer that fits an int32.
func (d *reqDecoder) count(path string) (int, error) {
	start := d.i
	for d.i < len(d.b) && (d.b[d.i] >= '0' && d.b[d.i] <= '9' || d.b[d.i] == '-') {
		d.i++
	}
	lit := string(d.b[start:d.i])
	if d.i < len(d.b) && (d.b[d.i] == '.' || d.b[d.i] == 'e' || d.b[d.i] == 'E') {
		d.i = start
		return 0, d.fail(path, "must be a whole number")
	}
	n, err := strconv.ParseInt(lit, 10, 32)
	if err != nil || (len(lit) > 1 && lit[0] == '0') {
		d.i = start
		if lit == "" {
			return 0, d.fail(path, "must be a number")
		}
		return 0, d.fail(path, "must be a whole number up to 2147483647, got %s", lit)
	}
	if n < 0 {
		d.i = start
		return 0, d.fail(path, "must be positive")
	}
	return int(n), nil
}

// rawStr reads a JSON string at the cursor (on the opening quote) and
// returns its content: a sub-slice of the body when it has no escapes (no
// allocation), else the unescaped bytes.
func (d *reqDecoder) rawStr(path string) ([]byte, error) {
	start := d.i
	d.i++
	for d.i < len(d.b) {
		switch c := d.b[d.i]; {
		case c == '"':
			d.i++
			return d.b[start+1 : d.i-1], nil
		case c == '\\':
			d.i = start
			s, err := d.str(path)
			return []byte(s), err
		case c < 0x20:
			return nil, d.fail(path, "has a raw control character in a string")
		default:
			d.i++
		}
	}
	d.i = start
	return nil, d.fail(path, "has an unterminated string")
}

// str reads a JSON string at the cursor (which is on the opening quote).
func (d *reqDecoder) str(path string) (string, error) {
	start := d.i
	d.i++
	escaped := false
	for d.i < len(d.b) {
		c := d.b[d.i]
		switch {
		case c == '"':
			d.i++
			if !escaped {
				return string(d.b[start+1 : d.i-1]), nil
			}
			v, err := jsonvalue.Parse(d.b[start:d.i], jsonvalue.Limits{})
			if err != nil {
				d.i = start
				return "", d.fail(path, "is not a valid JSON string: %v", err)
			}
			return v.(string), nil
		case c == '\\':
			escaped = true
			d.i += 2
		case c < 0x20:
			return "", d.fail(path, "has a raw control character in a string")
		default:
			d.i++
		}
	}
	d.i = start
	return "", d.fail(path, "has an unterminated string")
}

// maxValueDepth is how deeply a record's value may nest for the skip; the
// strict parse that follows has its own limit.
const maxValueDepth = 256

// skip moves the cursor past the JSON value at it. It checks only the
// structure that finding the value's end needs: brackets that match, strings
// that end, a non-empty scalar. Everything else (a missing colon, a bad
// number, invalid UTF-8...) is left to the strict parse in the pipeline,
// which reports it for this record alone, with its JSON pointer.
func (d *reqDecoder) skip(path string) error {
	b := d.b
	d.ws()
	start := d.i
	if start >= len(b) {
		return d.fail(path, "ends early: expected a value")
	}
	switch b[start] {
	case '"':
		end, ok := skipString(b, start+1)
		if !ok {
			return d.fail(path, "has an unterminated string")
		}
		d.i = end
		return nil
	case '{', '[':
	default:
		// A number or a literal: everything up to a delimiter.
		i := start
		for i < len(b) && !isDelim(b[i]) {
			i++
		}
		if i == start {
			return d.fail(path, "expected a value")
		}
		d.i = i
		return nil
	}
	// A container: match brackets, skipping strings. open holds one bit
	// per level, set for '{'.
	var open [maxValueDepth / 64]uint64
	depth := 0
	for i := start; i < len(b); {
		switch c := b[i]; c {
		case '"':
			end, ok := skipString(b, i+1)
			if !ok {
				d.i = i
				return d.fail(path, "has an unterminated string")
			}
			i = end
		case '{', '[':
			if depth == maxValueDepth {
				d.i = i
				return d.fail(path, "nests deeper than %d", maxValueDepth)
			}
			if c == '{' {
				open[depth/64] |= 1 << (depth % 64)
			} else {
				open[depth/64] &^= 1 << (depth % 64)
			}
			depth++
			i++
		case '}', ']':
			depth--
			if isObj := open[depth/64]&(1<<(depth%64)) != 0; isObj != (c == '}') {
				d.i = i
				return d.fail(path, "has %q where a bracket of the other kind is open", c)
			}
			i++
			if depth == 0 {
				d.i = i
				return nil
			}
		default:
			i++
		}
	}
	d.i = len(b)
	return d.fail(path, "ends early: expected the end of the value")
}

// isDelim reports whether c ends a number or literal.
func isDelim(c byte) bool {
	switch c {
	case ',', '}', ']', ' ', '\t', '\r', '\n':
		return true
	}
	return false
}

// skipString returns the index just past the closing quote of the string
// whose contents start at b[i], eight bytes at a time while they hold no
// quote or backslash.
func skipString(b []byte, i int) (int, bool) {
	const lsb, msb = 0x0101010101010101, 0x8080808080808080
	for {
		for i+8 <= len(b) {
			x := binary.LittleEndian.Uint64(b[i:])
			q, bs := x^'"'*lsb, x^'\\'*lsb
			if ((q-lsb)&^q|(bs-lsb)&^bs)&msb != 0 {
				break // a quote or a backslash in these eight
			}
			i += 8
		}
		if i >= len(b) {
			return 0, false
		}
		switch b[i] {
		case '"':
			return i + 1, true
		case '\\':
			i += 2
		default:
			i++
		}
	}
}
