package jsonvalue

import (
	"bytes"
	"encoding/json"
	"errors"
	"math/bits"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
)

// refDecode is the reference decode: what jsonschema.UnmarshalJSON does
// (encoding/json, UseNumber, into any, nothing after the value).
func refDecode(data []byte) (any, error) {
	if !json.Valid(data) {
		var v any
		err := json.Unmarshal(data, &v)
		if err == nil {
			err = errors.New("json.Valid rejected the input")
		}
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	return v, nil
}

// nest wraps inner in depth levels of open/close.
func nest(depth int, open, inner, close string) string {
	return strings.Repeat(open, depth) + inner + strings.Repeat(close, depth)
}

// validCorpus is the corpus of valid documents: every file in
// testdata/valid and the generated cases below.
func validCorpus(t testing.TB) map[string][]byte {
	t.Helper()
	corpus := map[string][]byte{}
	files, err := filepath.Glob(filepath.Join("testdata", "valid", "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no files in testdata/valid")
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		corpus[filepath.Base(f)] = b
	}
	bigObject := func(n int) string {
		var b strings.Builder
		b.WriteString("{")
		for i := range n {
			if i > 0 {
				b.WriteString(",")
			}
			b.WriteString(`"field_` + strings.Repeat("x", i%7) + string(rune('a'+i%26)) + "_" + itoa(i) + `":` + itoa(i*37))
		}
		b.WriteString("}")
		return b.String()
	}
	for name, doc := range map[string]string{
		"depth 128 arrays":          nest(DefaultMaxDepth, "[", "1", "]"),
		"depth 128 objects":         nest(DefaultMaxDepth, `{"k":`, "null", "}"),
		"depth 128 mixed":           nest(DefaultMaxDepth/2, `{"a":[`, `"deep"`, "]}"),
		"object of 16 members":      bigObject(smallObject),
		"object of 17 members":      bigObject(smallObject + 1),
		"object of 500 members":     bigObject(500),
		"array of 1000":             "[" + strings.Repeat(`1,"s",{},[],`, 250) + "null]",
		"objects in array":          "[" + strings.Repeat(`{"a":1,"b":[2,{"c":3}]},`, 50) + "{}]",
		"max length number":         strings.Repeat("9", DefaultMaxNumberLen),
		"float64 edges":             "[1.7976931348623157e308,-1.7976931348623157e308,1.7976931348623158e308,9.99e307,4.9e-324,-2.5e-324,1e-323,2.2250738585072014e-308,0e400]",
		"all escapes in a key":      `{"\"\\\/\b\f\n\r\t\u00e9\ud83d\ude00":1}`,
		"escape at string start":    `"\n"`,
		"escape at string end":      `"abc\\"`,
		"only escapes":              `"\u0041\u0042"`,
		"utf8 then escape":          `"é\té"`,
		"surrogate pair upper case": `"\uD83D\uDE00"`,
		"whitespace everywhere":     " \t\r\n{ \t\r\n\"a\" \t\r\n: \t\r\n[ \t\r\n1 \t\r\n, \t\r\n2 \t\r\n] \t\r\n} \t\r\n",
		"true":                      "true",
		"false":                     "false",
		"empty string":              `""`,
		"negative zero":             "-0",
		"keys like numbers":         `{"0":0,"1":1,"-1":-1}`,
	} {
		corpus[name] = []byte(doc)
	}
	return corpus
}

func itoa(i int) string {
	b, _ := json.Marshal(i)
	return string(b)
}

// TestParseMatchesEncodingJSON is the differential test: every valid
// document decodes to exactly what encoding/json with UseNumber produces.
func TestParseMatchesEncodingJSON(t *testing.T) {
	for name, doc := range validCorpus(t) {
		t.Run(name, func(t *testing.T) {
			want, err := refDecode(doc)
			if err != nil {
				t.Fatalf("encoding/json rejects a corpus document: %v", err)
			}
			got, err := Parse(doc, Limits{})
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("Parse and encoding/json differ\n got: %#v\nwant: %#v", got, want)
			}
		})
	}
}

func TestParseShapes(t *testing.T) {
	v, err := Parse([]byte(`{"a":[],"o":{},"n":null,"x":1.50,"s":"a\u00e9"}`), Limits{})
	if err != nil {
		t.Fatal(err)
	}
	m := v.(map[string]any)
	if a, ok := m["a"].([]any); !ok || a == nil || len(a) != 0 {
		t.Errorf("empty array = %#v, want non-nil []any{}", m["a"])
	}
	if o, ok := m["o"].(map[string]any); !ok || o == nil || len(o) != 0 {
		t.Errorf("empty object = %#v, want non-nil map[string]any{}", m["o"])
	}
	if n, ok := m["n"]; !ok || n != nil {
		t.Errorf("null = %#v, present %v; want a nil member", n, ok)
	}
	if x := m["x"]; x != json.Number("1.50") {
		t.Errorf("number = %#v, want json.Number(\"1.50\") as written", x)
	}
	if s := m["s"]; s != "aé" {
		t.Errorf("string = %#v, want \"aé\"", s)
	}
}

// TestParseDoesNotAliasInput checks the result survives the caller reusing
// its buffer, as a Kafka client does.
func TestParseDoesNotAliasInput(t *testing.T) {
	data := []byte(`{"key":"value","n":12,"a":["x"]}`)
	v, err := Parse(data, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	for i := range data {
		data[i] = ' '
	}
	want := map[string]any{"key": "value", "n": json.Number("12"), "a": []any{"x"}}
	if !reflect.DeepEqual(v, want) {
		t.Fatalf("result changed with the input buffer: %#v", v)
	}
}

type errCase struct {
	name    string
	in      string
	code    string
	offset  int
	pointer string
	msg     string // substring of Msg; empty to skip
}

var (
	deep129    = nest(DefaultMaxDepth+1, "[", "", "]")
	deep129Ptr = strings.Repeat("/0", DefaultMaxDepth)
	digits200  = strings.Repeat("1234567890", 20)
	errorCases = []errCase{
		// The cases the contract names.
		{"duplicate key in array in object", `{"items":[{"sku":"a"},{"sku":"b","qty":1,"sku":"c"}]}`, CodeDuplicateKey, 41, "/items/1/sku", `duplicate key "sku"`},
		{"leading zero", `01`, CodeSyntax, 0, "", "leading zero"},
		{"no fraction digits", `1.`, CodeSyntax, 0, "", "expected digit after decimal point"},
		{"lone minus", `-`, CodeSyntax, 0, "", "expected digit"},
		{"NaN", `NaN`, CodeSyntax, 0, "", "NaN and Infinity"},
		{"trailing comma in array", `[1,]`, CodeSyntax, 3, "", "trailing comma in array"},
		{"trailing comma in object", `{"a":1,}`, CodeSyntax, 7, "", "trailing comma in object"},
		{"trailing garbage", `{} x`, CodeSyntax, 3, "", "after top-level value"},
		{"raw control character", "{\"a\":\"x\x01y\"}", CodeSyntax, 7, "/a", "control character 0x01"},
		{"bad escape", `{"k":["ok","a\xb"]}`, CodeSyntax, 13, "/k/1", `invalid escape "\\x"`},
		{"lone surrogate", `"\ud800"`, CodeInvalidUTF8, 1, "", "lone high surrogate"},
		{"invalid utf8 byte", "{\"name\":\"ab\xff\"}", CodeInvalidUTF8, 11, "/name", "invalid UTF-8 byte 0xff"},
		{"exponent too large", `1e401`, CodeNumberRange, 0, "", "exponent 401"},
		{"beyond float64", `{"n":1e309}`, CodeNumberRange, 5, "/n", "read it as Infinity"},
		{"below float64", `[1e-330]`, CodeNumberRange, 1, "/0", "read it as 0"},
		{"200-digit number", `{"n":` + digits200 + `}`, CodeNumberRange, 5, "/n", "200 bytes"},
		{"depth 129", deep129, CodeTooDeep, DefaultMaxDepth, deep129Ptr, "deeper than 128"},
		{"empty input", ``, CodeEmpty, 0, "", ""},
		{"whitespace only", " \n\t\r ", CodeEmpty, 5, "", ""},

		// Syntax, more.
		{"unterminated string", `{"a":"abc`, CodeSyntax, 5, "/a", "unterminated string"},
		{"unterminated escaped string", `["a\n`, CodeSyntax, 1, "/0", "unterminated string"},
		{"backslash at end", `"a\`, CodeSyntax, 0, "", "unterminated string"},
		{"raw newline in string", "\"a\nb\"", CodeSyntax, 2, "", "control character 0x0a"},
		{"raw tab after escape", "\"\\n\tb\"", CodeSyntax, 3, "", "control character 0x09"},
		{"raw NUL in key", "{\"a\x00\":1}", CodeSyntax, 3, "", "control character 0x00"},
		{"short unicode escape", `"\u12"`, CodeSyntax, 1, "", `\u escape`},
		{"bad hex in unicode escape", `"\u12g4"`, CodeSyntax, 1, "", `\u escape`},
		{"single quotes", `{'a':1}`, CodeSyntax, 1, "", "object key string"},
		{"number key", `{1:2}`, CodeSyntax, 1, "", "object key string"},
		{"missing colon", `{"a" 1}`, CodeSyntax, 5, "", "expected ':'"},
		{"missing comma in array", `[1 2]`, CodeSyntax, 3, "", "expected ',' or ']'"},
		{"missing comma in object", `{"a":1 "b":2}`, CodeSyntax, 7, "", "expected ',' or '}'"},
		{"comma before value", `[,1]`, CodeSyntax, 1, "/0", "beginning of value"},
		{"double comma", `[1,,2]`, CodeSyntax, 3, "/1", "beginning of value"},
		{"leading comma in object", `{,}`, CodeSyntax, 1, "", "object key string"},
		{"unclosed array", `[1,2`, CodeSyntax, 4, "", "end of input"},
		{"unclosed object", `{"a":1`, CodeSyntax, 6, "", "end of input"},
		{"object ends after colon", `{"a":`, CodeSyntax, 5, "", "end of input"},
		{"object ends after key", `{"a"`, CodeSyntax, 4, "", "end of input"},
		{"lone open bracket", `[`, CodeSyntax, 1, "", "end of input"},
		{"mismatched close", `[1}`, CodeSyntax, 2, "", "expected ',' or ']'"},
		{"close only", `]`, CodeSyntax, 0, "", "beginning of value"},
		{"truncated literal", `tru`, CodeSyntax, 3, "", "literal true"},
		{"misspelt literal", `[nul1]`, CodeSyntax, 4, "/0", "literal null"},
		{"capitalised literal", `True`, CodeSyntax, 0, "", "beginning of value"},
		{"literal with trailing letters", `nullx`, CodeSyntax, 4, "", "after top-level value"},
		{"two values", `1 2`, CodeSyntax, 2, "", "after top-level value"},
		{"byte order mark", "\xef\xbb\xbf{}", CodeSyntax, 0, "", "byte 0xef"},
		{"invalid byte outside string", "[\xff]", CodeSyntax, 1, "/0", "byte 0xff"},
		{"Infinity", `[Infinity]`, CodeSyntax, 1, "/0", "NaN and Infinity"},
		{"minus Infinity", `-Infinity`, CodeSyntax, 0, "", "NaN and Infinity"},
		{"plus sign", `+1`, CodeSyntax, 0, "", "beginning of value"},
		{"leading point", `.5`, CodeSyntax, 0, "", "beginning of value"},
		{"negative leading zero", `-01`, CodeSyntax, 0, "", "leading zero"},
		{"double zero", `00`, CodeSyntax, 0, "", "leading zero"},
		{"point then exponent", `1.e3`, CodeSyntax, 0, "", "after decimal point"},
		{"empty exponent", `1e`, CodeSyntax, 0, "", "digit in exponent"},
		{"signed empty exponent", `[1e+]`, CodeSyntax, 1, "/0", "digit in exponent"},
		{"hex number", `0x10`, CodeSyntax, 1, "", "after top-level value"},
		{"comment", `{"a":1 // c` + "\n}", CodeSyntax, 7, "", "expected ',' or '}'"},

		// UTF-8 and surrogates.
		{"lone low surrogate", `["\udc00"]`, CodeInvalidUTF8, 2, "/0", "lone low surrogate"},
		{"high surrogate then letter", `"\ud800\u0041"`, CodeInvalidUTF8, 1, "", "lone high surrogate"},
		{"high surrogate then high", `"\ud800\ud800"`, CodeInvalidUTF8, 1, "", "lone high surrogate"},
		{"high surrogate at end", `"ab\uD83D"`, CodeInvalidUTF8, 3, "", "lone high surrogate"},
		{"high surrogate then escape", `"\ud83d\n"`, CodeInvalidUTF8, 1, "", "lone high surrogate"},
		{"overlong encoding", "\"\xc0\xaf\"", CodeInvalidUTF8, 1, "", "invalid UTF-8"},
		{"encoded surrogate", "\"a\xed\xa0\x80\"", CodeInvalidUTF8, 2, "", "invalid UTF-8"},
		{"truncated sequence", "\"\xe2\x82\"", CodeInvalidUTF8, 1, "", "invalid UTF-8"},
		{"beyond U+10FFFF", "\"\xf4\x90\x80\x80\"", CodeInvalidUTF8, 1, "", "invalid UTF-8"},
		{"invalid utf8 after escape", "\"\\t\xff\"", CodeInvalidUTF8, 3, "", "invalid UTF-8"},
		{"invalid utf8 in key", "{\"ok\":1,\"b\xff\":2}", CodeInvalidUTF8, 10, "", "invalid UTF-8"},

		// Duplicates.
		{"duplicate key at root", `{"a":1,"b":2,"a":3}`, CodeDuplicateKey, 13, "/a", `duplicate key "a"`},
		{"duplicate key by escape", `{"a":1,"\u0061":2}`, CodeDuplicateKey, 7, "/a", `duplicate key "a"`},
		{"duplicate empty key", `{"":1,"":2}`, CodeDuplicateKey, 6, "/", `duplicate key ""`},
		{"duplicate with different values", `{"a":{"x":1},"a":[]}`, CodeDuplicateKey, 13, "/a", `duplicate key "a"`},
		{"duplicate in large object", largeObjectWithDuplicate(), CodeDuplicateKey, strings.LastIndex(largeObjectWithDuplicate(), `"k3"`), "/k3", `duplicate key "k3"`},
		{"same key in sibling objects is fine, then dup", `[{"a":1},{"a":1},{"a":1,"a":1}]`, CodeDuplicateKey, 24, "/2/a", ""},

		// Pointers.
		{"pointer escapes", `{"a/b":{"c~d":[tru]}}`, CodeSyntax, 18, "/a~1b/c~0d/0", "literal true"},
		{"pointer of escaped key", `{"\u00e9\n":[0,1,02]}`, CodeSyntax, 17, "/é\n/2", "leading zero"},
		{"pointer of deep index", `[[],[],[[0,1,2,"\x"]]]`, CodeSyntax, 16, "/2/0/3", "invalid escape"},

		// Numbers out of range.
		{"negative exponent too small", `1e-401`, CodeNumberRange, 0, "", "exponent -401"},
		{"effective exponent from integer digits", `12.5e400`, CodeNumberRange, 0, "", "exponent 401"},
		{"effective exponent from fraction zeros", `0.001e-398`, CodeNumberRange, 0, "", "exponent -401"},
		{"zero with huge exponent", `0e500`, CodeNumberRange, 0, "", "exponent 500"},
		{"huge exponent literal", `[1e99999999999999999999999]`, CodeNumberRange, 1, "/0", "has a decimal exponent, beyond ±400"},
		{"huge negative exponent literal", `[1e-99999999999999999999999]`, CodeNumberRange, 1, "/0", "has a decimal exponent, beyond ±400"},
		{"129-byte number", strings.Repeat("9", DefaultMaxNumberLen+1), CodeNumberRange, 0, "", "129 bytes"},
		{"jsonschema panic literal", `{"w":1e1000001}`, CodeNumberRange, 5, "/w", ""},
	}
)

func largeObjectWithDuplicate() string {
	var b strings.Builder
	b.WriteString("{")
	for i := range 3 * smallObject {
		b.WriteString(`"k` + itoa(i) + `":0,`)
	}
	b.WriteString(`"k3":1}`)
	return b.String()
}

func TestParseErrors(t *testing.T) {
	for _, tc := range errorCases {
		t.Run(tc.name, func(t *testing.T) {
			v, err := Parse([]byte(tc.in), Limits{})
			if err == nil {
				t.Fatalf("Parse(%q) = %#v, want a %s error", tc.in, v, tc.code)
			}
			if v != nil {
				t.Errorf("value = %#v alongside an error, want nil", v)
			}
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("error is %T, want *Error", err)
			}
			if e.Code != tc.code || e.Offset != tc.offset || e.Pointer != tc.pointer {
				t.Errorf("Parse(%q)\n got code=%s offset=%d pointer=%q (%v)\nwant code=%s offset=%d pointer=%q",
					tc.in, e.Code, e.Offset, e.Pointer, e, tc.code, tc.offset, tc.pointer)
			}
			if !strings.Contains(e.Msg, tc.msg) {
				t.Errorf("Msg = %q, want it to contain %q", e.Msg, tc.msg)
			}
			if e.Msg == "" || e.Msg != strings.ToLower(e.Msg[:1])+e.Msg[1:] || strings.HasSuffix(e.Msg, ".") {
				t.Errorf("Msg = %q: want non-empty, lower case start, no trailing period", e.Msg)
			}
		})
	}
}

// TestParseErrorsAgreeWithEncodingJSON checks that every syntax error is one
// for encoding/json too, and that the strictness codes are only used where
// encoding/json is lax.
func TestParseErrorsAgreeWithEncodingJSON(t *testing.T) {
	for _, tc := range errorCases {
		_, refErr := refDecode([]byte(tc.in))
		switch tc.code {
		case CodeSyntax, CodeEmpty:
			if refErr == nil {
				t.Errorf("%s: %q is a %s error for Parse but encoding/json accepts it", tc.name, tc.in, tc.code)
			}
		case CodeDuplicateKey, CodeInvalidUTF8, CodeNumberRange, CodeTooDeep:
			if refErr != nil {
				t.Errorf("%s: %q: encoding/json rejects it too (%v): make the case about %s alone", tc.name, tc.in, refErr, tc.code)
			}
		}
	}
}

func TestErrorString(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want string
	}{
		{`{"items":[{"sku":"a"},{"sku":"b","sku":"c"}]}`, `at /items/1/sku (offset 33): duplicate key "sku"`},
		{``, `at offset 0: no value: input is empty or only whitespace`},
		{`{} x`, `at offset 3: invalid character 'x' after top-level value`},
	} {
		_, err := Parse([]byte(tc.in), Limits{})
		if err == nil || err.Error() != tc.want {
			t.Errorf("Parse(%q) error = %v, want %s", tc.in, err, tc.want)
		}
	}
}

func TestLimits(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   string
		lim  Limits
		code string // "" for success
	}{
		{"default depth 128", nest(128, "[", "", "]"), Limits{}, ""},
		{"default depth 129", nest(129, "[", "", "]"), Limits{}, CodeTooDeep},
		{"negative means default", nest(129, "[", "", "]"), Limits{MaxDepth: -1}, CodeTooDeep},
		{"depth 2 of 2", `{"a":[1]}`, Limits{MaxDepth: 2}, ""},
		{"depth 3 of 2", `{"a":[{}]}`, Limits{MaxDepth: 2}, CodeTooDeep},
		{"depth 1 scalar", `"x"`, Limits{MaxDepth: 1}, ""},
		{"raised depth", nest(1000, `{"a":`, "1", "}"), Limits{MaxDepth: 1000}, ""},
		{"number length 5 of 5", `-1.25`, Limits{MaxNumberLen: 5}, ""},
		{"number length 6 of 5", `-1.250`, Limits{MaxNumberLen: 5}, CodeNumberRange},
		{"raised number length", strings.Repeat("1", 300), Limits{MaxNumberLen: 300, MaxExponent: 300}, ""},
		{"raised length, exponent from digits", strings.Repeat("1", 300), Limits{MaxNumberLen: 300}, ""},
		{"raised length, exponent from digits beyond", strings.Repeat("1", 402), Limits{MaxNumberLen: 500}, CodeNumberRange},
		{"raised length, small fraction", "0." + strings.Repeat("0", 400) + "1", Limits{MaxNumberLen: 500}, CodeNumberRange},
		{"raised length, small fraction at limit", "0." + strings.Repeat("0", 399) + "1", Limits{MaxNumberLen: 500, BeyondFloat64: true}, ""},
		{"exponent at limit beyond float64", "[1e400,1e-400,-1E+400,9.99e400,0.01e402,1234e397]", Limits{BeyondFloat64: true}, ""},
		{"exponent over limit beyond float64", "1e401", Limits{BeyondFloat64: true}, CodeNumberRange},
		{"largest float64", "1.7976931348623157e308", Limits{}, ""},
		{"rounds to the largest float64", "-1.7976931348623158e308", Limits{}, ""},
		{"rounds to Infinity", "1.7976931348623159e308", Limits{}, CodeNumberRange},
		{"beyond float64", "1e309", Limits{}, CodeNumberRange},
		{"beyond float64 by digits", "18e307", Limits{}, CodeNumberRange},
		{"negative beyond float64", "-1e400", Limits{}, CodeNumberRange},
		{"smallest float64", "4.9e-324", Limits{}, ""},
		{"rounds up to the smallest float64", "2.5e-324", Limits{}, ""},
		{"rounds to 0", "2e-324", Limits{}, CodeNumberRange},
		{"far below float64", "-0.001e-398", Limits{}, CodeNumberRange},
		{"zero with a large exponent", "0e400", Limits{}, ""},
		{"beyond float64 let through", "[1e400,1e-400]", Limits{BeyondFloat64: true}, ""},
		{"exponent 10 of 10", `[1e10,-1e-10,0.1e-9,99e9]`, Limits{MaxExponent: 10}, ""},
		{"exponent 11 of 10", `[1e11]`, Limits{MaxExponent: 10}, CodeNumberRange},
		{"digits push exponent", `123456789012`, Limits{MaxExponent: 10}, CodeNumberRange},
		{"zeros after point do not count for nonzero integer part", `1.000000000000001`, Limits{MaxExponent: 1}, ""},
		{"zero value ignores fraction", `0.000000000000000e1`, Limits{MaxExponent: 1}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.in), tc.lim)
			var code string
			if err != nil {
				code = err.(*Error).Code
			}
			if code != tc.code {
				t.Errorf("Parse with %+v = %v, want code %q", tc.lim, err, tc.code)
			}
		})
	}
}

// TestParseAfterErrorAndConcurrently exercises the decoder pool: decoders
// abandoned mid-document must not leak state into later calls.
func TestParseAfterErrorAndConcurrently(t *testing.T) {
	corpus := validCorpus(t)
	want := map[string]any{}
	for name, doc := range corpus {
		v, err := refDecode(doc)
		if err != nil {
			t.Fatal(err)
		}
		want[name] = v
	}
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for round := range 20 {
				for _, tc := range errorCases {
					if _, err := Parse([]byte(tc.in), Limits{}); err == nil {
						t.Errorf("worker %d round %d: %s: no error", w, round, tc.name)
						return
					}
				}
				for name, doc := range corpus {
					got, err := Parse(doc, Limits{})
					if err != nil || !reflect.DeepEqual(got, want[name]) {
						t.Errorf("worker %d round %d: %s: got %v, %v", w, round, name, got, err)
						return
					}
				}
			}
		})
	}
	wg.Wait()
}

func TestStopMask(t *testing.T) {
	// Every byte value in every lane, among plain neighbours.
	for lane := range 8 {
		for c := range 256 {
			var w [8]byte
			for i := range w {
				w[i] = 'a'
			}
			w[lane] = byte(c)
			x := uint64(0)
			for i := 7; i >= 0; i-- {
				x = x<<8 | uint64(w[i])
			}
			want := 8 // no stop byte
			if stringStop[c] {
				want = lane
			}
			if got := firstStop(x); got != want {
				t.Fatalf("stopMask(lane %d = %#02x): first stop at %d, want %d", lane, c, got, want)
			}
		}
	}
	// Pairs of bytes, to catch borrows leaking between lanes.
	for a := range 256 {
		for b := range 256 {
			for lane := range 7 {
				var w [8]byte
				for i := range w {
					w[i] = ' '
				}
				w[lane], w[lane+1] = byte(a), byte(b)
				x := uint64(0)
				for i := 7; i >= 0; i-- {
					x = x<<8 | uint64(w[i])
				}
				want := 8
				switch {
				case stringStop[a]:
					want = lane
				case stringStop[b]:
					want = lane + 1
				}
				if got := firstStop(x); got != want {
					t.Fatalf("stopMask(%#02x,%#02x at %d): first stop at %d, want %d", a, b, lane, got, want)
				}
			}
		}
	}
}

// firstStop is the lane of stopMask's lowest marked byte, 8 for none.
func firstStop(x uint64) int {
	return bits.TrailingZeros64(stopMask(x)) >> 3
}
