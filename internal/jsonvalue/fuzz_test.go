package jsonvalue

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// numericSchema applies every numeric keyword, and uniqueItems, to every
// value of a document at any depth: the keywords for which jsonschema v6
// turns number literals into big.Rat (and panics on some of them).
const numericSchema = `{
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "minimum": -1e300, "maximum": 1e300,
  "exclusiveMinimum": -1e301, "exclusiveMaximum": 1e301,
  "multipleOf": 0.5,
  "uniqueItems": true,
  "items": {"$ref": "#"},
  "additionalProperties": {"$ref": "#"}
}`

func compileSchema(t testing.TB, url, src string) *jsonschema.Schema {
	t.Helper()
	doc, err := jsonschema.UnmarshalJSON(strings.NewReader(src))
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource(url, doc); err != nil {
		t.Fatal(err)
	}
	sch, err := c.Compile(url)
	if err != nil {
		t.Fatal(err)
	}
	return sch
}

// FuzzParse compares Parse with encoding/json (UseNumber, into any):
//   - Parse never panics, and fails only with an *Error with a known code,
//     an offset inside the input and a pointer that is "" or starts with "/";
//   - when Parse succeeds, encoding/json succeeds with a DeepEqual value;
//   - when encoding/json fails, Parse fails;
//   - when encoding/json succeeds and Parse fails, the reason is one of the
//     strictness rules encoding/json does not apply (duplicate keys, invalid
//     UTF-8, number limits, depth), never syntax;
//   - a value Parse accepts survives json.Marshal and Parse again unchanged,
//     and tighter limits only ever turn success into failure;
//   - jsonschema v6 does not panic validating a value Parse accepted with
//     the default limits, even with every numeric keyword applied to it.
func FuzzParse(f *testing.F) {
	for _, doc := range validCorpus(f) {
		f.Add(doc)
	}
	for _, tc := range errorCases {
		f.Add([]byte(tc.in))
	}
	numeric := compileSchema(f, "numeric.json", numericSchema)
	f.Fuzz(func(t *testing.T, data []byte) {
		got, err := Parse(data, Limits{})
		want, refErr := refDecode(data)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("error is %T, want *Error", err)
			}
			switch e.Code {
			case CodeSyntax, CodeEmpty, CodeDuplicateKey, CodeInvalidUTF8, CodeNumberRange, CodeTooDeep:
			default:
				t.Fatalf("unknown code %q", e.Code)
			}
			if e.Offset < 0 || e.Offset > len(data) {
				t.Fatalf("offset %d outside the input of %d bytes", e.Offset, len(data))
			}
			if e.Pointer != "" && !strings.HasPrefix(e.Pointer, "/") {
				t.Fatalf("pointer %q", e.Pointer)
			}
			if e.Msg == "" || !utf8.ValidString(e.Msg) {
				t.Fatalf("message %q", e.Msg)
			}
			if got != nil {
				t.Fatalf("value %#v alongside an error", got)
			}
			if refErr == nil && (e.Code == CodeSyntax || e.Code == CodeEmpty) {
				t.Fatalf("Parse: %v; encoding/json accepts %q", err, data)
			}
			return
		}
		if refErr != nil {
			t.Fatalf("Parse accepts %q, encoding/json says %v", data, refErr)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("Parse and encoding/json differ on %q\n got: %#v\nwant: %#v", data, got, want)
		}

		out, err := json.Marshal(got)
		if err != nil {
			t.Fatalf("json.Marshal of a parsed value: %v", err)
		}
		again, err := Parse(out, Limits{})
		if err != nil || !reflect.DeepEqual(again, got) {
			t.Fatalf("Parse(json.Marshal(v)) = %#v, %v; want v = %#v", again, err, got)
		}

		tight, err := Parse(data, Limits{MaxDepth: 3, MaxNumberLen: 8, MaxExponent: 5})
		if err == nil && !reflect.DeepEqual(tight, got) {
			t.Fatalf("tighter limits changed the value: %#v", tight)
		}

		func() {
			defer func() {
				if r := recover(); r != nil {
					t.Fatalf("jsonschema panics validating %q: %v", data, r)
				}
			}()
			_ = numeric.Validate(got)
		}()
	})
}
