package rules

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/eventguard/eventguard/internal/quote"
)

func TestKeyRule(t *testing.T) {
	golden := loadDoc(t, goldenOrder)
	event := parseDoc(t, `{"tenant_id": "cafe-12", "seq": 42, "ok": true, "off": false, "price": 1.50, "none": null,
		"obj": {}, "arr": [1], "a/b": "slash", "t~": "tilde", "lines": ["x", "y"], "braces": "{x}"}`)
	cases := []struct {
		name    string
		expr    string
		key     []byte
		doc     bool // the small event instead of the golden
		outcome Outcome
		msg     []string
	}{
		{"pointer match", "/order_id", []byte(goldenOrderID), false, OutcomePass, nil},
		{"pointer mismatch", "/order_id", []byte("order-1"), false, OutcomeFail,
			[]string{`key "order-1" does not match "` + goldenOrderID + `" from /order_id`}},
		{"no key", "/order_id", nil, false, OutcomeFail, []string{`the record has no key; want "` + goldenOrderID + `" from /order_id`}},
		{"empty key", "/order_id", []byte{}, false, OutcomeFail, []string{`key "" does not match`}},
		{"prefix of the value", "/order_id", []byte(goldenOrderID[:8]), false, OutcomeFail, []string{"does not match"}},
		{"value is a prefix", "/order_id", []byte(goldenOrderID + "x"), false, OutcomeFail, []string{"does not match"}},
		{"missing pointer", "/order_id", []byte("k"), true, OutcomeFail, []string{`no value at /order_id; the key is "k"`}},
		{"missing pointer and key", "/order_id", nil, true, OutcomeFail, []string{"the record has no key, and no value at /order_id"}},
		{"template", "{/tenant_id}:{/order_id}", []byte("cafe-12:" + goldenOrderID), false, OutcomePass, nil},
		{"template mismatch", "{/tenant_id}:{/order_id}", []byte("cafe-12-" + goldenOrderID), false, OutcomeFail,
			[]string{`does not match "cafe-12:9b1d4c7e`, "from {/tenant_id}:{/order_id}"}},
		{"template literal prefix", "order/{/order_id}", []byte("order/" + goldenOrderID), false, OutcomePass, nil},
		{"template braces", "{{{/tenant_id}}}", []byte("{cafe-12}"), true, OutcomePass, nil},
		{"template same pointer twice", "{/tenant_id}{/tenant_id}", []byte("cafe-12cafe-12"), true, OutcomePass, nil},
		{"template item", "{/lines/1}-{/lines/0}", []byte("y-x"), true, OutcomePass, nil},
		{"number as written", "/price", []byte("1.50"), true, OutcomePass, nil},
		{"number not reformatted", "/price", []byte("1.5"), true, OutcomeFail, []string{`key "1.5" does not match "1.50"`}},
		{"integer", "{/tenant_id}#{/seq}", []byte("cafe-12#42"), true, OutcomePass, nil},
		{"true", "/ok", []byte("true"), true, OutcomePass, nil},
		{"false", "/off", []byte("false"), true, OutcomePass, nil},
		{"null value", "/none", []byte("null"), true, OutcomeFail, []string{`/none is null; the key is "null"`}},
		{"object value", "/obj", []byte("{}"), true, OutcomeFail, []string{"/obj is an object"}},
		{"array value", "/arr", []byte("[1]"), true, OutcomeFail, []string{"/arr is an array"}},
		{"escaped slash", "/a~1b", []byte("slash"), true, OutcomePass, nil},
		{"escaped tilde", "/t~0", []byte("tilde"), true, OutcomePass, nil},
		{"value with braces", "/braces", []byte("{x}"), true, OutcomePass, nil},
		{"index past the end", "/lines/2", []byte("x"), true, OutcomeFail, []string{"no value at /lines/2"}},
		{"leading zero is not an index", "/lines/01", []byte("y"), true, OutcomeFail, []string{"no value at /lines/01"}},
		{"binary key", "/tenant_id", []byte{0xff, 'a'}, true, OutcomeFail, []string{`key "\xffa" does not match "cafe-12"`}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := mustCompile(t, Options{}, cond("orderKey", TypeKey, c.expr))
			in := &Input{Direction: Write, Key: c.key, Value: golden}
			if c.doc {
				in.Value = event
			}
			r := evalOne(t, s, in)
			if r.Outcome != c.outcome {
				t.Fatalf("outcome %v (%s), want %v", r.Outcome, r.Message, c.outcome)
			}
			wantContains(t, r.Message, c.msg...)
		})
	}
}

func TestKeyRuleQuotesAreBounded(t *testing.T) {
	long := strings.Repeat("é", 200)
	doc := parseDoc(t, `{"id": "`+long+`"}`)
	s := mustCompile(t, Options{}, cond("k", TypeKey, "/id"))
	r := evalOne(t, s, &Input{Direction: Read, Key: []byte(strings.Repeat("k", 500)), Value: doc})
	if r.Outcome != OutcomeFail {
		t.Fatalf("outcome %v", r.Outcome)
	}
	if len(r.Message) > 2*quote.MaxBytes+110 || !utf8.ValidString(r.Message) || strings.Count(r.Message, "…") != 2 {
		t.Errorf("message of %d bytes: %q", len(r.Message), r.Message)
	}
}

func TestKeyRulePassAllocatesNothing(t *testing.T) {
	doc := loadDoc(t, goldenOrder)
	s := mustCompile(t, Options{}, cond("k", TypeKey, "{/tenant_id}:{/order_id}"))
	in := &Input{Direction: Write, Key: []byte("cafe-12:" + goldenOrderID), Value: doc}
	buf := make([]Result, 0, 1)
	if n := testing.AllocsPerRun(100, func() { buf, _ = s.Eval(in, buf) }); n != 0 {
		t.Errorf("%v allocations per passing KEY rule, want 0", n)
	}
}

func TestParsePointer(t *testing.T) {
	for src, want := range map[string][]ptrToken{
		"":          nil,
		"/":         {{name: "", index: -1}},
		"/a/0":      {{name: "a", index: -1}, {name: "0", index: 0}},
		"/a~1b/~01": {{name: "a/b", index: -1}, {name: "~1", index: -1}},
		"/10/007":   {{name: "10", index: 10}, {name: "007", index: -1}},
	} {
		p, err := parsePointer(src)
		if err != nil {
			t.Errorf("%q: %v", src, err)
			continue
		}
		if len(p.toks) != len(want) {
			t.Errorf("%q: tokens %+v, want %+v", src, p.toks, want)
			continue
		}
		for i := range want {
			if p.toks[i] != want[i] {
				t.Errorf("%q: tokens %+v, want %+v", src, p.toks, want)
			}
		}
	}
	for _, bad := range []string{"a", "/~", "/~2", "/a~"} {
		if _, err := parsePointer(bad); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

// FuzzKeyTemplate: the parser never panics; a template it accepts renders,
// from an event holding a value at each of its pointers, a key that the
// rule accepts, and the same key with a byte more it refuses.
func FuzzKeyTemplate(f *testing.F) {
	for _, s := range []string{"/order_id", "{/tenant_id}:{/order_id}", "{{{/a}}}", "x{/a}y{/b/0}z", "{/a~1b}", "}", "{", "{}", "{{", "/a~2"} {
		f.Add(s, "v")
	}
	f.Fuzz(func(t *testing.T, expr, value string) {
		tpl, err := parseKeyTemplate(expr)
		if err != nil {
			if err.Error() == "" {
				t.Fatal("empty error")
			}
			return
		}
		if !utf8.ValidString(value) {
			return
		}
		var pointers []*pointer
		for _, p := range tpl.parts {
			if p.ptr != nil {
				pointers = append(pointers, p.ptr)
			}
		}
		if len(pointers) == 0 {
			t.Fatalf("%q accepted without a pointer", expr)
		}
		// Build an event where every pointer that is a plain member path of
		// objects reaches value; skip templates with paths that clash.
		root := map[string]any{}
		for _, p := range pointers {
			m := root
			for i, tok := range p.toks {
				if i == len(p.toks)-1 {
					if _, clash := m[tok.name]; clash {
						if _, isStr := m[tok.name].(string); !isStr {
							return
						}
					}
					m[tok.name] = value
					break
				}
				next, ok := m[tok.name].(map[string]any)
				if !ok {
					if _, exists := m[tok.name]; exists {
						return
					}
					next = map[string]any{}
					m[tok.name] = next
				}
				m = next
			}
		}
		doc := parseDoc(t, mustJSON(t, root))
		for _, p := range pointers {
			if _, problem := p.scalarText(doc); problem != "" {
				return // a pointer also crosses another's value
			}
		}
		key := tpl.render(doc)
		if o, msg := tpl.check(doc, []byte(key)); o != OutcomePass {
			t.Fatalf("%q with %q: key %q refused: %s", expr, value, key, msg)
		}
		if o, _ := tpl.check(doc, []byte(key+"x")); o != OutcomeFail {
			t.Fatalf("%q: key %q+x accepted", expr, key)
		}
	})
}
