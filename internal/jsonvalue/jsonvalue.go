// Package jsonvalue decodes one JSON text, strictly, into the value form that
// JSON Schema validators consume: map[string]any for objects, []any for arrays,
// json.Number for numbers, string, bool and nil. That is the form
// github.com/santhosh-tekuri/jsonschema/v6 validates and the one its
// UnmarshalJSON (encoding/json with UseNumber) produces; for every input that
// Parse accepts, the result is identical (reflect.DeepEqual) to what
// encoding/json would give.
//
// Parse is stricter than encoding/json, on purpose. eventguard enforces event
// contracts: the value a validator sees must be the value every consumer of
// the same bytes will see, whatever JSON library the consumer uses. So:
//
//   - An object with the same key twice (compared after unescaping) is
//     rejected with [CodeDuplicateKey]. encoding/json keeps the last value,
//     other parsers keep the first or both; a validator checking one of them
//     and a consumer reading the other would disagree about the event, and a
//     producer could smuggle a value past the contract that way.
//   - Invalid UTF-8 inside strings and escaped lone surrogates (\ud800 without
//     its low half) are rejected with [CodeInvalidUTF8], as I-JSON (RFC 7493)
//     requires, instead of being silently replaced with U+FFFD.
//   - Everything RFC 8259 forbids is [CodeSyntax]: leading zeros, NaN and
//     Infinity, trailing commas, raw control characters in strings, unknown
//     escapes, trailing data after the value, a byte order mark.
//   - Number literals are bounded ([Limits.MaxNumberLen], [Limits.MaxExponent])
//     because jsonschema v6 turns numbers into big.Rat: a literal like 1e999999
//     costs milliseconds of CPU and 1e1000001 makes it panic.
//   - A nonzero number that a 64-bit float cannot hold (1e400 would be
//     Infinity, 1e-400 would be 0) is rejected with [CodeNumberRange]: a
//     validator checks the exact value, most consumers read a double
//     (docs/decisions/0014-float64-range.md).
//   - Nesting is bounded ([Limits.MaxDepth]).
//
// Numbers keep the literal text exactly as written (json.Number). Strings are
// fully unescaped. Arrays are never nil, even when empty.
//
// Performance: decoding makes a single pass over the input with an index, no
// io.Reader and no reflection, into a [Doc]: a flat tape of nodes. It copies
// the input once into a string, and every number and every string without
// escapes is a substring of that copy, so keys and most values cost no
// allocation of their own; a pooled Doc ([GetDoc]) costs that one copy and
// nothing else. A duplicate key is found by comparing it with the object's
// earlier keys on the tape (up to 16 of them) or in a pooled set (beyond), at
// the moment it is read. The JSON pointer of an error is only built when there
// is an error. [Parse] decodes into a pooled Doc and builds the value from it
// ([Doc.Value]); its strings keep the copy of the input alive while any of
// them is referenced.
package jsonvalue

import (
	"strconv"
	"strings"
)

// Default limits, used for a zero (or negative) field of [Limits].
const (
	// DefaultMaxDepth is the default of [Limits.MaxDepth].
	DefaultMaxDepth = 128
	// DefaultMaxNumberLen is the default of [Limits.MaxNumberLen].
	DefaultMaxNumberLen = 128
	// DefaultMaxExponent is the default of [Limits.MaxExponent].
	DefaultMaxExponent = 400
)

// Limits bound what Parse accepts. The zero value means the documented
// defaults; so does any field that is zero or negative.
type Limits struct {
	// MaxDepth is the deepest nesting of arrays and objects accepted: a
	// scalar at the root has depth 0, [1] depth 1, [[1]] depth 2. Default 128.
	// Parse recurses once per level, so keep this modest.
	MaxDepth int
	// MaxNumberLen is the longest number literal accepted, in bytes, sign,
	// point and exponent included. Default 128.
	MaxNumberLen int
	// MaxExponent is the largest accepted absolute value of a number's
	// decimal exponent in normalised scientific notation (d.ddd×10^e with a
	// nonzero first digit d): 1e400 and 12.5e399 have 400, 0.001e-398 has
	// -401, 123 has 2. For a literal whose value is zero the written exponent
	// counts (0e500 has 500). Default 400.
	MaxExponent int
	// BeyondFloat64 accepts nonzero numbers that a 64-bit float cannot
	// hold (1e400 would be Infinity, 1e-400 would be 0). Default false:
	// refused as [CodeNumberRange]. Tests use it to reach the validators
	// with such numbers; eventguard never sets it.
	BeyondFloat64 bool
}

func (l Limits) withDefaults() Limits {
	if l.MaxDepth <= 0 {
		l.MaxDepth = DefaultMaxDepth
	}
	if l.MaxNumberLen <= 0 {
		l.MaxNumberLen = DefaultMaxNumberLen
	}
	if l.MaxExponent <= 0 {
		l.MaxExponent = DefaultMaxExponent
	}
	return l
}

// Error codes, the values of [Error].Code. They are stable: callers may put
// them in responses and dead-letter headers.
const (
	// CodeSyntax: the input is not JSON: a bad token, trailing data, an
	// unterminated string, a raw control character in a string, an unknown
	// escape, a leading zero, NaN or Infinity, a trailing comma, and so on.
	CodeSyntax = "syntax"
	// CodeDuplicateKey: an object has the same key twice (after unescaping).
	CodeDuplicateKey = "duplicate_key"
	// CodeInvalidUTF8: a string holds bytes that are not valid UTF-8, or an
	// escaped lone surrogate (\ud800 without its pair).
	CodeInvalidUTF8 = "invalid_utf8"
	// CodeNumberRange: a number literal longer than [Limits.MaxNumberLen],
	// with an exponent beyond [Limits.MaxExponent], or nonzero and beyond
	// what a 64-bit float holds (unless [Limits.BeyondFloat64]).
	CodeNumberRange = "number_range"
	// CodeTooDeep: arrays and objects nest deeper than [Limits.MaxDepth].
	CodeTooDeep = "too_deep"
	// CodeEmpty: there is no value at all (empty or whitespace-only input).
	CodeEmpty = "empty"
)

// Error says what was wrong with the input and where. Parse returns every
// failure as an *Error.
type Error struct {
	// Code is one of the Code* constants.
	Code string
	// Offset is the byte offset in the input where the problem starts: the
	// offending byte, the opening quote of a duplicate key, the first byte of
	// a bad number literal or escape, the end of the input when it ends early.
	Offset int
	// Pointer is the RFC 6901 JSON pointer of the value being decoded when
	// the problem was found ("" for the root), e.g. "/items/3/sku". For a
	// duplicate key it names the duplicate member; for a malformed member
	// list (a missing colon, a trailing comma, a bad key) it names the
	// enclosing object or array.
	Pointer string
	// Msg is a human-readable description: lower case, no trailing period.
	Msg string
}

// Error renders the error as `at /items/3/sku (offset 57): duplicate key "sku"`,
// or, at the root, as `at offset 3: invalid character 'x' after top-level value`.
func (e *Error) Error() string {
	if e.Pointer == "" {
		return "at offset " + strconv.Itoa(e.Offset) + ": " + e.Msg
	}
	return "at " + e.Pointer + " (offset " + strconv.Itoa(e.Offset) + "): " + e.Msg
}

// renderPointer renders an RFC 6901 JSON pointer from its reference
// tokens, given innermost first.
func renderPointer(segs []string) string {
	if len(segs) == 0 {
		return ""
	}
	var b strings.Builder
	for i := len(segs) - 1; i >= 0; i-- {
		b.WriteByte('/')
		s := segs[i]
		for j := 0; j < len(s); j++ {
			switch s[j] {
			case '~':
				b.WriteString("~0")
			case '/':
				b.WriteString("~1")
			default:
				b.WriteByte(s[j])
			}
		}
	}
	return b.String()
}

// Parse decodes data, which must hold exactly one JSON value (RFC 8259) with
// optional surrounding whitespace, into map[string]any, []any, json.Number,
// string, bool or nil. Any problem is returned as an *[Error]; Parse never
// panics. Parse does not retain data, but the strings in the result share one
// copy of it. It is [ParseDoc] followed by [Doc.Value].
func Parse(data []byte, lim Limits) (any, error) {
	doc := GetDoc()
	defer PutDoc(doc)
	if err := doc.Parse(data, lim); err != nil {
		return nil, err
	}
	return doc.Value(0), nil
}
