package jsonvalue

import (
	"encoding/binary"
	"math"
	"math/bits"
	"strconv"
	"sync"
	"unicode/utf8"

	"github.com/eventguard/eventguard/internal/quote"
)

// smallObject is how many members an object checks for duplicate keys by
// comparing each new key with the earlier ones; larger objects use a set.
const smallObject = 16

// maxPooledSet is the size above which a key set is dropped rather than
// cleared for reuse.
const maxPooledSet = 1024

// maxPooledBuf bounds the unescaping buffer a decoder keeps when it goes
// back to the pool, so one huge string does not pin memory.
const maxPooledBuf = 64 << 10

// decoder is the state of one Parse call. Decoders are pooled for their
// scratch stacks.
type decoder struct {
	data  []byte
	s     string // string(data): strings without escapes are substrings of it
	i     int    // read position in data
	depth int
	lim   Limits

	nodes []Node   // the tape being built (the Doc's, reused)
	keys  []string // scratch stack of the open objects' keys, for duplicates
	buf   []byte   // scratch for unescaping a string

	sets     []map[string]struct{} // key sets of the open large objects, innermost last
	setsUsed int

	// segs collects the reference tokens of the failing value's JSON
	// pointer, innermost first and not yet escaped, as an error unwinds.
	segs []string
}

var decoderPool = sync.Pool{New: func() any { return new(decoder) }}

func getDecoder() *decoder { return decoderPool.Get().(*decoder) }

func putDecoder(d *decoder) {
	for d.setsUsed > 0 {
		d.releaseSet()
	}
	d.data, d.s, d.nodes = nil, "", nil
	// Drop the keys (substrings of the input) once per decode, not per
	// object: an object only truncates the stack.
	clear(d.keys[:cap(d.keys)])
	d.keys = d.keys[:0]
	clear(d.segs)
	d.segs = d.segs[:0]
	if cap(d.buf) > maxPooledBuf {
		return
	}
	decoderPool.Put(d)
}

// stringStop marks the bytes that end the fast scan of a string: the quote,
// the backslash, control characters and the first byte of a non-ASCII rune.
var stringStop = func() (t [256]bool) {
	for c := 0; c < 256; c++ {
		t[c] = c == '"' || c == '\\' || c < 0x20 || c >= utf8.RuneSelf
	}
	return t
}()

// parse appends data's value to nodes and returns the tape.
func (d *decoder) parse(data []byte, lim Limits, nodes []Node) ([]Node, *Error) {
	if len(data) > maxInput {
		return nodes, d.fail(CodeSyntax, 0, "input of "+strconv.Itoa(len(data))+" bytes is larger than 2 GiB")
	}
	nodes, end, err := d.parseIn(data, string(data), 0, lim, nodes)
	if err != nil {
		return nodes, err
	}
	d.i = end
	d.skipWS()
	if d.i < len(d.data) {
		return d.nodes, d.fail(CodeSyntax, d.i, "invalid character "+quoteByte(d.data[d.i])+" after top-level value")
	}
	return d.nodes, nil
}

// parseIn appends the value at data[off:] (after white space) to nodes and
// returns the offset just past it. s holds the same bytes as data: the
// strings on the tape are substrings of it.
func (d *decoder) parseIn(data []byte, s string, off int, lim Limits, nodes []Node) ([]Node, int, *Error) {
	d.data, d.s, d.i, d.depth, d.lim, d.nodes = data, s, off, 0, lim, nodes
	if len(data) > maxInput {
		return nodes, 0, d.fail(CodeSyntax, 0, "input of "+strconv.Itoa(len(data))+" bytes is larger than 2 GiB")
	}
	d.skipWS()
	if d.i >= len(d.data) {
		return d.nodes, 0, d.fail(CodeEmpty, d.i, "no value: input is empty or only whitespace")
	}
	if err := d.value(); err != nil {
		return d.nodes, 0, err
	}
	return d.nodes, d.i, nil
}

// maxInput is the largest input: node indexes are int32, and every node
// takes at least one byte of input.
const maxInput = 1<<31 - 1

// leaf appends a scalar node.
func (d *decoder) leaf(k Kind, s string) {
	d.nodes = append(d.nodes, Node{Str: s, End: int32(len(d.nodes) + 1), Kind: k})
}

func (d *decoder) fail(code string, off int, msg string) *Error {
	return &Error{Code: code, Offset: off, Msg: msg}
}

func (d *decoder) skipWS() {
	for d.i < len(d.data) {
		switch d.data[d.i] {
		case ' ', '\t', '\n', '\r':
			d.i++
		default:
			return
		}
	}
}

// value appends the value at d.i, which the caller has checked is in range
// and not whitespace, to the tape.
func (d *decoder) value() *Error {
	switch c := d.data[d.i]; c {
	case '"':
		s, err := d.str()
		if err != nil {
			return err
		}
		d.leaf(KindString, s)
		return nil
	case '{':
		return d.object()
	case '[':
		return d.array()
	case 't':
		if err := d.literal("true"); err != nil {
			return err
		}
		d.leaf(KindTrue, "")
		return nil
	case 'f':
		if err := d.literal("false"); err != nil {
			return err
		}
		d.leaf(KindFalse, "")
		return nil
	case 'n':
		if err := d.literal("null"); err != nil {
			return err
		}
		d.leaf(KindNull, "")
		return nil
	default:
		if c == '-' || c-'0' <= 9 {
			return d.number()
		}
		return d.badValueStart()
	}
}

func (d *decoder) literal(lit string) *Error {
	if len(d.data)-d.i >= len(lit) && string(d.data[d.i:d.i+len(lit)]) == lit {
		d.i += len(lit)
		return nil
	}
	start := d.i
	for i := 1; i < len(lit); i++ {
		if start+i >= len(d.data) {
			return d.fail(CodeSyntax, start+i, "unexpected end of input in literal "+lit)
		}
		if d.data[start+i] != lit[i] {
			return d.fail(CodeSyntax, start+i, "invalid character "+quoteByte(d.data[start+i])+" in literal "+lit)
		}
	}
	return nil // unreachable: the fast path matched
}

func (d *decoder) badValueStart() *Error {
	rest := d.data[d.i:]
	switch {
	case hasPrefix(rest, "NaN"), hasPrefix(rest, "Infinity"):
		return d.fail(CodeSyntax, d.i, "invalid value: NaN and Infinity are not JSON numbers")
	}
	return d.fail(CodeSyntax, d.i, "invalid character "+quoteByte(d.data[d.i])+" looking for beginning of value")
}

func (d *decoder) eof(what string) *Error {
	return d.fail(CodeSyntax, len(d.data), "unexpected end of input "+what)
}

func (d *decoder) enter(start int) *Error {
	d.depth++
	if d.depth > d.lim.MaxDepth {
		return d.fail(CodeTooDeep, start, "nesting deeper than "+strconv.Itoa(d.lim.MaxDepth)+" levels")
	}
	return nil
}

func (d *decoder) array() *Error {
	start := d.i
	if err := d.enter(start); err != nil {
		return err
	}
	d.i++
	d.skipWS()
	if d.i >= len(d.data) {
		return d.eof("in array")
	}
	at := len(d.nodes)
	d.nodes = append(d.nodes, Node{Kind: KindArray})
	n := 0 // items so far
	if d.data[d.i] == ']' {
		d.i++
	} else {
		for {
			if err := d.value(); err != nil {
				d.segs = append(d.segs, strconv.Itoa(n))
				return err
			}
			n++
			d.skipWS()
			if d.i >= len(d.data) {
				return d.eof("in array")
			}
			switch d.data[d.i] {
			case ',':
				d.i++
				d.skipWS()
				if d.i >= len(d.data) {
					return d.eof("in array")
				}
				if d.data[d.i] == ']' {
					return d.fail(CodeSyntax, d.i, "trailing comma in array")
				}
				continue
			case ']':
				d.i++
			default:
				return d.fail(CodeSyntax, d.i, "invalid character "+quoteByte(d.data[d.i])+" after array element, expected ',' or ']'")
			}
			break
		}
	}
	d.nodes[at].Len, d.nodes[at].End = int32(n), int32(len(d.nodes))
	d.depth--
	return nil
}

func (d *decoder) object() *Error {
	start := d.i
	if err := d.enter(start); err != nil {
		return err
	}
	d.i++
	d.skipWS()
	if d.i >= len(d.data) {
		return d.eof("in object")
	}
	at := len(d.nodes)
	d.nodes = append(d.nodes, Node{Kind: KindObject})
	n := 0 // members so far
	if d.data[d.i] == '}' {
		d.i++
		d.nodes[at].End = int32(len(d.nodes))
		d.depth--
		return nil
	}
	// Up to smallObject members a new key is checked against the earlier
	// ones on the key stack; past that, against a pooled set.
	var seen map[string]struct{}
	base := len(d.keys)
	for {
		if d.data[d.i] != '"' {
			return d.fail(CodeSyntax, d.i, "invalid character "+quoteByte(d.data[d.i])+" looking for object key string")
		}
		keyOff := d.i
		k, err := d.str()
		if err != nil {
			return err
		}
		dup := false
		if seen != nil {
			l := len(seen)
			seen[k] = struct{}{}
			dup = len(seen) == l
		} else {
			for _, e := range d.keys[base:] {
				if e == k {
					dup = true
					break
				}
			}
		}
		if dup {
			err := d.fail(CodeDuplicateKey, keyOff, "duplicate key "+quote.String(k))
			d.segs = append(d.segs, k)
			return err
		}
		d.skipWS()
		if d.i >= len(d.data) {
			return d.eof("in object")
		}
		if d.data[d.i] != ':' {
			return d.fail(CodeSyntax, d.i, "invalid character "+quoteByte(d.data[d.i])+" after object key, expected ':'")
		}
		d.i++
		d.skipWS()
		if d.i >= len(d.data) {
			return d.eof("in object")
		}
		d.leaf(KindString, k)
		if seen == nil {
			d.keys = append(d.keys, k)
		}
		if err := d.value(); err != nil {
			d.segs = append(d.segs, k)
			return err
		}
		n++
		if seen == nil && n == smallObject {
			seen = d.getSet()
			for _, e := range d.keys[base:] {
				seen[e] = struct{}{}
			}
		}
		d.skipWS()
		if d.i >= len(d.data) {
			return d.eof("in object")
		}
		switch d.data[d.i] {
		case ',':
			d.i++
			d.skipWS()
			if d.i >= len(d.data) {
				return d.eof("in object")
			}
			if d.data[d.i] == '}' {
				return d.fail(CodeSyntax, d.i, "trailing comma in object")
			}
			continue
		case '}':
			d.i++
		default:
			return d.fail(CodeSyntax, d.i, "invalid character "+quoteByte(d.data[d.i])+" after object member, expected ',' or '}'")
		}
		break
	}
	if seen != nil {
		d.releaseSet()
	}
	d.keys = d.keys[:base]
	d.nodes[at].Len, d.nodes[at].End = int32(n), int32(len(d.nodes))
	d.depth--
	return nil
}

// getSet hands out the key set for the next enclosing level of large
// objects; releaseSet gives it back, empty. Large objects nest like all
// values, so the sets are a stack.
func (d *decoder) getSet() map[string]struct{} {
	if d.setsUsed == len(d.sets) {
		d.sets = append(d.sets, nil)
	}
	s := d.sets[d.setsUsed]
	if s == nil {
		s = make(map[string]struct{}, 4*smallObject)
		d.sets[d.setsUsed] = s
	}
	d.setsUsed++
	return s
}

func (d *decoder) releaseSet() {
	d.setsUsed--
	s := d.sets[d.setsUsed]
	if len(s) > maxPooledSet {
		// Clearing costs as much as the set's capacity: let a big one go.
		d.sets[d.setsUsed] = nil
		return
	}
	clear(s)
}

const (
	lsb = 0x0101010101010101
	msb = 0x8080808080808080
)

// stopMask has the high bit set in the byte of x (little endian: the first
// byte of input is the lowest) that is the first stringStop byte: one with
// the high bit set, one below 0x20, a quote or a backslash; 0 when there is
// none. It uses the SWAR test for a byte below n, (x - n*lsb) &^ x & msb: a
// borrow can mark bytes above a true match, never below the first one, so
// the lowest marked byte is exact; the bytes above it are not looked at.
func stopMask(x uint64) uint64 {
	q := x ^ '"'*lsb
	b := x ^ '\\'*lsb
	return (x | (x-0x20*lsb)&^x | (q-lsb)&^q | (b-lsb)&^b) & msb
}

// str decodes the string whose opening quote is at d.i. It jumps eight
// bytes at a time to the next byte that needs a look (stopMask), so a
// string of plain ASCII costs a load and a few operations per eight bytes.
func (d *decoder) str() (string, *Error) {
	start := d.i
	data := d.data
	i := start + 1
	for {
		if i+8 <= len(data) {
			m := stopMask(binary.LittleEndian.Uint64(data[i:]))
			if m == 0 {
				i += 8
				continue
			}
			i += bits.TrailingZeros64(m) >> 3
		} else {
			for i < len(data) && !stringStop[data[i]] {
				i++
			}
			if i >= len(data) {
				return "", d.fail(CodeSyntax, start, "unterminated string")
			}
		}
		switch c := data[i]; {
		case c == '"':
			d.i = i + 1
			return d.s[start+1 : i], nil
		case c == '\\':
			return d.strEscaped(start, i)
		case c < 0x20:
			return "", d.controlChar(i)
		default:
			r, size := utf8.DecodeRune(data[i:])
			if r == utf8.RuneError && size == 1 {
				return "", d.fail(CodeInvalidUTF8, i, "invalid UTF-8 byte "+hexByte(c)+" in string")
			}
			i += size
		}
	}
}

func (d *decoder) controlChar(i int) *Error {
	return d.fail(CodeSyntax, i, "invalid control character "+hexByte(d.data[i])+" in string, must be escaped")
}

// strEscaped continues decoding the string whose opening quote is at start
// from its first backslash at i, unescaping into d.buf.
func (d *decoder) strEscaped(start, i int) (string, *Error) {
	data := d.data
	buf := append(d.buf[:0], data[start+1:i]...)
	for i < len(data) {
		c := data[i]
		if !stringStop[c] {
			// Copy the run of plain bytes in one go.
			j := i + 1
			for j < len(data) && !stringStop[data[j]] {
				j++
			}
			buf = append(buf, data[i:j]...)
			i = j
			continue
		}
		switch {
		case c == '"':
			d.i = i + 1
			d.buf = buf
			return string(buf), nil
		case c == '\\':
			if i+1 >= len(data) {
				return "", d.fail(CodeSyntax, start, "unterminated string")
			}
			switch e := data[i+1]; e {
			case '"', '\\', '/':
				buf = append(buf, e)
				i += 2
			case 'b':
				buf = append(buf, '\b')
				i += 2
			case 'f':
				buf = append(buf, '\f')
				i += 2
			case 'n':
				buf = append(buf, '\n')
				i += 2
			case 'r':
				buf = append(buf, '\r')
				i += 2
			case 't':
				buf = append(buf, '\t')
				i += 2
			case 'u':
				r, ok := hex4(data, i+2)
				if !ok {
					return "", d.fail(CodeSyntax, i, "invalid \\u escape in string, expected 4 hex digits")
				}
				n := 6
				switch {
				case r >= 0xDC00 && r <= 0xDFFF:
					return "", d.fail(CodeInvalidUTF8, i, "lone low surrogate "+escText(data, i)+" in string")
				case r >= 0xD800 && r <= 0xDBFF:
					lo, ok := rune(0), false
					if i+7 < len(data) && data[i+6] == '\\' && data[i+7] == 'u' {
						lo, ok = hex4(data, i+8)
					}
					if !ok || lo < 0xDC00 || lo > 0xDFFF {
						return "", d.fail(CodeInvalidUTF8, i, "lone high surrogate "+escText(data, i)+" in string, not followed by a low surrogate")
					}
					r = 0x10000 + (r-0xD800)<<10 + (lo - 0xDC00)
					n = 12
				}
				buf = utf8.AppendRune(buf, r)
				i += n
			default:
				return "", d.fail(CodeSyntax, i, "invalid escape "+strconv.Quote(string(data[i:i+2]))+" in string")
			}
		case c < 0x20:
			return "", d.controlChar(i)
		default:
			r, size := utf8.DecodeRune(data[i:])
			if r == utf8.RuneError && size == 1 {
				return "", d.fail(CodeInvalidUTF8, i, "invalid UTF-8 byte "+hexByte(c)+" in string")
			}
			buf = append(buf, data[i:i+size]...)
			i += size
		}
	}
	d.buf = buf
	return "", d.fail(CodeSyntax, start, "unterminated string")
}

// hex4 reads four hex digits at data[i:].
func hex4(data []byte, i int) (rune, bool) {
	if i+4 > len(data) {
		return 0, false
	}
	var r rune
	for _, c := range data[i : i+4] {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			c = c - 'A' + 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	return r, true
}

// escText quotes the six bytes of the \u escape at data[i:].
func escText(data []byte, i int) string {
	return strconv.Quote(string(data[i : i+6]))
}

// expSaturate saturates exponent accumulation well above any sane limit and
// well below overflow of a 32-bit int.
const expSaturate = 1 << 26

// number decodes the number literal starting at d.i, validating it against
// the RFC 8259 grammar:
//
//	number = [ "-" ] int [ frac ] [ exp ]
//	int    = "0" / ( digit1-9 *DIGIT )
//	frac   = "." 1*DIGIT
//	exp    = ( "e" / "E" ) [ "-" / "+" ] 1*DIGIT
func (d *decoder) number() *Error {
	data := d.data
	start := d.i
	i := start
	if data[i] == '-' {
		i++
	}
	intStart := i
	switch {
	case i >= len(data) || !isDigit(data[i]):
		return d.badNumber(start, i, "expected digit")
	case data[i] == '0':
		i++
		if i < len(data) && isDigit(data[i]) {
			return d.badNumber(start, i+1, "leading zero")
		}
	default:
		i++
		for i < len(data) && isDigit(data[i]) {
			i++
		}
	}
	intDigits := i - intStart
	// lead is the decimal exponent of the first significant digit:
	// intDigits-1 when the integer part is not zero, -k when the first
	// nonzero digit is the k-th after the point (0.05 has -2). zero says
	// there is no nonzero digit at all.
	lead, zero := intDigits-1, data[intStart] == '0'
	if i < len(data) && data[i] == '.' {
		i++
		fracStart := i
		for i < len(data) && isDigit(data[i]) {
			if zero && data[i] != '0' {
				lead, zero = -(i - fracStart + 1), false
			}
			i++
		}
		if i == fracStart {
			return d.badNumber(start, i, "expected digit after decimal point")
		}
	}
	exp := 0
	if i < len(data) && data[i]|0x20 == 'e' {
		i++
		neg := false
		if i < len(data) && (data[i] == '+' || data[i] == '-') {
			neg = data[i] == '-'
			i++
		}
		expStart := i
		for i < len(data) && isDigit(data[i]) {
			if exp < expSaturate {
				exp = exp*10 + int(data[i]-'0')
			}
			i++
		}
		if i == expStart {
			return d.badNumber(start, i, "expected digit in exponent")
		}
		if neg {
			exp = -exp
		}
	}
	if n := i - start; n > d.lim.MaxNumberLen {
		return d.fail(CodeNumberRange, start, "number literal of "+strconv.Itoa(n)+" bytes, longer than "+strconv.Itoa(d.lim.MaxNumberLen))
	}
	eff := exp
	if !zero {
		eff += lead
	}
	if eff > d.lim.MaxExponent || eff < -d.lim.MaxExponent {
		what := "decimal exponent " + strconv.Itoa(eff)
		if exp >= expSaturate || exp <= -expSaturate {
			what = "a decimal exponent" // the exact value was not kept
		}
		return d.fail(CodeNumberRange, start, "number "+strconv.Quote(d.s[start:i])+" has "+what+", beyond ±"+strconv.Itoa(d.lim.MaxExponent))
	}
	// A nonzero number that a 64-bit float turns into ±Infinity or 0 is
	// refused: a consumer parsing doubles would read another value than
	// the one validated (docs/decisions/0014-float64-range.md). Only
	// literals whose first significant digit is at 10^308 or beyond, or at
	// 10^-324 or below, need the exact check.
	if !zero && (eff >= 308 || eff <= -324) && !d.lim.BeyondFloat64 {
		switch f, _ := strconv.ParseFloat(d.s[start:i], 64); {
		case f > math.MaxFloat64 || f < -math.MaxFloat64:
			return d.fail(CodeNumberRange, start, "number "+strconv.Quote(d.s[start:i])+" is beyond the range of a 64-bit float (±1.7976931348623157e308): consumers parsing doubles would read it as Infinity")
		case f == 0:
			return d.fail(CodeNumberRange, start, "number "+strconv.Quote(d.s[start:i])+" is not zero but smaller than the smallest 64-bit float (4.9e-324): consumers parsing doubles would read it as 0")
		}
	}
	d.i = i
	d.leaf(KindNumber, d.s[start:i])
	return nil
}

// badNumber reports a malformed number literal starting at start; end is
// just past the byte where it went wrong.
func (d *decoder) badNumber(start, end int, why string) *Error {
	if end > len(d.data) {
		end = len(d.data)
	}
	lit := string(d.data[start:end])
	if hasPrefix(d.data[start:], "-Infinity") {
		return d.fail(CodeSyntax, start, "invalid value: NaN and Infinity are not JSON numbers")
	}
	return d.fail(CodeSyntax, start, "invalid number "+strconv.Quote(lit)+": "+why)
}

func isDigit(c byte) bool { return c-'0' <= 9 }

func hasPrefix(b []byte, s string) bool {
	return len(b) >= len(s) && string(b[:len(s)]) == s
}

// quoteByte describes a byte of the input for an error message.
func quoteByte(c byte) string {
	if c >= 0x20 && c < 0x7f {
		return strconv.QuoteRune(rune(c))
	}
	return "byte " + hexByte(c)
}

func hexByte(c byte) string {
	const hex = "0123456789abcdef"
	return "0x" + string([]byte{hex[c>>4], hex[c&15]})
}
