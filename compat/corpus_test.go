package compat

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/eventguard/eventguard/validate"
)

// The generated half of the corpus: a base schema and a random series of
// mutations, each a change the rules above name.

func baseSchema() map[string]any {
	return map[string]any{
		"$schema": "http://json-schema.org/draft-07/schema#",
		"type":    "object",
		"properties": map[string]any{
			"id":    map[string]any{"type": "string", "maxLength": 8.0},
			"n":     map[string]any{"type": "integer", "minimum": 0.0, "maximum": 100.0},
			"kind":  map[string]any{"enum": []any{"a", "b", "c"}},
			"tags":  map[string]any{"type": "array", "items": map[string]any{"type": "string"}, "maxItems": 4.0},
			"price": map[string]any{"type": "number"},
			"inner": map[string]any{"type": "object", "properties": map[string]any{"x": map[string]any{"type": "boolean"}}},
		},
		"required": []any{"id", "n"},
	}
}

type mutation func(r *rand.Rand, s map[string]any)

func props(s map[string]any) map[string]any { return s["properties"].(map[string]any) }

func prop(s map[string]any, name string) map[string]any {
	p, _ := props(s)[name].(map[string]any)
	if p == nil {
		p = map[string]any{}
		props(s)[name] = p
	}
	return p
}

var propNames = []string{"id", "n", "kind", "tags", "price", "inner", "extra"}

var mutations = []mutation{
	func(r *rand.Rand, s map[string]any) { // require a property
		name := propNames[r.IntN(len(propNames))]
		for _, x := range s["required"].([]any) {
			if x == name {
				return
			}
		}
		s["required"] = append(s["required"].([]any), name)
	},
	func(r *rand.Rand, s map[string]any) { // unrequire
		s["required"] = []any{"id"}
	},
	func(r *rand.Rand, s map[string]any) { // close or open the model
		if r.IntN(2) == 0 {
			s["additionalProperties"] = false
		} else {
			delete(s, "additionalProperties")
		}
	},
	func(r *rand.Rand, s map[string]any) { // add a property
		props(s)["extra"] = map[string]any{"type": []string{"string", "integer", "boolean"}[r.IntN(3)]}
	},
	func(r *rand.Rand, s map[string]any) { // remove a property
		delete(props(s), propNames[r.IntN(6)])
	},
	func(r *rand.Rand, s map[string]any) { // change a type
		prop(s, "price")["type"] = []string{"integer", "number", "string"}[r.IntN(3)]
	},
	func(r *rand.Rand, s map[string]any) { // move a bound
		prop(s, "n")["maximum"] = float64(r.IntN(200))
	},
	func(r *rand.Rand, s map[string]any) {
		prop(s, "n")["minimum"] = float64(r.IntN(10) - 5)
	},
	func(r *rand.Rand, s map[string]any) { // multipleOf
		prop(s, "n")["multipleOf"] = float64(1 + r.IntN(4))
	},
	func(r *rand.Rand, s map[string]any) { // string length
		prop(s, "id")["maxLength"] = float64(2 + r.IntN(12))
	},
	func(r *rand.Rand, s map[string]any) {
		prop(s, "id")["minLength"] = float64(r.IntN(3))
	},
	func(r *rand.Rand, s map[string]any) { // pattern
		prop(s, "id")["pattern"] = []string{"^[a-z]+$", "^[0-9]+$", "^a"}[r.IntN(3)]
	},
	func(r *rand.Rand, s map[string]any) { // format
		prop(s, "id")["format"] = []string{"uuid", "email", "date"}[r.IntN(3)]
	},
	func(r *rand.Rand, s map[string]any) { // enum values
		all := []any{"a", "b", "c", "d"}
		n := 1 + r.IntN(4)
		prop(s, "kind")["enum"] = all[:n]
	},
	func(r *rand.Rand, s map[string]any) { // array bounds
		prop(s, "tags")["maxItems"] = float64(1 + r.IntN(6))
	},
	func(r *rand.Rand, s map[string]any) {
		prop(s, "tags")["minItems"] = float64(r.IntN(2))
	},
	func(r *rand.Rand, s map[string]any) {
		prop(s, "tags")["uniqueItems"] = r.IntN(2) == 0
	},
	func(r *rand.Rand, s map[string]any) { // items type
		prop(s, "tags")["items"] = map[string]any{"type": []string{"string", "integer"}[r.IntN(2)]}
	},
	func(r *rand.Rand, s map[string]any) { // nested change
		inner := prop(s, "inner")
		inner["properties"] = map[string]any{"x": map[string]any{"type": []string{"boolean", "string"}[r.IntN(2)]}}
		if r.IntN(2) == 0 {
			inner["required"] = []any{"x"}
		}
	},
	func(r *rand.Rand, s map[string]any) { // anyOf on price
		prop(s, "price")["anyOf"] = []any{map[string]any{"type": "number"}, map[string]any{"type": "string"}}[:1+r.IntN(2)]
	},
	func(r *rand.Rand, s map[string]any) { // const
		prop(s, "kind")["const"] = []string{"a", "b"}[r.IntN(2)]
	},
}

func clone(v map[string]any) map[string]any {
	b, _ := json.Marshal(v)
	var out map[string]any
	_ = json.Unmarshal(b, &out)
	return out
}

// mutatedPair returns the schemas of a generated pair: the base with one or
// two mutations (old), and old with one to three more (new).
func mutatedPair(seed uint64) (string, string) {
	r := rand.New(rand.NewPCG(seed, seed*7+1))
	old := baseSchema()
	for i := 0; i < r.IntN(3); i++ {
		mutations[r.IntN(len(mutations))](r, old)
	}
	nw := clone(old)
	for i := 0; i < 1+r.IntN(3); i++ {
		mutations[r.IntN(len(mutations))](r, nw)
	}
	ob, _ := json.Marshal(old)
	nb, _ := json.Marshal(nw)
	return string(ob), string(nb)
}

// probes are documents a property test runs through both versions.
func probes(r *rand.Rand) [][]byte {
	var out [][]byte
	vals := []any{nil, true, 0, -3, 7, 150, 2.5, "", "a", "abc", "2026-01-01", "0123456789abcdef", []any{}, []any{"a", "a"}, []any{1}, map[string]any{}, map[string]any{"x": true}, map[string]any{"x": "s"}}
	for i := 0; i < 60; i++ {
		doc := map[string]any{}
		for _, p := range propNames {
			if r.IntN(3) > 0 {
				doc[p] = vals[r.IntN(len(vals))]
			}
		}
		b, _ := json.Marshal(doc)
		out = append(out, b)
	}
	return out
}

// checkPair compares a pair both ways and checks the two properties: every
// printed example is accepted by exactly one side (compare checks it), and a
// "compatible" verdict is never contradicted by a probe document.
func checkPair(t *testing.T, old, new string, seed uint64) {
	t.Helper()
	m := newMem()
	m.add("s", old)
	m.add("s", new)
	res := validate.NewResolver(m, validate.Options{})
	vo, err1 := res.ByVersion(t.Context(), "s", 1)
	vn, err2 := res.ByVersion(t.Context(), "s", 2)
	if err1 != nil || err2 != nil {
		t.Fatalf("compile: %v %v", err1, err2)
	}
	for _, lvl := range []Level{Backward, Forward} {
		r := compare(t, old, new, lvl, false)
		if !r.Compatible {
			continue
		}
		from, to := vo, vn
		if lvl == Forward {
			from, to = vn, vo
		}
		for _, doc := range probes(rand.New(rand.NewPCG(seed, 3))) {
			if from.Validate(doc) == nil && to.Validate(doc) != nil {
				t.Errorf("%s said compatible, but %s is accepted by one and refused by the other\nold %s\nnew %s", lvl, doc, old, new)
			}
		}
	}
}

func TestGeneratedPairs(t *testing.T) {
	for seed := uint64(1); seed <= 200; seed++ {
		old, new := mutatedPair(seed)
		t.Run(fmt.Sprint(seed), func(t *testing.T) { checkPair(t, old, new, seed) })
	}
}

func FuzzCounterexamples(f *testing.F) {
	for _, s := range []uint64{1, 2, 3, 42, 1000} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, seed uint64) {
		old, new := mutatedPair(seed)
		checkPair(t, old, new, seed)
	})
}
