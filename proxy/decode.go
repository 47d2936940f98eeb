package proxy

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/eventguard/eventguard/internal/jsonvalue"
	"github.com/eventguard/eventguard/internal/quote"
	"github.com/eventguard/eventguard/produce"
)

// decodeRequest parses a produce request body in one pass without
// reflection. Each record's value is decoded strictly where it stands
// (jsonvalue.Doc.ParseIn, into Record.Doc, for the pipeline to validate)
// and kept as the raw bytes sent (a sub-slice of body); a value that is not
// strict JSON is only delimited here, and the pipeline reports it for that
// record alone. Envelope mistakes (unknown or duplicate fields, wrong types)
// are reported with their path and byte offset; the message is "" on
// success.
func decodeRequest(body []byte) (*produce.Request, string) {
	// One copy of the body that the decoded values' strings share (the
	// body itself goes back to a pool).
	d := &reqDecoder{b: body, s: string(body)}
	req, err := d.request()
	if err != nil {
		return nil, "request body is not a valid produce request: " + err.Error()
	}
	return req, ""
}

type reqDecoder struct {
	b []byte
	s string // string(b)
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

func (d *reqDecoder) fail(at where, format string, args ...any) error {
	msg := fmt.Sprintf(format, args...)
	if d.i >= len(d.b) && !strings.HasPrefix(msg, "ends early") {
		msg = "ends early: " + msg
	}
	return &decodeError{path: at.String(), msg: msg, off: d.i}
}

// where names a place in the request for an error message. It is a value
// rendered only when there is an error, so that decoding a record costs
// no path string.
type where struct {
	rec   int    // the record's index; -1 outside the records
	field string // a field of the record, or of the request when rec is -1
	sub   string // a header name
}

// root is the request itself.
var root = where{rec: -1}

// field returns w's field name.
func (w where) in(field string) where { w.field = field; return w }

func (w where) String() string {
	s := w.field
	if w.rec >= 0 {
		s = "records[" + strconv.Itoa(w.rec) + "]"
		if w.field != "" {
			s += "." + w.field
		}
	}
	if w.sub != "" {
		s += "." + w.sub
	}
	return s
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

func (d *reqDecoder) expect(c byte, at where, what string) error {
	if d.peek() != c {
		if d.i >= len(d.b) {
			return d.fail(at, "ends early: expected %s", what)
		}
		return d.fail(at, "expected %s, found %q", what, d.b[d.i])
	}
	d.i++
	return nil
}

func (d *reqDecoder) request() (*produce.Request, error) {
	if d.peek() == 0 {
		return nil, d.fail(root, "the body is empty")
	}
	req := &produce.Request{}
	seenRecords, seenPartial := false, false
	err := d.object(root, "the request must be a JSON object", func(key []byte) error {
		switch string(key) {
		case "records":
			if seenRecords {
				return d.fail(root, `has "records" twice`)
			}
			seenRecords = true
			return d.records(req)
		case "partial":
			if seenPartial {
				return d.fail(root, `has "partial" twice`)
			}
			seenPartial = true
			b, err := d.boolean(root.in("partial"))
			req.Partial = b
			return err
		default:
			return d.fail(root, "has an unknown field %s (known: records, partial)", quote.String(string(key)))
		}
	})
	if err != nil {
		return nil, err
	}
	if d.peek() != 0 {
		return nil, d.fail(root, "has data after the JSON object")
	}
	if !seenRecords || req.Records == nil {
		return nil, d.fail(root, `has no "records" array`)
	}
	return req, nil
}

// object parses {"key": value, ...}, calling field with the cursor on each
// value.
func (d *reqDecoder) object(at where, notObject string, field func(key []byte) error) error {
	if d.peek() != '{' {
		if d.i >= len(d.b) {
			return d.fail(at, "ends early: %s", notObject)
		}
		return d.fail(at, "%s", notObject)
	}
	d.i++
	if d.peek() == '}' {
		d.i++
		return nil
	}
	for {
		if d.peek() != '"' {
			return d.fail(at, "expected a field name in quotes")
		}
		key, err := d.rawStr(at)
		if err != nil {
			return err
		}
		if err := d.expect(':', at, "':' after a field name"); err != nil {
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
			return d.fail(at, "expected ',' or '}' in an object")
		}
	}
}

func (d *reqDecoder) records(req *produce.Request) error {
	if d.peek() == 'n' && d.literal("null") {
		return nil
	}
	if d.peek() != '[' {
		return d.fail(root.in("records"), "must be an array of records")
	}
	req.Records = make([]produce.Record, 0, 16)
	return d.array(root.in("records"), "between records", func(i int) error {
		req.Records = append(req.Records, produce.Record{})
		return d.record(&req.Records[i], i)
	})
}

// array parses [elem, ...] with the cursor on '[', calling elem with the
// cursor on each element.
func (d *reqDecoder) array(at where, between string, elem func(i int) error) error {
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
			return d.fail(at, "expected ',' or ']' %s", between)
		}
	}
}

// recordFields are the fields of a record, in the order of their bits in
// record's seen set.
var recordFields = [...]string{"key", "value", "headers", "id", "type", "schema_id", "schema_version"}

// record parses one record. It is the hot loop of a batch, written without
// callbacks so that a record costs no allocation of its own beyond the
// copies of its key, header values and id.
func (d *reqDecoder) record(rec *produce.Record, idx int) error {
	at := where{rec: idx}
	if d.peek() != '{' {
		return d.fail(at, "must be an object")
	}
	d.i++
	var seen uint8
	if d.peek() == '}' {
		d.i++
		return d.fail(at.in("value"), "is missing")
	}
	for {
		if d.peek() != '"' {
			return d.fail(at, "expected a field name in quotes")
		}
		k, err := d.rawStr(at)
		if err != nil {
			return err
		}
		if err := d.expect(':', at, "':' after a field name"); err != nil {
			return err
		}
		d.ws()
		f := -1
		for n, name := range recordFields {
			if string(k) == name {
				f = n
				break
			}
		}
		if f < 0 {
			return d.fail(at, "has an unknown field %s (known: key, value, headers, id, type, schema_id, schema_version)", quote.String(string(k)))
		}
		if seen&(1<<f) != 0 {
			return d.fail(at, "has %q twice", recordFields[f])
		}
		seen |= 1 << f
		fat := at.in(recordFields[f])
		switch f {
		case 0: // key
			if d.peek() == 'n' && d.literal("null") {
				break
			}
			if d.peek() != '"' {
				return d.fail(fat, "must be a string")
			}
			if rec.Key, err = d.rawStr(fat); err != nil {
				return err
			}
			rec.Key = bytes.Clone(rec.Key) // never a sub-slice of the (pooled) body
		case 1: // value
			d.ws()
			start := d.i
			doc := jsonvalue.GetDoc()
			if end, perr := doc.ParseIn(d.s, d.b, start, jsonvalue.Limits{}); perr == nil {
				rec.Value, rec.Doc = d.b[start:end:end], doc
				d.i = end
				break
			}
			jsonvalue.PutDoc(doc)
			if err := d.skip(fat); err != nil {
				return err
			}
			rec.Value = d.b[start:d.i:d.i]
		case 2:
			err = d.headers(rec, fat)
		case 3:
			rec.ID, err = d.stringField(fat)
		case 4:
			rec.Type, err = d.stringField(fat)
		case 5:
			rec.SchemaID, err = d.count(fat)
		case 6:
			rec.SchemaVersion, err = d.count(fat)
		}
		if err != nil {
			return err
		}
		switch d.peek() {
		case ',':
			d.i++
			continue
		case '}':
			d.i++
		default:
			return d.fail(at, "expected ',' or '}' in an object")
		}
		break
	}
	if seen&2 == 0 {
		return d.fail(at.in("value"), "is missing")
	}
	return nil
}

func (d *reqDecoder) headers(rec *produce.Record, at where) error {
	if d.peek() == 'n' && d.literal("null") {
		return nil
	}
	err := d.object(at, "must be an object of string values", func(k []byte) error {
		key := string(k)
		if key == "" {
			return d.fail(at, "has an empty header name")
		}
		for _, h := range rec.Headers {
			if h.Key == key {
				return d.fail(at, "has header %s twice", quote.String(key))
			}
		}
		hat := at
		hat.sub = key
		if d.peek() != '"' {
			return d.fail(hat, "must be a string")
		}
		v, err := d.rawStr(hat)
		if err != nil {
			return err
		}
		rec.Headers = append(rec.Headers, produce.Header{Key: key, Value: bytes.Clone(v)})
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

func (d *reqDecoder) boolean(at where) (bool, error) {
	switch {
	case d.literal("true"):
		return true, nil
	case d.literal("false"):
		return false, nil
	}
	return false, d.fail(at, "must be true or false")
}

func (d *reqDecoder) stringField(at where) (string, error) {
	if d.peek() != '"' {
		return "", d.fail(at, "must be a string")
	}
	return d.str(at)
}

// count parses a positive integer that fits an int32: a schema id or
// version. 0 (or -0) is refused, not taken as "not pinned": a client that
// sends it explicitly has a bug (an unset variable), and pinning nothing
// would quietly produce against the latest version.
func (d *reqDecoder) count(at where) (int, error) {
	start := d.i
	for d.i < len(d.b) && (d.b[d.i] >= '0' && d.b[d.i] <= '9' || d.b[d.i] == '-') {
		d.i++
	}
	lit := string(d.b[start:d.i])
	if d.i < len(d.b) && (d.b[d.i] == '.' || d.b[d.i] == 'e' || d.b[d.i] == 'E') {
		d.i = start
		return 0, d.fail(at, "must be a whole number")
	}
	n, err := strconv.ParseInt(lit, 10, 32)
	if err != nil || (len(lit) > 1 && lit[0] == '0') {
		d.i = start
		if lit == "" {
			return 0, d.fail(at, "must be a number")
		}
		return 0, d.fail(at, "must be a whole number up to 2147483647, got %s", quote.Cut(lit, quote.MaxBytes))
	}
	if n < 0 {
		d.i = start
		return 0, d.fail(at, "must be positive")
	}
	if n == 0 {
		d.i = start
		return 0, d.fail(at, "must be 1 or more, got %s (leave the field out for the subject's latest version)", lit)
	}
	return int(n), nil
}

// rawStr reads a JSON string at the cursor (on the opening quote) and
// returns its content: a sub-slice of the body when it has no escapes (no
// allocation), else the unescaped bytes.
func (d *reqDecoder) rawStr(at where) ([]byte, error) {
	start := d.i
	d.i++
	for d.i < len(d.b) {
		switch c := d.b[d.i]; {
		case c == '"':
			d.i++
			if b := d.b[start+1 : d.i-1]; utf8.Valid(b) {
				return b, nil
			}
			d.i = start
			return nil, d.fail(at, "is not valid UTF-8")
		case c == '\\':
			d.i = start
			s, err := d.str(at)
			return []byte(s), err
		case c < 0x20:
			return nil, d.fail(at, "has a raw control character in a string")
		default:
			d.i++
		}
	}
	d.i = start
	return nil, d.fail(at, "has an unterminated string")
}

// str reads a JSON string at the cursor (which is on the opening quote).
func (d *reqDecoder) str(at where) (string, error) {
	start := d.i
	d.i++
	escaped := false
	for d.i < len(d.b) {
		c := d.b[d.i]
		switch {
		case c == '"':
			d.i++
			if !escaped {
				if b := d.b[start+1 : d.i-1]; utf8.Valid(b) {
					return string(b), nil
				}
				d.i = start
				return "", d.fail(at, "is not valid UTF-8")
			}
			v, err := jsonvalue.Parse(d.b[start:d.i], jsonvalue.Limits{})
			if err != nil {
				d.i = start
				return "", d.fail(at, "is not a valid JSON string: %v", err)
			}
			return v.(string), nil
		case c == '\\':
			escaped = true
			d.i += 2
		case c < 0x20:
			return "", d.fail(at, "has a raw control character in a string")
		default:
			d.i++
		}
	}
	d.i = start
	return "", d.fail(at, "has an unterminated string")
}

// skip moves the cursor past the JSON value at it. It checks only the
// structure that finding the value's end needs: brackets that match, strings
// that end, a non-empty scalar. Everything else (a missing colon, a bad
// number, invalid UTF-8...) is left to the strict parse in the pipeline,
// which reports it for this record alone, with its JSON pointer.
func (d *reqDecoder) skip(at where) error {
	b := d.b
	d.ws()
	start := d.i
	if start >= len(b) {
		return d.fail(at, "ends early: expected a value")
	}
	switch b[start] {
	case '"':
		end, ok := skipString(b, start+1)
		if !ok {
			return d.fail(at, "has an unterminated string")
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
			return d.fail(at, "expected a value")
		}
		d.i = i
		return nil
	}
	// A container: match brackets, skipping strings, at any depth: a value
	// nested too deeply is refused by the strict parse in the pipeline
	// (malformed_json, too_deep) for its record alone. open holds one bit
	// per level, set for '{': on the stack for 256 levels, grown beyond
	// (by one word per 64 levels; the body limit bounds it).
	var stack [4]uint64
	open := stack[:]
	depth := 0
	for i := start; i < len(b); {
		switch c := b[i]; c {
		case '"':
			end, ok := skipString(b, i+1)
			if !ok {
				d.i = i
				return d.fail(at, "has an unterminated string")
			}
			i = end
		case '{', '[':
			if depth/64 == len(open) {
				open = append(open, 0)
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
				return d.fail(at, "has %q where a bracket of the other kind is open", c)
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
	return d.fail(at, "ends early: expected the end of the value")
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
