package fastpath_test

import (
	"encoding/json"
	"fmt"
	"math/big"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/eventguard/eventguard/internal/jsonvalue"
	"github.com/eventguard/eventguard/validate/fastpath"
)

// FuzzDifferential generates documents against a set of schemas (the
// examples, the synthetic ones covering each keyword, and the draft-04/06/07
// metaschemas) and fails on any verdict where the fast engine and the
// reference differ. Undecided (fastpath.Unknown) is allowed: the reference
// decides those.
//
// Inputs: sel picks the schema; mode picks how data becomes a document:
//
//	0: data is JSON text (the fuzzer mutates the goldens' and the corpus's
//	   bytes);
//	1: data drives a generator of JSON values drawn from the schema's own
//	   vocabulary (its property names, strings and numbers, and numbers and
//	   strings next to them) and from edge-case pools;
//	2: data picks a golden or corpus document and drives structural
//	   mutations of its decoded value (replace, delete, add, duplicate).
func FuzzDifferential(f *testing.F) {
	fx := fuzzFixture(f)
	for i := range fx.schemas {
		// Seeds: the schema's goldens and a slice of the corpus (all of
		// it stays reachable through mode 2).
		for j, d := range fx.docs[i] {
			if j < fx.goldens[i] || (j+i)%25 == 0 {
				f.Add(uint16(i), uint8(0), []byte(d))
			}
		}
		f.Add(uint16(i), uint8(1), []byte("seed"+strconv.Itoa(i)))
		f.Add(uint16(i), uint8(2), []byte{byte(i), 3, 1, 4, 1, 5, 9, 2, 6})
	}
	f.Fuzz(func(t *testing.T, sel uint16, mode uint8, data []byte) {
		i := int(sel) % len(fx.schemas)
		e := fx.schemas[i]
		var text []byte
		switch mode % 3 {
		case 0:
			text = data
		case 1:
			g := &gen{data: data, vocab: fx.vocab[i]}
			text = g.value(0, nil)
		case 2:
			g := &gen{data: data, vocab: fx.vocab[i]}
			pool := fx.docs[i]
			src := pool[int(g.next())%len(pool)]
			doc, err := jsonvalue.Parse([]byte(src), jsonvalue.Limits{})
			if err != nil {
				return
			}
			doc = g.mutate(doc, 0)
			text, err = json.Marshal(doc)
			if err != nil {
				t.Fatal(err)
			}
		}
		doc, err := jsonvalue.Parse(text, jsonvalue.Limits{})
		if err != nil {
			return
		}
		want := refVerdict(e.ref, doc)
		got := e.fast.CheckValue(doc)
		if got != fastpath.Unknown && (got == fastpath.Valid) != want {
			t.Fatalf("%s: document %s: fast engine says %v, reference says valid=%v", e.name, text, got, want)
		}
	})
}

type fixture struct {
	schemas []*engines
	// docs[i]: documents to start from for schema i (its goldens first,
	// then the corpus).
	docs    [][]string
	goldens []int // how many of docs[i] are goldens
	vocab   []*vocab
}

var (
	fixtureOnce sync.Once
	fixtureVal  *fixture
)

func fuzzFixture(tb testing.TB) *fixture {
	fixtureOnce.Do(func() {
		fx := &fixture{}
		var common []string
		common = append(common, trickyDocs...)
		add := func(e *engines, schemaText []string, goldens []string) {
			if e.fast == nil {
				return
			}
			fx.schemas = append(fx.schemas, e)
			fx.docs = append(fx.docs, append(append([]string(nil), goldens...), common...))
			fx.goldens = append(fx.goldens, len(goldens))
			v := &vocab{}
			for _, s := range schemaText {
				doc, err := jsonschema.UnmarshalJSON(strings.NewReader(s))
				if err == nil {
					v.harvest(doc)
				}
			}
			v.finish()
			fx.vocab = append(fx.vocab, v)
		}
		t := tb
		_, local := exampleSet(t)
		for _, ex := range loadExamples(t) {
			var texts, goldens []string
			// The example's schema and its references' texts.
			for id := 1; ; id++ {
				s, err := local.SchemaByID(t.Context(), id)
				if err != nil {
					break
				}
				texts = append(texts, s.Schema)
			}
			for _, g := range append(append([]golden(nil), ex.valid...), ex.invalid...) {
				goldens = append(goldens, string(g.data))
			}
			add(ex.engines, texts, goldens)
		}
		for _, s := range syntheticSchemas {
			add(compileText(t, s.name, s.schema), []string{s.schema}, nil)
		}
		var allSchemaTexts []string
		for _, s := range syntheticSchemas {
			allSchemaTexts = append(allSchemaTexts, s.schema)
		}
		for _, e := range metaschemaEngines(t) {
			add(e, []string{metaVocab}, allSchemaTexts)
		}
		fixtureVal = fx
	})
	return fixtureVal
}

// metaVocab names the keywords, so that generated documents look like
// schemas when fuzzing the metaschemas.
const metaVocab = `{"properties":{"$schema":1,"$id":1,"id":1,"$ref":"#/definitions/x","definitions":{},"type":["string","integer","nope"],"enum":[],"const":0,"properties":{},"patternProperties":{"^a(":1},"additionalProperties":false,"required":["a","a"],"items":[],"additionalItems":true,"minItems":-1,"maxLength":1.5,"uniqueItems":"yes","multipleOf":0,"minimum":"1","exclusiveMinimum":true,"format":"uri","dependencies":{"a":["b"]},"allOf":[],"anyOf":[{}],"oneOf":true,"not":{},"if":{},"then":{},"else":{},"contains":{},"propertyNames":{},"default":null,"examples":[],"title":"t","$comment":"c","readOnly":1,"contentMediaType":"x"}}`

// vocab is what a generator draws from for one schema.
type vocab struct {
	keys    []string
	strings []string
	numbers []string
}

var (
	edgeStrings = []string{"", "a", "ab", "abcde", "é", "😀", "😀😀😀😀😀", "\u0000", "x-n", "x-nnnn", "12.34", "1.00", "0193a5d2-8a40-7c11-b2d4-5e6f708192a3",
		"0193a5d2-8a40-7c11-b2d4-5e6f708192aZ", "2026-11-02T12:41:07Z", "2026-11-02T23:59:60Z", "2026-02-29T00:00:00+01:00", "2026-11-02", "12:41:07Z", "a@b.c", "http://x.test/", "#", "^a$", "("}
	edgeNumbers = []string{"0", "-0", "0.0", "1", "1.0", "-1", "1e2", "1E2", "1.5", "0.1", "0.2", "0.3", "0.30000000000000004", "0.01", "0.015", "1e-8", "2.5", "3", "5", "10", "100", "1e30", "1e400", "-1e400", "1e-400",
		"9223372036854775807", "9223372036854775808", "-9223372036854775809", "12345678901234567890123", "123456789012345678901234567890", "0.000000000000000000001", "99.99999999999999999999"}
)

func (v *vocab) harvest(x any) {
	switch x := x.(type) {
	case map[string]any:
		for k, e := range x {
			v.keys = append(v.keys, k)
			v.harvest(e)
		}
	case []any:
		for _, e := range x {
			v.harvest(e)
		}
	case string:
		v.strings = append(v.strings, x)
		v.keys = append(v.keys, x) // required names, references
	case json.Number:
		s := string(x)
		v.numbers = append(v.numbers, s)
		if r, ok := parseRat(s); ok {
			for _, d := range []string{"1", "-1", "1/100", "-1/100", "1/2"} {
				dr, _ := parseRat(d)
				n := new(ratT).Add(r, dr)
				v.numbers = append(v.numbers, n.FloatString(4))
			}
			v.numbers = append(v.numbers, r.FloatString(2), s+"0", strings.ReplaceAll(s, ".", "")+"e-1")
		}
	}
}

func (v *vocab) finish() {
	v.keys = dedupe(append(v.keys, "a", "b", "extra"))
	v.strings = dedupe(append(v.strings, edgeStrings...))
	v.numbers = dedupe(append(v.numbers, edgeNumbers...))
	ok := v.numbers[:0]
	for _, n := range v.numbers {
		if _, err := jsonvalue.Parse([]byte(n), jsonvalue.Limits{}); err == nil {
			ok = append(ok, n)
		}
	}
	v.numbers = ok
}

func dedupe(s []string) []string {
	sort.Strings(s)
	out := s[:0]
	for i, x := range s {
		if i == 0 || x != s[i-1] {
			out = append(out, x)
		}
	}
	return out
}

// gen turns fuzz bytes into choices.
type gen struct {
	data  []byte
	i     int
	vocab *vocab
}

func (g *gen) next() byte {
	if g.i >= len(g.data) {
		return 0
	}
	b := g.data[g.i]
	g.i++
	return b
}

func (g *gen) pick(list []string) string {
	if len(list) == 0 {
		return ""
	}
	return list[(int(g.next())<<8|int(g.next()))%len(list)]
}

// value appends a generated JSON text to buf.
func (g *gen) value(depth int, buf []byte) []byte {
	b := g.next()
	if depth >= 5 && b%10 < 3 {
		b = 3
	}
	switch b % 10 {
	case 0, 1:
		buf = append(buf, '{')
		n := int(g.next() % 7)
		seen := map[string]bool{}
		for k := 0; k < n; k++ {
			key := g.pick(g.vocab.keys)
			if g.next()%8 == 0 {
				key = string(rune('a' + g.next()%26))
			}
			if seen[key] {
				continue
			}
			seen[key] = true
			if len(seen) > 1 {
				buf = append(buf, ',')
			}
			buf = strconv.AppendQuote(buf, key)
			buf = append(buf, ':')
			buf = g.value(depth+1, buf)
		}
		return append(buf, '}')
	case 2:
		buf = append(buf, '[')
		n := int(g.next() % 6)
		for k := 0; k < n; k++ {
			if k > 0 {
				buf = append(buf, ',')
			}
			buf = g.value(depth+1, buf)
		}
		return append(buf, ']')
	case 3, 4:
		return strconv.AppendQuote(buf, g.pick(g.vocab.strings))
	case 5, 6:
		return append(buf, g.pick(g.vocab.numbers)...)
	case 7:
		if g.next()%2 == 0 {
			return append(buf, "true"...)
		}
		return append(buf, "false"...)
	case 8:
		return append(buf, "null"...)
	default:
		// A random number literal.
		n := fmt.Sprintf("%d", int8(g.next()))
		switch g.next() % 4 {
		case 1:
			n += "." + strconv.Itoa(int(g.next()))
		case 2:
			n += "e" + strconv.Itoa(int(int8(g.next()))%40)
		}
		return append(buf, n...)
	}
}

// mutate changes a decoded value: somewhere along a path the bytes choose,
// one member or item is replaced, deleted, added or duplicated.
func (g *gen) mutate(v any, depth int) any {
	op := g.next() % 8
	switch x := v.(type) {
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		switch {
		case op < 4 && len(keys) > 0:
			k := keys[int(g.next())%len(keys)]
			x[k] = g.mutate(x[k], depth+1)
		case op == 4 && len(keys) > 0:
			delete(x, keys[int(g.next())%len(keys)])
		case op == 5:
			x[g.pick(g.vocab.keys)] = g.fresh(depth)
		default:
			return g.fresh(depth)
		}
		return x
	case []any:
		switch {
		case op < 4 && len(x) > 0:
			i := int(g.next()) % len(x)
			x[i] = g.mutate(x[i], depth+1)
		case op == 4 && len(x) > 0:
			i := int(g.next()) % len(x)
			x = append(x[:i], x[i+1:]...)
		case op == 5 && len(x) > 0:
			x = append(x, x[int(g.next())%len(x)])
		case op == 6:
			x = append(x, g.fresh(depth))
		default:
			return g.fresh(depth)
		}
		return x
	case string:
		if op < 6 { // mostly another string: documents stay near valid
			return g.pick(g.vocab.strings)
		}
	case json.Number:
		if op < 6 {
			return json.Number(g.pick(g.vocab.numbers))
		}
	}
	return g.fresh(depth)
}

func (g *gen) fresh(depth int) any {
	text := g.value(depth+1, nil)
	v, err := jsonvalue.Parse(text, jsonvalue.Limits{})
	if err != nil {
		return nil
	}
	return v
}

type ratT = big.Rat

func parseRat(s string) (*big.Rat, bool) { return new(big.Rat).SetString(s) }
