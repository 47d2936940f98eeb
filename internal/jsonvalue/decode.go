package jsonvalue

import (
	"encoding/binary"
	"encoding/json"
	"strconv"
	"sync"
	"unicode/utf8"
)

// smallObject is how many members an object checks for duplicate keys by
// comparing each new key with the earlier ones; larger objects use a set.
const smallObject = 16

// maxPooledSet is the size above which a key set is dropped rather than
// cleared for reuse.
const maxPooledSet = 1024

// maxPooledScratch bounds the scratch capacity a decoder keeps when it goes
// back to the pool, so one huge document does not pin memory.
const maxPooledScratch = 4096

// member is an object member waiting on the scratch stack.
type member struct {
	key string
	val any
}

// decoder is the state of one Parse call. Decoders are pooled for their
// scratch stacks.
type decoder struct {
	data  []byte
	s     string // string(data): strings without escapes are substrings of it
	i     int    // read position in data
	depth int
	lim   Limits

	vals []any    // scratch stack of array elements, shared by all levels
	mems []member // scratch stack of object members, shared by all levels
	buf  []byte   // scratch for unescaping a string

	sets     []map[string]struct{} // key sets of the open large objects, innermost last
	setsUsed int

	// segs collects the reference tokens of the failing value's JSON
	// pointer, innermost first and not yet escaped, as an error unwinds.
	segs []string
}

var decoderPool = sync.Pool{New: func() any { return new(decoder) }}

func getDecoder() *decoder { return decoderPool.Get().(*decoder) }

func putDecoder(d *decoder) {
	// Drop references into the result so the pool does not keep it alive.
	// On success every level has already cleared what it used; after an
	// error the abandoned levels are still on the stacks.
	clear(d.vals)
	clear(d.mems)
	d.vals, d.mems = d.vals[:0], d.mems[:0]
	for d.setsUsed > 0 {
		d.releaseSet()
	}
	d.data, d.s = nil, ""
	clear(d.segs)
	d.segs = d.segs[:0]
	if cap(d.vals) > maxPooledScratch || cap(d.mems) > maxPooledScratch || cap(d.buf) > 16*maxPooledScratch {
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

func (d *decoder) parse(data []byte, lim Limits) (any, *Error) {
	d.data, d.s, d.i, d.depth, d.lim = data, string(data), 0, 0, lim
	d.skipWS()
	if d.i >= len(d.data) {
		return nil, d.fail(CodeEmpty, d.i, "no value: input is empty or only whitespace")
	}
	v, err := d.value()
	if err != nil {
		return nil, err
	}
	d.skipWS()
	if d.i < len(d.data) {
		return nil, d.fail(CodeSyntax, d.i, "invalid character "+quoteByte(d.data[d.i])+" after top-level value")
	}
	return v, nil
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

// value decodes the value at d.i, which the caller has checked is in range
// and not whitespace.
func (d *decoder) value() (any, *Error) {
	switch c := d.data[d.i]; c {
	case '"':
		s, err := d.str()
		if err != nil {
			return nil, err
		}
		return s, nil
	case '{':
		return d.object()
	case '[':
		return d.array()
	case 't':
		if err := d.literal("true"); err != nil {
			return nil, err
		}
		return true, nil
	case 'f':
		if err := d.literal("false"); err != nil {
			return nil, err
		}
		return false, nil
	case 'n':
		return nil, d.literal("null")
	default:
		if c == '-' || c-'0' <= 9 {
			return d.number()
		}
		return nil, d.badValueStart()
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

func (d *decoder) array() (any, *Error) {
	start := d.i
	if err := d.enter(start); err != nil {
		return nil, err
	}
	d.i++
	d.skipWS()
	if d.i >= len(d.data) {
		return nil, d.eof("in array")
	}
	if d.data[d.i] == ']' {
		d.i++
		d.depth--
		return []any{}, nil
	}
	base := len(d.vals)
	for {
		n := len(d.vals) - base // index of this element
		v, err := d.value()
		if err != nil {
			d.segs = append(d.segs, strconv.Itoa(n))
			return nil, err
		}
		d.vals = append(d.vals, v)
		d.skipWS()
		if d.i >= len(d.data) {
			return nil, d.eof("in array")
		}
		switch d.data[d.i] {
		case ',':
			d.i++
			d.skipWS()
			if d.i >= len(d.data) {
				return nil, d.eof("in array")
			}
			if d.data[d.i] == ']' {
				return nil, d.fail(CodeSyntax, d.i, "trailing comma in array")
			}
			continue
		case ']':
			d.i++
		default:
			return nil, d.fail(CodeSyntax, d.i, "invalid character "+quoteByte(d.data[d.i])+" after array element, expected ',' or ']'")
		}
		break
	}
	out := make([]any, len(d.vals)-base)
	copy(out, d.vals[base:])
	clear(d.vals[base:])
	d.vals = d.vals[:base]
	d.depth--
	return out, nil
}

func (d *decoder) object() (any, *Error) {
	start := d.i
	if err := d.enter(start); err != nil {
		return nil, err
	}
	d.i++
	d.skipWS()
	if d.i >= len(d.data) {
		return nil, d.eof("in object")
	}
	if d.data[d.i] == '}' {
		d.i++
		d.depth--
		return map[string]any{}, nil
	}
	base := len(d.mems)
	// Members collect on d.mems and the map is made at the end, at its
	// exact size. Up to smallObject members a new key is checked against
	// the earlier ones one by one; past that, against a pooled set.
	var seen map[string]struct{}
	for {
		if d.data[d.i] != '"' {
			return nil, d.fail(CodeSyntax, d.i, "invalid character "+quoteByte(d.data[d.i])+" looking for object key string")
		}
		keyOff := d.i
		k, err := d.str()
		if err != nil {
			return nil, err
		}
		dup := false
		if seen != nil {
			n := len(seen)
			seen[k] = struct{}{}
			dup = len(seen) == n
		} else {
			for j := base; j < len(d.mems); j++ {
				if d.mems[j].key == k {
					dup = true
					break
				}
			}
		}
		if dup {
			err := d.fail(CodeDuplicateKey, keyOff, "duplicate key "+strconv.Quote(k))
			d.segs = append(d.segs, k)
			return nil, err
		}
		d.skipWS()
		if d.i >= len(d.data) {
			return nil, d.eof("in object")
		}
		if d.data[d.i] != ':' {
			return nil, d.fail(CodeSyntax, d.i, "invalid character "+quoteByte(d.data[d.i])+" after object key, expected ':'")
		}
		d.i++
		d.skipWS()
		if d.i >= len(d.data) {
			return nil, d.eof("in object")
		}
		v, err := d.value()
		if err != nil {
			d.segs = append(d.segs, k)
			return nil, err
		}
		d.mems = append(d.mems, member{k, v})
		if seen == nil && len(d.mems)-base == smallObject {
			seen = d.getSet()
			for _, mem := range d.mems[base:] {
				seen[mem.key] = struct{}{}
			}
		}
		d.skipWS()
		if d.i >= len(d.data) {
			return nil, d.eof("in object")
		}
		switch d.data[d.i] {
		case ',':
			d.i++
			d.skipWS()
			if d.i >= len(d.data) {
				return nil, d.eof("in object")
			}
			if d.data[d.i] == '}' {
				return nil, d.fail(CodeSyntax, d.i, "trailing comma in object")
			}
			continue
		case '}':
			d.i++
		default:
			return nil, d.fail(CodeSyntax, d.i, "invalid character "+quoteByte(d.data[d.i])+" after object member, expected ',' or '}'")
		}
		break
	}
	if seen != nil {
		d.releaseSet()
	}
	m := make(map[string]any, len(d.mems)-base)
	for _, mem := range d.mems[base:] {
		m[mem.key] = mem.val
	}
	clear(d.mems[base:])
	d.mems = d.mems[:base]
	d.depth--
	return m, nil
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

// hasStop reports whether any of the eight bytes in x is a stringStop byte:
// one with the high bit set, one below 0x20, a quote or a backslash. It uses
// the SWAR test for a byte below n, (x - n*lsb) &^ x & msb, which is exact
// (as a whole, not per byte) when no byte has its high bit set; and when one
// has, the answer is true anyway.
func hasStop(x uint64) bool {
	q := x ^ '"'*lsb
	b := x ^ '\\'*lsb
	return (x|(x-0x20*lsb)&^x|(q-lsb)&^q|(b-lsb)&^b)&msb != 0
}

// str decodes the string whose opening quote is at d.i.
func (d *decoder) str() (string, *Error) {
	start := d.i
	data := d.data
	i := start + 1
	for i < len(data) {
		// Skip eight plain bytes at a time while there are eight.
		for i+8 <= len(data) && !hasStop(binary.LittleEndian.Uint64(data[i:])) {
			i += 8
		}
		if i >= len(data) {
			break
		}
		c := data[i]
		if !stringStop[c] {
			i++
			continue
		}
		switch {
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
	return "", d.fail(CodeSyntax, start, "unterminated string")
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
func (d *decoder) number() (any, *Error) {
	data := d.data
	start := d.i
	i := start
	if data[i] == '-' {
		i++
	}
	intStart := i
	switch {
	case i >= len(data) || !isDigit(data[i]):
		return nil, d.badNumber(start, i, "expected digit")
	case data[i] == '0':
		i++
		if i < len(data) && isDigit(data[i]) {
			return nil, d.badNumber(start, i+1, "leading zero")
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
			return nil, d.badNumber(start, i, "expected digit after decimal point")
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
			return nil, d.badNumber(start, i, "expected digit in exponent")
		}
		if neg {
			exp = -exp
		}
	}
	if n := i - start; n > d.lim.MaxNumberLen {
		return nil, d.fail(CodeNumberRange, start, "number literal of "+strconv.Itoa(n)+" bytes, longer than "+strconv.Itoa(d.lim.MaxNumberLen))
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
		return nil, d.fail(CodeNumberRange, start, "number "+strconv.Quote(d.s[start:i])+" has "+what+", beyond ±"+strconv.Itoa(d.lim.MaxExponent))
	}
	d.i = i
	return json.Number(d.s[start:i]), nil
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
