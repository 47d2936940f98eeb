package avro

import (
	"encoding/binary"
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Decoding bounds: what a hostile payload can make Decode do.
const (
	// MaxDepth is the deepest nesting of records, arrays, maps and unions
	// in a decoded value (jsonvalue's default depth, so that the JSON
	// rendering decodes again).
	MaxDepth = 128
	// MaxItems bounds the array items and map entries of one payload,
	// whatever their size: items that take no bytes (nulls, empty
	// records) cannot make a few bytes into millions of values.
	MaxItems = 1 << 20
	// MaxJSON bounds the JSON rendering of one payload, in bytes.
	MaxJSON = 64 << 20
)

// DecodeError says why a payload was refused: where, and whether the bytes
// are not Avro at all (Malformed) or are Avro holding a value its logical
// type does not allow (a bad uuid, a decimal over its precision).
type DecodeError struct {
	// Offset is the byte of the payload where the problem was found.
	Offset int
	// Path is the JSON pointer of the value being decoded.
	Path string
	// Keyword is a Keyword* constant for a logical-type violation, or
	// "malformed".
	Keyword string
	// Malformed is true when the bytes do not decode against the schema.
	Malformed bool
	Msg       string
}

// Error describes the problem and where it is.
func (e *DecodeError) Error() string {
	where := e.Path
	if where == "" {
		where = "(root)"
	}
	return fmt.Sprintf("at %s (byte %d): %s", where, e.Offset, e.Msg)
}

type decoder struct {
	in    []byte
	pos   int
	out   []byte
	start int // len(out) when decoding began
	depth int
	items int
	// lastLen and lastKey describe the map blocks last read: its entries
	// and its first key.
	lastLen int
	lastKey string
	path    []step
	err     *DecodeError
}

// Decode reads payload, the Avro binary of one value of the schema (what
// follows the wire-format header), and appends its JSON rendering to dst:
// the form Encode accepts, so that encoding it again gives the same value.
// Truncated input, trailing bytes, an overlong varint, an index out of
// range, invalid UTF-8 in a string, or more than the bounds (MaxDepth,
// MaxItems, MaxJSON) is a *DecodeError with Malformed set. A length is
// checked against the bytes left before anything is read, so a hostile
// length allocates nothing; the output grows only with the JSON written.
func (s *Schema) Decode(dst, payload []byte) ([]byte, error) {
	d := decoder{in: payload, out: dst, start: len(dst)}
	d.value(s.root)
	if d.err == nil && d.pos != len(d.in) {
		d.malformed("%d bytes follow the value", len(d.in)-d.pos)
	}
	if d.err != nil {
		return dst, d.err
	}
	return d.out, nil
}

func (d *decoder) pointer() string {
	e := encoder{path: d.path}
	return e.pointer()
}

func (d *decoder) malformed(format string, args ...any) {
	if d.err == nil {
		d.err = &DecodeError{Offset: d.pos, Path: d.pointer(), Keyword: "malformed", Malformed: true, Msg: fmt.Sprintf(format, args...)}
	}
}

func (d *decoder) violation(keyword, format string, args ...any) {
	if d.err == nil {
		d.err = &DecodeError{Offset: d.pos, Path: d.pointer(), Keyword: keyword, Msg: fmt.Sprintf(format, args...)}
	}
}

// long reads a zigzag varint of at most 10 bytes.
func (d *decoder) long() int64 {
	var u uint64
	for k := 0; k < 10; k++ {
		if d.pos >= len(d.in) {
			d.malformed("input ends inside a number")
			return 0
		}
		c := d.in[d.pos]
		d.pos++
		if k == 9 && c > 1 {
			d.malformed("number longer than 64 bits")
			return 0
		}
		u |= uint64(c&0x7f) << (7 * k)
		if c < 0x80 {
			return int64(u>>1) ^ -int64(u&1)
		}
	}
	d.malformed("number longer than 10 bytes")
	return 0
}

func (d *decoder) int() int64 {
	at := d.pos
	x := d.long()
	if d.err == nil && (x < math.MinInt32 || x > math.MaxInt32) {
		d.pos = at
		d.malformed("int %d is out of 32-bit range", x)
	}
	return x
}

// take returns the next n bytes, n checked against what is left.
func (d *decoder) take(n int64) []byte {
	if n < 0 {
		d.malformed("negative length %d", n)
		return nil
	}
	if n > int64(len(d.in)-d.pos) {
		d.malformed("length %d is more than the %d bytes left", n, len(d.in)-d.pos)
		return nil
	}
	b := d.in[d.pos : d.pos+int(n)]
	d.pos += int(n)
	return b
}

func (d *decoder) value(n *node) {
	if d.err != nil {
		return
	}
	if len(d.out)-d.start > MaxJSON {
		d.malformed("the JSON rendering exceeds %d bytes", MaxJSON)
		return
	}
	switch n.kind {
	case kNull:
		d.out = append(d.out, "null"...)
	case kBoolean:
		b := d.take(1)
		if d.err != nil {
			return
		}
		switch b[0] {
		case 0:
			d.out = append(d.out, "false"...)
		case 1:
			d.out = append(d.out, "true"...)
		default:
			d.pos--
			d.malformed("boolean byte 0x%02x, want 0 or 1", b[0])
		}
	case kInt, kLong:
		var x int64
		if n.kind == kInt {
			x = d.int()
		} else {
			x = d.long()
		}
		if d.err != nil {
			return
		}
		if n.logical >= lDate {
			if n.logical == lTimeMillis && (x < 0 || x >= 86_400_000) || n.logical == lTimeMicros && (x < 0 || x >= 86_400_000_000) {
				d.violation(KeywordTime, "%d is not a time of day", x)
				return
			}
			d.out = appendTemporal(d.out, n.logical, x)
			return
		}
		d.out = strconv.AppendInt(d.out, x, 10)
	case kFloat:
		b := d.take(4)
		if d.err == nil {
			d.float(float64(math.Float32frombits(binary.LittleEndian.Uint32(b))), 32)
		}
	case kDouble:
		b := d.take(8)
		if d.err == nil {
			d.float(math.Float64frombits(binary.LittleEndian.Uint64(b)), 64)
		}
	case kString:
		b := d.take(d.long())
		if d.err != nil {
			return
		}
		if !utf8.Valid(b) {
			d.malformed("string is not valid UTF-8")
			return
		}
		if n.logical == lUUID && !isUUID(string(b)) {
			d.violation(KeywordUUID, "%q is not a UUID", b)
			return
		}
		d.out = appendString(d.out, string(b))
	case kBytes:
		b := d.take(d.long())
		if d.err != nil {
			return
		}
		if n.logical == lDecimal {
			d.decimal(n, b)
			return
		}
		d.out = appendCodePoints(d.out, b)
	case kFixed:
		b := d.take(int64(n.size))
		if d.err != nil {
			return
		}
		if n.logical == lDecimal {
			d.decimal(n, b)
			return
		}
		d.out = appendCodePoints(d.out, b)
	case kEnum:
		at := d.pos
		k := d.int()
		if d.err != nil {
			return
		}
		if k < 0 || k >= int64(len(n.symbols)) {
			d.pos = at
			d.malformed("enum index %d, %s has %d symbols", k, n.name, len(n.symbols))
			return
		}
		d.out = appendString(d.out, n.symbols[k])
	case kArray:
		d.blocks(n, false)
	case kMap:
		d.blocks(n, true)
	case kRecord:
		if !d.enter() {
			return
		}
		d.out = append(d.out, '{')
		for k := range n.fields {
			f := &n.fields[k]
			if k > 0 {
				d.out = append(d.out, ',')
			}
			d.out = append(d.out, f.quoted...)
			d.path = append(d.path, step{key: f.name, isKey: true})
			d.value(f.typ)
			d.path = d.path[:len(d.path)-1]
			if d.err != nil {
				return
			}
		}
		d.out = append(d.out, '}')
		d.depth--
	case kUnion:
		d.union(n)
	}
}

func (d *decoder) enter() bool {
	d.depth++
	if d.depth > MaxDepth {
		d.malformed("value nests deeper than %d", MaxDepth)
		return false
	}
	return true
}

func (d *decoder) float(f float64, bits int) {
	switch {
	case math.IsNaN(f):
		d.out = append(d.out, `"NaN"`...)
	case math.IsInf(f, 1):
		d.out = append(d.out, `"Infinity"`...)
	case math.IsInf(f, -1):
		d.out = append(d.out, `"-Infinity"`...)
	default:
		d.out = strconv.AppendFloat(d.out, f, 'g', -1, bits)
	}
}

func (d *decoder) decimal(n *node, raw []byte) {
	if digits := decimalDigits(raw, n.precision); digits < 0 || digits > n.precision {
		d.violation(KeywordDecimal, "unscaled value has more than %d digits (precision of decimal(%d,%d))", n.precision, n.precision, n.scale)
		return
	}
	d.out = appendDecimal(d.out, raw, n.scale)
}

// blocks reads an array's or a map's blocks: a count, then as many items,
// until a zero count. A negative count is followed by the block's size in
// bytes, which is checked.
func (d *decoder) blocks(n *node, isMap bool) {
	if !d.enter() {
		return
	}
	open, end := byte('['), byte(']')
	if isMap {
		open, end = '{', '}'
	}
	d.out = append(d.out, open)
	first := true
	index := 0
	for {
		at := d.pos
		count := d.long()
		if d.err != nil {
			return
		}
		if count == 0 {
			break
		}
		blockEnd := -1
		if count < 0 {
			if count == math.MinInt64 {
				d.pos = at
				d.malformed("block count out of range")
				return
			}
			count = -count
			size := d.long()
			if d.err != nil {
				return
			}
			if size < 0 || size > int64(len(d.in)-d.pos) {
				d.malformed("block size %d is more than the %d bytes left", size, len(d.in)-d.pos)
				return
			}
			blockEnd = d.pos + int(size)
		}
		if count > int64(MaxItems-d.items) {
			d.pos = at
			d.malformed("more than %d array items and map entries", MaxItems)
			return
		}
		d.items += int(count)
		for range count {
			if !first {
				d.out = append(d.out, ',')
			}
			first = false
			if isMap {
				kb := d.take(d.long())
				if d.err != nil {
					return
				}
				if !utf8.Valid(kb) {
					d.malformed("map key is not valid UTF-8")
					return
				}
				key := string(kb)
				if index == 0 {
					d.lastKey = key
				}
				d.out = appendString(d.out, key)
				d.out = append(d.out, ':')
				d.path = append(d.path, step{key: key, isKey: true})
			} else {
				d.path = append(d.path, step{index: index})
			}
			index++
			d.value(n.items)
			d.path = d.path[:len(d.path)-1]
			if d.err != nil {
				return
			}
		}
		if blockEnd >= 0 && d.pos != blockEnd {
			d.malformed("block size says it ends at byte %d, its items end at %d", blockEnd, d.pos)
			return
		}
	}
	d.out = append(d.out, end)
	d.lastLen = index
	d.depth--
}

func (d *decoder) union(n *node) {
	at := d.pos
	k := d.long()
	if d.err != nil {
		return
	}
	if k < 0 || k >= int64(len(n.branches)) {
		d.pos = at
		d.malformed("union branch %d, the union has %d", k, len(n.branches))
		return
	}
	b := n.branches[k]
	if !d.enter() {
		return
	}
	defer func() { d.depth-- }()
	// Wrapped unless the plain form reads back as this same branch: null,
	// or a JSON kind no other branch takes.
	wrapAt := len(d.out)
	d.value(b)
	if d.err != nil || b.kind == kNull {
		return
	}
	bit := renderedKind(d.out[wrapAt])
	// An object of one member named like a branch reads as the wrapped
	// form: wrap it so it reads back as itself.
	if b.kind == kRecord && len(b.fields) == 1 && branchNamed(n, b.fields[0].name) >= 0 ||
		b.kind == kMap && d.lastLen == 1 && branchNamed(n, d.lastKey) >= 0 {
		d.wrap(wrapAt, b.name)
		return
	}
	for j, o := range n.branches {
		if j != int(k) && o.plain&bit != 0 || j == int(k) && o.plain&bit == 0 {
			d.wrap(wrapAt, b.name)
			return
		}
	}
}

// wrap turns the value rendered at out[at:] into {"name": value}.
func (d *decoder) wrap(at int, name string) {
	prefix := appendString([]byte{'{'}, name)
	prefix = append(prefix, ':')
	d.out = append(d.out, prefix...) // grow by len(prefix)
	copy(d.out[at+len(prefix):], d.out[at:len(d.out)-len(prefix)])
	copy(d.out[at:], prefix)
	d.out = append(d.out, '}')
}

func renderedKind(c byte) jsonKinds {
	switch c {
	case 'n':
		return jNull
	case 't', 'f':
		return jBool
	case '"':
		return jString
	case '[':
		return jArray
	case '{':
		return jObject
	}
	return jNumber
}

// String renders the schema's canonical form (for messages and tests).
func (s *Schema) String() string {
	return strings.TrimSpace(s.parsed.String())
}
