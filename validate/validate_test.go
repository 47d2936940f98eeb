package validate_test

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/eventguard/eventguard/internal/jsonvalue"
	"github.com/eventguard/eventguard/internal/testutil"
	"github.com/eventguard/eventguard/validate"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// testSchema registers testdata/<name>.schema.json as subject <name>-value
// and returns it compiled.
func testSchema(t *testing.T, st *testutil.Stack, name string) *validate.Schema {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name+".schema.json"))
	if err != nil {
		t.Fatal(err)
	}
	st.Register(t, name+"-value", string(b))
	s, err := st.Resolver(t, validate.Options{}).Latest(context.Background(), name+"-value")
	if err != nil {
		t.Fatalf("resolve %s-value: %v", name, err)
	}
	return s
}

// kindsSchema is testdata/kinds.schema.json, one property per violation kind.
func kindsSchema(t *testing.T, st *testutil.Stack) *validate.Schema {
	t.Helper()
	return testSchema(t, st, "kinds")
}

// pk is a violation's path and keyword, the part callers act on.
type pk struct{ Path, Keyword string }

func pathsKeywords(vs []validate.Violation) []pk {
	out := make([]pk, len(vs))
	for i, v := range vs {
		out[i] = pk{v.Path, v.Keyword}
	}
	return out
}

func TestViolationKinds(t *testing.T) {
	t.Parallel()
	st := testutil.Start(t)
	kinds := kindsSchema(t, st)
	uneval := testSchema(t, st, "uneval")

	tests := []struct {
		name   string
		schema *validate.Schema // nil: kinds
		value  string
		code   string // "" means valid
		want   []pk
		// msg is a substring of the first violation's message.
		msg string
	}{
		{name: "valid", value: `{"name":"abc","count":0,"color":"red","items":[{"sku":"A","qty":1}],"a/b~c":"x"}`},
		{name: "valid with whitespace", value: " {\n\t\"name\" : \"abc\" ,\"count\":7 }\r\n"},
		{name: "type", value: `{"name":"abc","count":"1"}`, code: validate.CodeSchemaViolation,
			want: []pk{{"/count", "type"}}, msg: "want integer"},
		{name: "type of a float for an integer", value: `{"name":"abc","count":1.5}`, code: validate.CodeSchemaViolation,
			want: []pk{{"/count", "type"}}},
		{name: "type at the root", value: `[1]`, code: validate.CodeSchemaViolation,
			want: []pk{{"", "type"}}},
		{name: "required", value: `{"name":"abc"}`, code: validate.CodeSchemaViolation,
			want: []pk{{"/count", "required"}}, msg: `missing required property "count"`},
		{name: "required twice", value: `{}`, code: validate.CodeSchemaViolation,
			want: []pk{{"/count", "required"}, {"/name", "required"}}},
		{name: "enum", value: `{"name":"abc","count":1,"color":"blue"}`, code: validate.CodeSchemaViolation,
			want: []pk{{"/color", "enum"}}, msg: "red"},
		{name: "minimum", value: `{"name":"abc","count":-1}`, code: validate.CodeSchemaViolation,
			want: []pk{{"/count", "minimum"}}, msg: "minimum"},
		{name: "pattern", value: `{"name":"ABC","count":1}`, code: validate.CodeSchemaViolation,
			want: []pk{{"/name", "pattern"}}, msg: "^[a-z]+$"},
		{name: "additionalProperties", value: `{"name":"abc","count":1,"extra":true}`, code: validate.CodeSchemaViolation,
			want: []pk{{"/extra", "additionalProperties"}}, msg: `property "extra" is not allowed`},
		{name: "format", value: `{"name":"abc","count":1,"at":"yesterday"}`, code: validate.CodeSchemaViolation,
			want: []pk{{"/at", "format"}}},
		{name: "const", value: `{"name":"abc","count":1,"kind":"other"}`, code: validate.CodeSchemaViolation,
			want: []pk{{"/kind", "const"}}},
		{name: "maxItems", value: `{"name":"abc","count":1,"tags":[1,2,3]}`, code: validate.CodeSchemaViolation,
			want: []pk{{"/tags", "maxItems"}}},
		{name: "uniqueItems", value: `{"name":"abc","count":1,"tags":[1,1.0]}`, code: validate.CodeSchemaViolation,
			want: []pk{{"/tags", "uniqueItems"}}},
		{name: "nested type", value: `{"name":"abc","count":1,"items":[{"sku":7}]}`, code: validate.CodeSchemaViolation,
			want: []pk{{"/items/0/sku", "type"}}},
		{name: "nested required", value: `{"name":"abc","count":1,"items":[{"sku":"A"},{"qty":2}]}`, code: validate.CodeSchemaViolation,
			want: []pk{{"/items/1/sku", "required"}}},
		{name: "nested minimum and additionalProperties", value: `{"name":"abc","count":1,"items":[{"sku":"A","qty":0,"price":1}]}`, code: validate.CodeSchemaViolation,
			want: []pk{{"/items/0/price", "additionalProperties"}, {"/items/0/qty", "minimum"}}},
		{name: "pointer escaping", value: `{"name":"abc","count":1,"a/b~c":1}`, code: validate.CodeSchemaViolation,
			want: []pk{{"/a~1b~0c", "type"}}},
		{name: "several at once, sorted by path", value: `{"name":"ABC","count":-1,"color":"blue","zzz":1}`, code: validate.CodeSchemaViolation,
			want: []pk{{"/color", "enum"}, {"/count", "minimum"}, {"/name", "pattern"}, {"/zzz", "additionalProperties"}}},
		{name: "additionalItems", value: `{"name":"abc","count":1,"pair":["a","b"]}`, code: validate.CodeSchemaViolation,
			want: []pk{{"/pair", "additionalItems"}}, msg: "additionalItem"},
		{name: "false schema for a property", value: `{"name":"abc","count":1,"meta":{"secret":"x","ok":"y"}}`, code: validate.CodeSchemaViolation,
			want: []pk{{"/meta/secret", "false"}}, msg: "the schema is false"},
		{name: "unevaluatedProperties", schema: uneval, value: `{"id":"a","card_number":"4111"}`, code: validate.CodeSchemaViolation,
			want: []pk{{"/card_number", "unevaluatedProperties"}}, msg: `property "card_number" is not allowed (unevaluatedProperties: false)`},
		{name: "unevaluatedItems", schema: uneval, value: `{"list":[1,2]}`, code: validate.CodeSchemaViolation,
			want: []pk{{"/list/1", "unevaluatedItems"}}, msg: "item 1 is not allowed (unevaluatedItems: false)"},
		{name: "malformed: syntax", value: `{"name":"abc",`, code: validate.CodeMalformedJSON,
			want: []pk{{"", "syntax"}}},
		{name: "malformed: empty", value: ``, code: validate.CodeMalformedJSON,
			want: []pk{{"", "empty"}}},
		{name: "malformed: duplicate key", value: `{"name":"abc","count":1,"name":"x"}`, code: validate.CodeMalformedJSON,
			want: []pk{{"/name", "duplicate_key"}}, msg: `duplicate key "name"`},
		{name: "malformed: invalid UTF-8", value: "{\"name\":\"a\xffb\",\"count\":1}", code: validate.CodeMalformedJSON,
			want: []pk{{"/name", "invalid_utf8"}}},
		{name: "malformed: absurd number", value: `{"name":"abc","count":1e1000001}`, code: validate.CodeMalformedJSON,
			want: []pk{{"/count", "number_range"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := kinds
			if tt.schema != nil {
				s = tt.schema
			}
			f := s.Validate([]byte(tt.value))
			if tt.code == "" {
				if f != nil {
					t.Fatalf("want valid, got %s: %+v", f.Message, f.Violations)
				}
				return
			}
			if f == nil {
				t.Fatalf("want %s, got valid", tt.code)
			}
			if f.Code != tt.code {
				t.Errorf("code = %q, want %q (%s)", f.Code, tt.code, f.Message)
			}
			if got := pathsKeywords(f.Violations); fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Errorf("violations (path, keyword) = %v, want %v\nfull: %+v", got, tt.want, f.Violations)
			}
			for _, v := range f.Violations {
				if v.Message == "" || v.Keyword == "" {
					t.Errorf("violation at %q has no keyword or no message: %+v", v.Path, v)
				}
			}
			if tt.msg != "" && !strings.Contains(f.Violations[0].Message, tt.msg) {
				t.Errorf("first message = %q, want it to contain %q", f.Violations[0].Message, tt.msg)
			}
			if f.Error() != f.Message || f.Message == "" {
				t.Errorf("Error() = %q, Message = %q", f.Error(), f.Message)
			}
			if tt.code == validate.CodeSchemaViolation {
				wantPrefix := "value violates " + s.Subject + " version 1: at "
				if !strings.HasPrefix(f.Message, wantPrefix) {
					t.Errorf("message = %q, want prefix %q", f.Message, wantPrefix)
				}
				if n := len(tt.want); n > 1 && !strings.HasSuffix(f.Message, fmt.Sprintf("(and %d more)", n-1)) {
					t.Errorf("message = %q, want it to count the %d other violations", f.Message, n-1)
				}
			}
		})
	}
}

// TestMaxViolations: a value with more problems than MaxViolations reports
// exactly MaxViolations of them.
func TestMaxViolations(t *testing.T) {
	t.Parallel()
	st := testutil.Start(t)
	s := kindsSchema(t, st)
	var b strings.Builder
	b.WriteString(`{"name":"abc","count":1,"items":[`)
	for i := 0; i < validate.MaxViolations+20; i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(`{"sku":1}`)
	}
	b.WriteString(`]}`)
	f := s.Validate([]byte(b.String()))
	if f == nil {
		t.Fatal("want a failure")
	}
	if len(f.Violations) != validate.MaxViolations {
		t.Errorf("got %d violations, want %d", len(f.Violations), validate.MaxViolations)
	}
}

// goldenOutcome is one example payload's validation result in examples.golden.json.
type goldenOutcome struct {
	File       string               `json:"file"`
	Valid      bool                 `json:"valid"`
	Code       string               `json:"code,omitempty"`
	Violations []validate.Violation `json:"violations,omitempty"`
}

// TestExampleContractsGolden validates every golden payload of
// examples/contracts through the registry (srfake) and compares the exact
// violations, messages included, with testdata/examples.golden.json. The
// orders-* subjects resolve their pos-envelope registry reference.
func TestExampleContractsGolden(t *testing.T) {
	t.Parallel()
	st := testutil.Start(t)
	res := st.Resolver(t, validate.Options{})
	var got []goldenOutcome
	err := filepath.WalkDir(filepath.Join("..", "examples", "contracts"), func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || filepath.Ext(path) != ".json" {
			return err
		}
		rel, _ := filepath.Rel(filepath.Join("..", "examples", "contracts"), path)
		parts := strings.Split(filepath.ToSlash(rel), "/") // subject/version/valid|invalid/file
		if len(parts) != 4 {
			return nil
		}
		var version int
		fmt.Sscan(parts[1], &version)
		s, err := res.ByVersion(context.Background(), parts[0], version)
		if err != nil {
			t.Errorf("%s: %v", rel, err)
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		o := goldenOutcome{File: filepath.ToSlash(rel), Valid: true}
		if f := s.Validate(b); f != nil {
			o.Valid, o.Code, o.Violations = false, f.Code, f.Violations
		}
		if want := parts[2] == "valid"; o.Valid != want {
			t.Errorf("%s: valid = %v, want %v (%+v)", rel, o.Valid, want, o.Violations)
		}
		got = append(got, o)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) < 14 {
		t.Fatalf("only %d example payloads found", len(got))
	}
	sort.Slice(got, func(i, j int) bool { return got[i].File < got[j].File })
	compareGolden(t, filepath.Join("testdata", "examples.golden.json"), got)
}

func compareGolden(t *testing.T, path string, v any) {
	t.Helper()
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	b = append(b, '\n')
	if *update {
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if string(want) != string(b) {
		t.Errorf("%s is stale (go test -update rewrites it); got:\n%s", path, b)
	}
}

// TestValidatorPanicIsAFailure feeds the JSON Schema engine values the strict
// decoder would have refused, so the engine panics (jsonschema v6.0.3 and a
// nil *big.Rat): the panic must come back as a Failure and be counted.
func TestValidatorPanicIsAFailure(t *testing.T) {
	// Not parallel: it reads the process-wide validate.Panics counter.
	st := testutil.Start(t)
	st.Register(t, "min-value", `{"type":"number","minimum":0}`)
	st.Register(t, "uniq-value", `{"type":"array","uniqueItems":true}`)
	res := st.Resolver(t, validate.Options{})
	ctx := context.Background()
	minimum, err := res.Latest(ctx, "min-value")
	if err != nil {
		t.Fatal(err)
	}
	uniq, err := res.Latest(ctx, "uniq-value")
	if err != nil {
		t.Fatal(err)
	}
	// Docs built by hand: the strict decoder would refuse 1e1000001.
	arr := &jsonvalue.Doc{Nodes: []jsonvalue.Node{{Kind: jsonvalue.KindArray, Len: 25, End: 26}}}
	for i := range 25 {
		arr.Nodes = append(arr.Nodes, jsonvalue.Node{Kind: jsonvalue.KindNumber, Str: fmt.Sprint(i), End: int32(i + 2)})
	}
	arr.Nodes[25].Str = "1e1000001"

	tests := []struct {
		name   string
		schema *validate.Schema
		doc    *jsonvalue.Doc
	}{
		{"minimum over 1e1000001", minimum, &jsonvalue.Doc{Nodes: []jsonvalue.Node{{Kind: jsonvalue.KindNumber, Str: "1e1000001", End: 1}}}},
		{"uniqueItems over 25 numbers", uniq, arr},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := validate.Panics.Load()
			f := tt.schema.ValidateDoc(tt.doc)
			if f == nil {
				t.Fatal("want a failure, got valid")
			}
			if f.Code != validate.CodeSchemaViolation || len(f.Violations) != 1 || f.Violations[0].Keyword != "validator" {
				t.Errorf("failure = %+v, want one violation with keyword validator", f)
			}
			if !strings.Contains(f.Message, "the validator failed") {
				t.Errorf("message = %q", f.Message)
			}
			if d := validate.Panics.Load() - before; d != 1 {
				t.Errorf("Panics grew by %d, want 1", d)
			}
		})
	}

	// The same numbers as JSON text never reach the engine: the strict
	// decoder refuses them first.
	before := validate.Panics.Load()
	text := `[0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,1e1000001]`
	for _, c := range []struct {
		s     *validate.Schema
		value string
	}{{minimum, `1e1000001`}, {uniq, text}} {
		f := c.s.Validate([]byte(c.value))
		if f == nil || f.Code != validate.CodeMalformedJSON || f.Violations[0].Keyword != "number_range" {
			t.Errorf("Validate(%.20s...) = %+v, want malformed_json number_range", c.value, f)
		}
	}
	if d := validate.Panics.Load() - before; d != 0 {
		t.Errorf("the strict decoder let %d panics through", d)
	}
}

// TestHugeValuesAreQuotedBounded: a value that breaks its schema is quoted
// in a violation's message only as a bounded prefix with its length, and
// so are property names taken from the value (issue 10, item 6: a 900 kB
// bad date-time made an 8 MB answer).
func TestHugeValuesAreQuotedBounded(t *testing.T) {
	t.Parallel()
	st := testutil.Start(t)
	st.Register(t, "huge-value", `{"type":"object","properties":{
		"at":{"type":"string","format":"date-time"},
		"code":{"type":"string","pattern":"^[A-Z]{3}$"},
		"mail":{"type":"string","format":"email"},
		"kind":{"enum":["a","b"]}},
		"propertyNames":{"maxLength":100000000},
		"additionalProperties":false}`)
	s, err := st.Resolver(t, validate.Options{}).Latest(context.Background(), "huge-value")
	if err != nil {
		t.Fatal(err)
	}
	big := strings.Repeat("x", 900_000)
	doc := `{"at":"` + big + `","code":"` + big + `","mail":"` + big + `","kind":"` + big + `","` + big + `":1}`
	f := s.Validate([]byte(doc))
	if f == nil || len(f.Violations) != 5 {
		t.Fatalf("want 5 violations, got %+v", f)
	}
	total := len(f.Message)
	for _, v := range f.Violations {
		total += len(v.Path) + len(v.Message)
		if len(v.Message) > validate.MaxMessageBytes || len(v.Path) > 256 {
			t.Errorf("%s %s: message %d bytes, path %d bytes", v.Path, v.Keyword, len(v.Message), len(v.Path))
		}
		if !strings.Contains(v.Message+v.Path, "(900000 bytes)") && v.Keyword != "enum" {
			t.Errorf("%s %s: %q does not say how long the value was", v.Path, v.Keyword, v.Message)
		}
	}
	if total > 4096 {
		t.Errorf("the failure is %d bytes for 5 violations", total)
	}
}
