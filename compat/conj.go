package compat

import (
	"encoding/json"
	"math/big"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// disjunct is a constraint that is not a plain conjunction of keywords:
// anyOf, oneOf, not, or if/then/else, found on a node.
type disjunct struct {
	kind     string // "anyOf", "oneOf", "not", "if"
	at       node   // the node holding it
	branches []node // anyOf/oneOf branches; not: the negated schema
	cond     *node  // if
	then     *node
	els      *node
}

// conj is the conjunction of schema nodes that apply at one place: a schema
// with its allOf members and $ref targets flattened in.
type conj struct {
	nodes []node
	disj  []disjunct
	falsy bool
	// problems are constructs the checker cannot reason about here.
	problems []string
}

func (c *conj) key() string {
	ks := make([]string, 0, len(c.nodes)+len(c.disj))
	for _, n := range c.nodes {
		ks = append(ks, n.loc())
	}
	for _, d := range c.disj {
		ks = append(ks, d.kind+"@"+d.at.loc())
	}
	sort.Strings(ks)
	if c.falsy {
		ks = append(ks, "false")
	}
	return strings.Join(ks, ",")
}

// unconstrained reports whether c accepts every JSON value.
func (c *conj) unconstrained() bool {
	if c.falsy || len(c.disj) > 0 || len(c.problems) > 0 {
		return false
	}
	for _, n := range c.nodes {
		for k := range n.obj() {
			if constraintKeyword(k) {
				return false
			}
		}
	}
	return true
}

// constraintKeyword reports whether k can refuse a value.
func constraintKeyword(k string) bool {
	switch k {
	case "$schema", "$id", "id", "$anchor", "$dynamicAnchor", "$comment", "$defs", "definitions", "$vocabulary",
		"title", "description", "default", "examples", "example", "deprecated", "readOnly", "writeOnly",
		"contentEncoding", "contentMediaType", "contentSchema":
		return false
	}
	return !strings.HasPrefix(k, "x-") && !strings.HasPrefix(k, "connect.") && !strings.HasPrefix(k, "confluent:")
}

// flatten builds the conjunction of n: n itself, its allOf members and its
// $ref target, recursively.
func (s *side) flatten(ns ...node) *conj {
	c := &conj{}
	seen := map[string]bool{}
	for _, n := range ns {
		s.addTo(c, n, seen, 0)
	}
	return c
}

func (s *side) addTo(c *conj, n node, seen map[string]bool, depth int) {
	if b, ok := n.v.(bool); ok {
		if !b {
			c.falsy = true
		}
		return
	}
	m := n.obj()
	if m == nil {
		return
	}
	if seen[n.loc()] {
		return
	}
	seen[n.loc()] = true
	if depth > 64 {
		c.problems = append(c.problems, "$ref/allOf chain deeper than 64 at "+n.ptr)
		return
	}
	if ref, ok := m["$ref"].(string); ok {
		t, err := s.resolve(n, ref)
		if err != nil {
			c.problems = append(c.problems, err.Error())
			return
		}
		s.addTo(c, t, seen, depth+1)
		if n.draft <= draft7 {
			return // siblings of $ref are ignored before 2019-09
		}
	}
	for _, k := range []string{"$dynamicRef", "$recursiveRef"} {
		if ref, ok := m[k].(string); ok {
			// Resolved statically: exact unless the schema is extended
			// through dynamic scopes, which contracts rarely do.
			t, err := s.resolve(n, ref)
			if err != nil {
				c.problems = append(c.problems, k+": "+err.Error())
			} else {
				s.addTo(c, t, seen, depth+1)
			}
		}
	}
	c.nodes = append(c.nodes, n)
	if a, ok := m["allOf"].([]any); ok {
		for i := range a {
			if ch, ok := n.child("allOf", strconv.Itoa(i)); ok {
				s.addTo(c, ch, seen, depth+1)
			}
		}
	}
	for _, k := range []string{"anyOf", "oneOf"} {
		if a, ok := m[k].([]any); ok {
			d := disjunct{kind: k, at: n}
			for i := range a {
				if ch, ok := n.child(k, strconv.Itoa(i)); ok {
					d.branches = append(d.branches, ch)
				}
			}
			c.disj = append(c.disj, d)
		}
	}
	if ch, ok := n.child("not"); ok {
		c.disj = append(c.disj, disjunct{kind: "not", at: n, branches: []node{ch}})
	}
	if n.draft >= draft7 {
		if ci, ok := n.child("if"); ok {
			d := disjunct{kind: "if", at: n, cond: &ci}
			if t, ok := n.child("then"); ok {
				d.then = &t
			}
			if e, ok := n.child("else"); ok {
				d.els = &e
			}
			if d.then != nil || d.els != nil {
				c.disj = append(c.disj, d)
			}
		}
	}
}

// with returns a copy of c with more nodes added (a case of a disjunction).
func (s *side) with(c *conj, skip int, ns ...node) *conj {
	out := &conj{falsy: c.falsy, problems: append([]string(nil), c.problems...)}
	out.nodes = append(out.nodes, c.nodes...)
	for i, d := range c.disj {
		if i != skip {
			out.disj = append(out.disj, d)
		}
	}
	extra := s.flatten(ns...)
	out.nodes = append(out.nodes, extra.nodes...)
	out.disj = append(out.disj, extra.disj...)
	out.falsy = out.falsy || extra.falsy
	out.problems = append(out.problems, extra.problems...)
	return out
}

// JSON types, integer apart from number.
var allTypes = []string{"null", "boolean", "integer", "number", "string", "array", "object"}

// typeSet is the set of JSON types a conjunction allows ("integer" alone
// means integral numbers only).
type typeSet map[string]bool

func (t typeSet) has(ty string) bool {
	if ty == "integer" {
		return t["integer"] || t["number"]
	}
	return t[ty]
}

func (t typeSet) sorted() []string {
	var out []string
	for _, ty := range allTypes {
		if t[ty] {
			out = append(out, ty)
		}
	}
	return out
}

func nodeTypes(m map[string]any) (typeSet, bool) {
	var names []string
	switch t := m["type"].(type) {
	case string:
		names = []string{t}
	case []any:
		for _, x := range t {
			if s, ok := x.(string); ok {
				names = append(names, s)
			}
		}
	default:
		return nil, false
	}
	ts := typeSet{}
	for _, n := range names {
		ts[n] = true
		if n == "number" {
			ts["integer"] = true
		}
	}
	return ts, true
}

// types returns the types c allows, by its type keywords.
func (c *conj) types() typeSet {
	ts := typeSet{}
	for _, t := range allTypes {
		ts[t] = true
	}
	if c.falsy {
		return typeSet{}
	}
	for _, n := range c.nodes {
		nt, ok := nodeTypes(n.obj())
		if !ok {
			continue
		}
		for t := range ts {
			if !nt[t] {
				delete(ts, t)
			}
		}
	}
	return ts
}

// enumValues returns the finite set of values c's enum or const keywords
// allow (before the other keywords filter them), or ok false when c has none.
func (c *conj) enumValues() (vals []any, ok bool) {
	for _, n := range c.nodes {
		m := n.obj()
		var vs []any
		has := false
		if v, found := m["const"]; found && n.draft >= draft6 {
			vs, has = []any{v}, true
		} else if e, found := m["enum"].([]any); found {
			vs, has = e, true
		}
		if !has {
			continue
		}
		if !ok {
			vals, ok = vs, true
			continue
		}
		var keep []any
		for _, v := range vals {
			for _, w := range vs {
				if jsonEqual(v, w) {
					keep = append(keep, v)
					break
				}
			}
		}
		vals = keep
	}
	return vals, ok
}

func jsonEqual(a, b any) bool {
	switch x := a.(type) {
	case json.Number:
		y, ok := b.(json.Number)
		if !ok {
			return false
		}
		rx, ok1 := new(big.Rat).SetString(string(x))
		ry, ok2 := new(big.Rat).SetString(string(y))
		return ok1 && ok2 && rx.Cmp(ry) == 0
	case map[string]any:
		y, ok := b.(map[string]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for k, v := range x {
			w, ok := y[k]
			if !ok || !jsonEqual(v, w) {
				return false
			}
		}
		return true
	case []any:
		y, ok := b.([]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for i := range x {
			if !jsonEqual(x[i], y[i]) {
				return false
			}
		}
		return true
	default:
		return a == b
	}
}

// hasRef reports whether v (a schema) contains a reference anywhere.
func hasRef(v any) bool {
	switch x := v.(type) {
	case map[string]any:
		for k, c := range x {
			if k == "$ref" || k == "$dynamicRef" || k == "$recursiveRef" {
				return true
			}
			if k == "enum" || k == "const" || k == "default" || k == "examples" {
				continue
			}
			if hasRef(c) {
				return true
			}
		}
	case []any:
		for _, c := range x {
			if hasRef(c) {
				return true
			}
		}
	}
	return false
}

// bound is a numeric bound.
type bound struct {
	set       bool
	v         *big.Rat
	exclusive bool
	at        node
}

func ratOf(v any) (*big.Rat, bool) {
	n, ok := v.(json.Number)
	if !ok {
		return nil, false
	}
	r, ok := new(big.Rat).SetString(string(n))
	return r, ok
}

// numBounds returns the tightest lower and upper numeric bounds of c.
func (c *conj) numBounds() (lo, hi bound) {
	for _, n := range c.nodes {
		m := n.obj()
		consider := func(key string, exclusive, lower bool) {
			r, ok := ratOf(m[key])
			if !ok {
				return
			}
			b := bound{set: true, v: r, exclusive: exclusive, at: n}
			if lower {
				if !lo.set || r.Cmp(lo.v) > 0 || (r.Cmp(lo.v) == 0 && exclusive) {
					lo = b
				}
			} else if !hi.set || r.Cmp(hi.v) < 0 || (r.Cmp(hi.v) == 0 && exclusive) {
				hi = b
			}
		}
		if n.draft == draft4 {
			exMin, _ := m["exclusiveMinimum"].(bool)
			exMax, _ := m["exclusiveMaximum"].(bool)
			consider("minimum", exMin, true)
			consider("maximum", exMax, false)
			continue
		}
		consider("minimum", false, true)
		consider("maximum", false, false)
		consider("exclusiveMinimum", true, true)
		consider("exclusiveMaximum", true, false)
	}
	return lo, hi
}

// intBounds turns bounds over integers into inclusive integer bounds.
func intBounds(lo, hi bound) (l, h *big.Int) {
	if lo.set {
		l = ceilRat(lo.v)
		if lo.exclusive && lo.v.IsInt() {
			l.Add(l, big.NewInt(1))
		}
	}
	if hi.set {
		h = floorRat(hi.v)
		if hi.exclusive && hi.v.IsInt() {
			h.Sub(h, big.NewInt(1))
		}
	}
	return l, h
}

func floorRat(r *big.Rat) *big.Int {
	q := new(big.Int)
	m := new(big.Int)
	q.DivMod(r.Num(), r.Denom(), m) // Euclidean: floor for a positive denominator
	return q
}

func ceilRat(r *big.Rat) *big.Int {
	f := floorRat(r)
	if !r.IsInt() {
		f.Add(f, big.NewInt(1))
	}
	return f
}

func (c *conj) multipleOfs() []*big.Rat {
	var out []*big.Rat
	for _, n := range c.nodes {
		if r, ok := ratOf(n.obj()["multipleOf"]); ok && r.Sign() > 0 {
			out = append(out, r)
		}
	}
	return out
}

// intKeyword returns the tightest value of an integer keyword: the largest
// when max is false (minLength), the smallest when max is true (maxLength).
func (c *conj) intKeyword(key string, smallest bool) (int64, node, bool) {
	var best int64
	var at node
	found := false
	for _, n := range c.nodes {
		r, ok := ratOf(n.obj()[key])
		if !ok || !r.IsInt() {
			continue
		}
		v := r.Num().Int64()
		if !found || (smallest && v < best) || (!smallest && v > best) {
			best, at, found = v, n, true
		}
	}
	return best, at, found
}

func (c *conj) strings(key string) ([]string, []node) {
	var vs []string
	var at []node
	for _, n := range c.nodes {
		if s, ok := n.obj()[key].(string); ok {
			vs = append(vs, s)
			at = append(at, n)
		}
	}
	return vs, at
}

func (c *conj) boolKeyword(key string) bool {
	for _, n := range c.nodes {
		if b, _ := n.obj()[key].(bool); b {
			return true
		}
	}
	return false
}

// required returns the names c requires.
func (c *conj) required() map[string]node {
	out := map[string]node{}
	for _, n := range c.nodes {
		m := n.obj()
		if r, ok := m["required"].([]any); ok {
			for _, x := range r {
				if s, ok := x.(string); ok {
					out[s] = n
				}
			}
		}
	}
	return out
}

// declared returns every name some node lists in properties.
func (c *conj) declared() map[string]bool {
	out := map[string]bool{}
	for _, n := range c.nodes {
		if p, ok := n.obj()["properties"].(map[string]any); ok {
			for k := range p {
				out[k] = true
			}
		}
	}
	return out
}

func (c *conj) patterns() []string {
	set := map[string]bool{}
	for _, n := range c.nodes {
		if p, ok := n.obj()["patternProperties"].(map[string]any); ok {
			for k := range p {
				set[k] = true
			}
		}
	}
	out := make([]string, 0, len(set))
	for k := range set {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

var regexCache = map[string]*regexp.Regexp{}

func matchPattern(pat, s string) bool {
	re, ok := regexCache[pat]
	if !ok {
		var err error
		re, err = regexp.Compile(pat)
		if err != nil {
			re = nil
		}
		regexCache[pat] = re
	}
	return re != nil && re.MatchString(s)
}

// propSchema returns the nodes that apply to a property named name in an
// object c accepts, and whether some node declares it in properties.
// evaluatedOnly reports whether unevaluatedProperties was left out because
// disjunctions may evaluate the name.
func (s *side) propSchema(c *conj, name string, strict bool) (nodes []node, declared bool, uncertain bool) {
	evaluated := false
	var unevaluated []node
	for _, n := range c.nodes {
		m := n.obj()
		matched := false
		if p, ok := m["properties"].(map[string]any); ok {
			if _, ok := p[name]; ok {
				ch, _ := n.child("properties", name)
				nodes = append(nodes, ch)
				matched, declared = true, true
			}
		}
		if pp, ok := m["patternProperties"].(map[string]any); ok {
			for pat := range pp {
				if matchPattern(pat, name) {
					ch, _ := n.child("patternProperties", pat)
					nodes = append(nodes, ch)
					matched = true
				}
			}
		}
		if !matched {
			if ch, ok := n.child("additionalProperties"); ok {
				nodes = append(nodes, ch)
				matched = true
			}
		}
		if _, ok := m["additionalProperties"]; ok {
			evaluated = true
		}
		if matched {
			evaluated = true
		}
		if ch, ok := n.child("unevaluatedProperties"); ok {
			unevaluated = append(unevaluated, ch)
		}
	}
	if len(unevaluated) > 0 && !evaluated {
		if len(c.disj) > 0 && !strict {
			uncertain = true // a branch may evaluate it: left out (the version then looks larger)
		} else {
			nodes = append(nodes, unevaluated...)
		}
	}
	return nodes, declared, uncertain
}

// itemSchema returns the nodes that apply to array position i.
func (s *side) itemSchema(c *conj, i int, strict bool) (nodes []node, uncertain bool) {
	evaluated := false
	var unevaluated []node
	for _, n := range c.nodes {
		m := n.obj()
		prefixKey, restKey := "items", "additionalItems"
		if n.draft >= draft2020 {
			prefixKey, restKey = "prefixItems", "items"
		}
		if pre, ok := m[prefixKey].([]any); ok {
			if i < len(pre) {
				ch, _ := n.child(prefixKey, strconv.Itoa(i))
				nodes = append(nodes, ch)
				evaluated = true
				continue
			}
			if ch, ok := n.child(restKey); ok {
				nodes = append(nodes, ch)
				evaluated = true
			}
			continue
		}
		if ch, ok := n.child("items"); ok {
			if _, isArr := m["items"].([]any); !isArr {
				nodes = append(nodes, ch)
				evaluated = true
			}
		}
		if ch, ok := n.child("unevaluatedItems"); ok {
			unevaluated = append(unevaluated, ch)
		}
	}
	if len(unevaluated) > 0 && !evaluated {
		if len(c.disj) > 0 && !strict {
			uncertain = true
		} else {
			nodes = append(nodes, unevaluated...)
		}
	}
	return nodes, uncertain
}

// prefixLen is the longest tuple prefix any node of c declares.
func (c *conj) prefixLen() int {
	n := 0
	for _, nd := range c.nodes {
		m := nd.obj()
		key := "items"
		if nd.draft >= draft2020 {
			key = "prefixItems"
		}
		if pre, ok := m[key].([]any); ok && len(pre) > n {
			n = len(pre)
		}
	}
	return n
}
