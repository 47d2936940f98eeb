package avro

import (
	"encoding/binary"
	"fmt"
	"math"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/eventguard/eventguard/internal/jsonvalue"
)

// Violation keywords: what a JSON value broke. They appear in failures
// (validate.Violation.Keyword) and never change silently.
const (
	// KeywordType: the JSON value is of the wrong kind for its Avro type.
	KeywordType = "type"
	// KeywordRequired: a record field without a default is missing.
	KeywordRequired = "required"
	// KeywordUnknownField: a member names no field of the record.
	KeywordUnknownField = "unknown_field"
	// KeywordDuplicateField: a field is given twice (by name and by alias).
	KeywordDuplicateField = "duplicate_field"
	// KeywordEnum: a string is not a symbol of the enum.
	KeywordEnum = "enum"
	// KeywordUnion: the value matches none of the union's branches.
	KeywordUnion = "union"
	// KeywordUnionAmbiguous: the plain form matches more than one branch;
	// the value must be wrapped ({"branch name": value}).
	KeywordUnionAmbiguous = "union_ambiguous"
	// KeywordFixedSize: a fixed value has the wrong number of bytes.
	KeywordFixedSize = "fixed_size"
	// KeywordBytes: a bytes or fixed string holds a code point above U+00FF.
	KeywordBytes = "bytes"
	// KeywordRange: a number is out of its type's range, or not an integer
	// where an int or long is expected.
	KeywordRange = "range"
	// KeywordDecimal: a decimal has more digits than its precision, more
	// fractional digits than its scale, or is not a decimal number.
	KeywordDecimal = "decimal"
	// KeywordUUID: a uuid string is not in the 8-4-4-4-12 hex form.
	KeywordUUID = "uuid"
	// KeywordDate, KeywordTime, KeywordTimestamp: a date, time of day or
	// timestamp that does not parse, is out of range, or is more precise
	// than its type.
	KeywordDate      = "date"
	KeywordTime      = "time"
	KeywordTimestamp = "timestamp"
)

// MaxViolations bounds the violations Encode reports for one value.
const MaxViolations = 100

// Violation is one reason a JSON value does not fit the schema.
type Violation struct {
	// Path is the RFC 6901 JSON pointer of the value in the JSON given;
	// for a missing field, the field that should be there.
	Path    string
	Keyword string
	Message string
}

// step is one step of the path being walked: a member name or an index.
type step struct {
	key   string
	index int
	isKey bool
}

type encoder struct {
	doc  *jsonvalue.Doc
	buf  []byte
	path []step
	viol []Violation
	// at holds, per record being encoded, the doc index of each field's
	// value (0: absent), addressed from an offset: nested records append.
	at []int32
}

var encoderPool = sync.Pool{New: func() any { return new(encoder) }}

// Encode checks the JSON value doc (its root) against the schema and
// appends its Avro binary encoding to dst. Every violation found is
// returned (at most MaxViolations), sorted by path; when there is one, what
// was appended to dst is meaningless and dst should be dropped. Missing
// fields that have defaults get them.
func (s *Schema) Encode(dst []byte, doc *jsonvalue.Doc) ([]byte, []Violation) {
	e := encoderPool.Get().(*encoder)
	e.doc, e.buf, e.path, e.viol, e.at = doc, dst, e.path[:0], nil, e.at[:0]
	if len(doc.Nodes) == 0 {
		e.fail(KeywordType, "no value")
	} else {
		e.value(s.root, 0)
	}
	out, viol := e.buf, e.viol
	e.doc, e.buf, e.viol = nil, nil, nil
	if cap(e.at) <= 4096 && cap(e.path) <= 256 {
		encoderPool.Put(e)
	}
	if len(viol) > 0 {
		sortViolations(viol)
	}
	return out, viol
}

func sortViolations(v []Violation) {
	// Insertion sort, stable: few violations, and no sort package closure.
	for i := 1; i < len(v); i++ {
		for j := i; j > 0 && v[j].Path < v[j-1].Path; j-- {
			v[j], v[j-1] = v[j-1], v[j]
		}
	}
}

// pointer renders the current path as a JSON pointer.
func (e *encoder) pointer() string {
	if len(e.path) == 0 {
		return ""
	}
	var b strings.Builder
	for _, st := range e.path {
		b.WriteByte('/')
		if !st.isKey {
			b.WriteString(strconv.Itoa(st.index))
			continue
		}
		if strings.ContainsAny(st.key, "~/") {
			b.WriteString(strings.NewReplacer("~", "~0", "/", "~1").Replace(st.key))
		} else {
			b.WriteString(st.key)
		}
	}
	return b.String()
}

func (e *encoder) fail(keyword, format string, args ...any) {
	if len(e.viol) >= MaxViolations {
		return
	}
	msg := format
	if len(args) > 0 {
		msg = fmt.Sprintf(format, args...)
	}
	e.viol = append(e.viol, Violation{Path: e.pointer(), Keyword: keyword, Message: msg})
}

func kindName(k jsonvalue.Kind) string {
	switch k {
	case jsonvalue.KindNull:
		return "null"
	case jsonvalue.KindFalse, jsonvalue.KindTrue:
		return "boolean"
	case jsonvalue.KindNumber:
		return "number"
	case jsonvalue.KindString:
		return "string"
	case jsonvalue.KindArray:
		return "array"
	}
	return "object"
}

func kindBit(k jsonvalue.Kind) jsonKinds {
	switch k {
	case jsonvalue.KindNull:
		return jNull
	case jsonvalue.KindFalse, jsonvalue.KindTrue:
		return jBool
	case jsonvalue.KindNumber:
		return jNumber
	case jsonvalue.KindString:
		return jString
	case jsonvalue.KindArray:
		return jArray
	}
	return jObject
}

// typeName names n for messages: its logical type, else its name.
func typeName(n *node) string {
	switch n.logical {
	case lDecimal:
		return fmt.Sprintf("decimal(%d,%d)", n.precision, n.scale)
	case lUUID:
		return "uuid"
	case lDate:
		return "date"
	case lTimeMillis:
		return "time-millis"
	case lTimeMicros:
		return "time-micros"
	case lTimestampMillis:
		return "timestamp-millis"
	case lTimestampMicros:
		return "timestamp-micros"
	case lLocalTimestampMillis:
		return "local-timestamp-millis"
	case lLocalTimestampMicros:
		return "local-timestamp-micros"
	}
	switch n.kind {
	case kRecord:
		return "record " + n.name
	case kEnum:
		return "enum " + n.name
	case kFixed:
		return fmt.Sprintf("fixed %s (%d bytes)", n.name, n.size)
	}
	return n.name
}

func (e *encoder) wrongType(n *node, k jsonvalue.Kind) {
	e.fail(KeywordType, "got %s, want %s", kindName(k), typeName(n))
}

// value encodes doc node i against n.
func (e *encoder) value(n *node, i int) {
	v := &e.doc.Nodes[i]
	switch n.kind {
	case kNull:
		if v.Kind != jsonvalue.KindNull {
			e.wrongType(n, v.Kind)
		}
	case kBoolean:
		switch v.Kind {
		case jsonvalue.KindTrue:
			e.buf = append(e.buf, 1)
		case jsonvalue.KindFalse:
			e.buf = append(e.buf, 0)
		default:
			e.wrongType(n, v.Kind)
		}
	case kInt, kLong:
		e.integer(n, v)
	case kFloat, kDouble:
		e.float(n, v)
	case kString:
		if v.Kind != jsonvalue.KindString {
			e.wrongType(n, v.Kind)
			return
		}
		if n.logical == lUUID && !isUUID(v.Str) {
			e.fail(KeywordUUID, "%q is not a UUID (8-4-4-4-12 hexadecimal digits)", v.Str)
			return
		}
		e.buf = appendStringBytes(e.buf, v.Str)
	case kBytes:
		if n.logical == lDecimal {
			e.decimal(n, v)
			return
		}
		if v.Kind != jsonvalue.KindString {
			e.wrongType(n, v.Kind)
			return
		}
		e.codePoints(n, v.Str)
	case kFixed:
		if n.logical == lDecimal {
			e.decimal(n, v)
			return
		}
		if v.Kind != jsonvalue.KindString {
			e.wrongType(n, v.Kind)
			return
		}
		e.codePoints(n, v.Str)
	case kEnum:
		if v.Kind != jsonvalue.KindString {
			e.wrongType(n, v.Kind)
			return
		}
		k, ok := n.byName[v.Str]
		if !ok {
			e.fail(KeywordEnum, "%q is not a symbol of enum %s (%s)", v.Str, n.name, symbolList(n.symbols))
			return
		}
		e.buf = appendLong(e.buf, int64(k))
	case kArray:
		if v.Kind != jsonvalue.KindArray {
			e.wrongType(n, v.Kind)
			return
		}
		if v.Len > 0 {
			e.buf = appendLong(e.buf, int64(v.Len))
			e.path = append(e.path, step{})
			j := i + 1
			for k := 0; k < int(v.Len); k++ {
				e.path[len(e.path)-1] = step{index: k}
				e.value(n.items, j)
				j = int(e.doc.Nodes[j].End)
			}
			e.path = e.path[:len(e.path)-1]
		}
		e.buf = append(e.buf, 0)
	case kMap:
		if v.Kind != jsonvalue.KindObject {
			e.wrongType(n, v.Kind)
			return
		}
		if v.Len > 0 {
			e.buf = appendLong(e.buf, int64(v.Len))
			j := i + 1
			for range v.Len {
				key := e.doc.Nodes[j].Str
				e.buf = appendStringBytes(e.buf, key)
				e.path = append(e.path, step{key: key, isKey: true})
				e.value(n.items, j+1)
				e.path = e.path[:len(e.path)-1]
				j = int(e.doc.Nodes[j+1].End)
			}
		}
		e.buf = append(e.buf, 0)
	case kRecord:
		e.record(n, i)
	case kUnion:
		e.union(n, i)
	}
}

func symbolList(syms []string) string {
	if len(syms) > 10 {
		return strings.Join(syms[:10], ", ") + ", ..."
	}
	return strings.Join(syms, ", ")
}

func (e *encoder) record(n *node, i int) {
	v := &e.doc.Nodes[i]
	if v.Kind != jsonvalue.KindObject {
		e.wrongType(n, v.Kind)
		return
	}
	base := len(e.at)
	for range n.fields {
		e.at = append(e.at, 0)
	}
	j := i + 1
	for range v.Len {
		key := e.doc.Nodes[j].Str
		f := -1
		// Small records: compare names; the map for large ones and aliases.
		if len(n.fields) <= 8 {
			for k := range n.fields {
				if n.fields[k].name == key {
					f = k
					break
				}
			}
		}
		if f < 0 {
			if k, ok := n.byName[key]; ok {
				f = k
			}
		}
		switch {
		case f < 0:
			e.path = append(e.path, step{key: key, isKey: true})
			e.fail(KeywordUnknownField, "record %s has no field %q", n.name, key)
			e.path = e.path[:len(e.path)-1]
		case e.at[base+f] != 0:
			e.path = append(e.path, step{key: key, isKey: true})
			e.fail(KeywordDuplicateField, "field %q is given twice (by its name and an alias)", n.fields[f].name)
			e.path = e.path[:len(e.path)-1]
		default:
			e.at[base+f] = int32(j + 1)
		}
		j = int(e.doc.Nodes[j+1].End)
	}
	for k := range n.fields {
		f := &n.fields[k]
		at := int(e.at[base+k])
		if at == 0 {
			if f.hasDef {
				e.buf = append(e.buf, f.def...)
				continue
			}
			e.path = append(e.path, step{key: f.name, isKey: true})
			e.fail(KeywordRequired, "missing field %q (it has no default)", f.name)
			e.path = e.path[:len(e.path)-1]
			continue
		}
		e.path = append(e.path, step{key: e.doc.Nodes[at-1].Str, isKey: true})
		e.value(f.typ, at)
		e.path = e.path[:len(e.path)-1]
	}
	e.at = e.at[:base]
}

// branchNamed returns the index of the branch called name (a type name, a
// named type's full name or alias), or -1.
func branchNamed(n *node, name string) int {
	for k, b := range n.branches {
		if b.name == name {
			return k
		}
	}
	for k, b := range n.branches {
		for _, a := range b.aliases {
			if a == name {
				return k
			}
		}
	}
	return -1
}

func (e *encoder) union(n *node, i int) {
	v := &e.doc.Nodes[i]
	if v.Kind == jsonvalue.KindNull && n.nullAt >= 0 {
		e.buf = appendLong(e.buf, int64(n.nullAt))
		return
	}
	// The Avro JSON encoding: {"branch name": value}.
	if v.Kind == jsonvalue.KindObject && v.Len == 1 {
		key := e.doc.Nodes[i+1].Str
		if k := branchNamed(n, key); k >= 0 {
			e.buf = appendLong(e.buf, int64(k))
			e.path = append(e.path, step{key: key, isKey: true})
			e.value(n.branches[k], i+2)
			e.path = e.path[:len(e.path)-1]
			return
		}
	}
	// The plain form: the one branch taking this kind of JSON value.
	bit := kindBit(v.Kind)
	found, count := -1, 0
	for k, b := range n.branches {
		if b.plain&bit != 0 {
			if found < 0 {
				found = k
			}
			count++
		}
	}
	switch count {
	case 0:
		e.fail(KeywordUnion, "got %s, want one of the union's branches (%s)", kindName(v.Kind), branchList(n))
	case 1:
		e.buf = appendLong(e.buf, int64(found))
		e.value(n.branches[found], i)
	default:
		var names []string
		for _, b := range n.branches {
			if b.plain&bit != 0 {
				names = append(names, strconv.Quote(b.name))
			}
		}
		e.fail(KeywordUnionAmbiguous, "a %s matches union branches %s: wrap it as {%s: ...}", kindName(v.Kind), strings.Join(names, ", "), names[0])
	}
}

func branchList(n *node) string {
	names := make([]string, len(n.branches))
	for k, b := range n.branches {
		names[k] = b.name
	}
	return strings.Join(names, ", ")
}

func (e *encoder) codePoints(n *node, s string) {
	size := 0
	for _, r := range s {
		if r > 0xff {
			e.fail(KeywordBytes, "code point U+%04X is above U+00FF: bytes are written one code point per byte (the Avro JSON encoding)", r)
			return
		}
		size++
	}
	if n.kind == kFixed {
		if size != n.size {
			e.fail(KeywordFixedSize, "%d bytes, want %d for fixed %s", size, n.size, n.name)
			return
		}
	} else {
		e.buf = appendLong(e.buf, int64(size))
	}
	if size == len(s) {
		e.buf = append(e.buf, s...)
		return
	}
	for _, r := range s {
		e.buf = append(e.buf, byte(r))
	}
}

func (e *encoder) float(n *node, v *jsonvalue.Node) {
	var f float64
	switch v.Kind {
	case jsonvalue.KindNumber:
		bits := 64
		if n.kind == kFloat {
			bits = 32
		}
		var err error
		f, err = strconv.ParseFloat(v.Str, bits)
		if err != nil {
			e.fail(KeywordRange, "%s is out of the range of a %s", v.Str, n.name)
			return
		}
	case jsonvalue.KindString:
		switch v.Str {
		case "NaN":
			f = math.Float64frombits(0x7ff8000000000000) // Java's canonical NaN
		case "Infinity":
			f = math.Inf(1)
		case "-Infinity":
			f = math.Inf(-1)
		default:
			e.fail(KeywordType, "got string %q, want a %s (a number, or \"NaN\", \"Infinity\", \"-Infinity\")", v.Str, n.name)
			return
		}
	default:
		e.wrongType(n, v.Kind)
		return
	}
	if n.kind == kFloat {
		if f != f {
			e.buf = binary.LittleEndian.AppendUint32(e.buf, 0x7fc00000)
			return
		}
		e.buf = appendFloat(e.buf, float32(f))
	} else {
		e.buf = appendDouble(e.buf, f)
	}
}

func (e *encoder) integer(n *node, v *jsonvalue.Node) {
	var x int64
	switch {
	case v.Kind == jsonvalue.KindNumber:
		var ok bool
		x, ok = parseInteger(v.Str)
		if !ok {
			e.fail(KeywordRange, "%s is not an integer in the range of a %s", v.Str, n.name)
			return
		}
	case v.Kind == jsonvalue.KindString && n.logical >= lDate:
		var ok bool
		var kw, msg string
		x, ok, kw, msg = parseTemporal(n.logical, v.Str)
		if !ok {
			e.fail(kw, "%s", msg)
			return
		}
	default:
		e.wrongType(n, v.Kind)
		return
	}
	if n.kind == kInt && (x < math.MinInt32 || x > math.MaxInt32) {
		e.fail(KeywordRange, "%s is out of the range of an int (32 bits)", v.Str)
		return
	}
	if n.logical == lTimeMillis && (x < 0 || x >= 86_400_000) || n.logical == lTimeMicros && (x < 0 || x >= 86_400_000_000) {
		e.fail(KeywordTime, "%s is not a time of day", v.Str)
		return
	}
	e.buf = appendLong(e.buf, x)
}

// parseInteger reads a JSON number literal whose value is an integer in
// the int64 range (1.0 and 1e3 are integers).
func parseInteger(lit string) (int64, bool) {
	if x, err := strconv.ParseInt(lit, 10, 64); err == nil {
		return x, true
	}
	d, ok := parseDecimal(lit)
	if !ok || d.exp < 0 && !d.fracZero() {
		return 0, false
	}
	return d.int64()
}

func isUUID(s string) bool {
	if len(s) != 36 || !utf8.ValidString(s) {
		return false
	}
	for i := 0; i < 36; i++ {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
				return false
			}
		}
	}
	return true
}
