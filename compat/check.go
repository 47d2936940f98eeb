package compat

import (
	"fmt"
	"math/big"
	"sort"
	"strconv"
	"strings"
)

// Bounds of one comparison: past them the checker reports cannot_prove.
const (
	maxSteps    = 20000 // subset questions asked for one version pair
	maxDepth    = 48    // nesting of the schemas walked together
	maxCases    = 512   // cases disjunctions split into
	maxExamples = 12    // counterexample candidates proven per finding
)

// walk is where the checker is: the payload pointer, and how to embed a
// value found here into a whole document the older side accepts.
type walk struct {
	path string
	wrap func(any) any
}

// pending is a finding before its counterexample is proven.
type pending struct {
	f          Finding
	candidates []any // whole documents
	// approx: the finding rests on an approximation; without a proven
	// counterexample it is reported as cannot_prove.
	approx bool
	reason string // for cannot_prove
}

// checker proves that every document x accepts, y accepts.
type checker struct {
	x, y     *side
	backward bool // x is the older version
	lenient  bool
	found    []*pending
	active   map[string]bool
	steps    int
	cases    int
	overflow bool
}

func (c *checker) older() *side {
	if c.backward {
		return c.x
	}
	return c.y
}

func (c *checker) newer() *side {
	if c.backward {
		return c.y
	}
	return c.x
}

// code picks the code naming the change from the older to the newer version:
// b when x is the older one, f when it is the newer one.
func (c *checker) code(b, f string) string {
	if c.backward {
		return b
	}
	return f
}

// report records a finding. at are schema nodes the change is in; the one of
// the newer version is named when there is one.
func (c *checker) report(w walk, code, msg, fix string, approx bool, at []node, locals ...any) {
	p := &pending{approx: approx}
	p.f = Finding{Path: w.path, Code: code, Message: msg, Fix: fix,
		BreaksVersion: c.y.version, Breaks: fmt.Sprintf("consumers of version %d", c.y.version)}
	c.locate(&p.f, at)
	for _, l := range locals {
		if len(p.candidates) >= maxExamples {
			break
		}
		p.candidates = append(p.candidates, w.wrap(l))
	}
	c.found = append(c.found, p)
}

// keyword points the last finding's schema path at a keyword of its node,
// when the node is in the version the path names.
func (c *checker) keyword(k string) {
	f := &c.found[len(c.found)-1].f
	if f.SchemaSubject != "" {
		f.SchemaPath += "/" + k
	}
}

func (c *checker) locate(f *Finding, at []node) {
	var pick *node
	for i := range at {
		n := at[i]
		if n.doc == "" {
			continue
		}
		if pick == nil {
			pick = &at[i]
		}
		if n.origin.Subject == c.newer().subject && n.origin.Version == c.newer().version {
			pick = &at[i]
			break
		}
	}
	if pick != nil {
		f.SchemaPath, f.SchemaSubject, f.SchemaVersion = pick.ptr, pick.origin.Subject, pick.origin.Version
	}
}

func (c *checker) cannotProve(w walk, reason string, at []node, locals ...any) {
	c.report(w, CodeCannotProve, "cannot prove that version "+strconv.Itoa(c.y.version)+" accepts every document version "+strconv.Itoa(c.x.version)+" accepts here: "+reason,
		"simplify the change so that it is a plain addition or removal, or publish it as a new subject", true, at, locals...)
	c.found[len(c.found)-1].reason = reason
}

// try runs f and returns the findings it produced, leaving none behind.
func (c *checker) try(f func()) []*pending {
	saved := c.found
	c.found = nil
	f()
	got := c.found
	c.found = saved
	return got
}

func (c *checker) prop(w walk, parent *conj, name string) walk {
	return walk{path: w.path + "/" + escapePtr(name), wrap: func(v any) any {
		obj := c.sampleObject(c.x, parent, map[string]bool{name: true}, 0)
		obj[name] = v
		return w.wrap(obj)
	}}
}

func (c *checker) index(w walk, parent *conj, i int) walk {
	return walk{path: w.path + "/" + strconv.Itoa(i), wrap: func(v any) any {
		arr := c.sampleArray(c.x, parent, i+1, 0)
		arr[i] = v
		return w.wrap(arr)
	}}
}

// singleEqual reports whether y is one plain node equal to a node of x
// (without references, whose targets may differ between the versions).
func singleEqual(x, y *conj) bool {
	if len(y.nodes) != 1 || len(y.problems) > 0 {
		return false
	}
	yn := y.nodes[0]
	if hasRef(yn.v) {
		return false
	}
	for _, xn := range x.nodes {
		if xn.draft == yn.draft && jsonEqual(xn.v, yn.v) {
			return true
		}
	}
	return false
}

// sub reports, as findings, why y may not accept every document x accepts.
func (c *checker) sub(x, y *conj, w walk, depth int) {
	c.steps++
	if c.steps > maxSteps || c.cases > maxCases {
		if !c.overflow {
			c.overflow = true
			c.cannotProve(w, "the schemas are too large to compare (more than 20000 comparisons or 512 cases)", nil)
		}
		return
	}
	if x.falsy {
		return
	}
	if len(x.problems) > 0 || len(y.problems) > 0 {
		c.cannotProve(w, strings.Join(append(append([]string(nil), x.problems...), y.problems...), "; "), append(x.nodes, y.nodes...))
		return
	}
	if y.unconstrained() || singleEqual(x, y) {
		return
	}
	if depth > maxDepth {
		c.cannotProve(w, "schemas nest deeper than 48 levels", x.nodes)
		return
	}
	key := x.key() + "|" + y.key()
	if c.active[key] {
		return // a cycle: assumed while it is being proven
	}
	c.active[key] = true
	defer delete(c.active, key)

	// Split x into cases.
	for i, d := range x.disj {
		switch d.kind {
		case "anyOf", "oneOf":
			for _, b := range d.branches {
				c.cases++
				c.sub(c.x.with(x, i, b), y, w, depth+1)
			}
			return
		case "if":
			c.cases += 2
			thenCase := []node{*d.cond}
			if d.then != nil {
				thenCase = append(thenCase, *d.then)
			}
			c.sub(c.x.with(x, i, thenCase...), y, w, depth+1)
			elseCase := c.x.with(x, i)
			if d.els != nil {
				elseCase = c.x.with(x, i, *d.els)
			}
			elseCase.disj = append(elseCase.disj, disjunct{kind: "neg", at: d.at, branches: []node{*d.cond}})
			c.sub(elseCase, y, w, depth+1)
			return
		}
	}
	if y.falsy {
		c.report(w, c.code(CodeTypeNarrowed, CodeTypeWidened), fmt.Sprintf("version %d accepts no value here; version %d accepts some", c.y.version, c.x.version),
			"allow the value again, or publish the change as a new subject", false, nil, c.samples(c.x, x, "", 4)...)
		return
	}
	// y's disjunctions.
	for _, d := range y.disj {
		c.subDisjunct(x, d, w, depth)
	}
	c.compareFacets(x, y, w, depth)
}

// negs returns the schemas x must not match (its not keywords and the
// failed conditions of else cases).
func negs(x *conj) []node {
	var out []node
	for _, d := range x.disj {
		if d.kind == "not" || d.kind == "neg" {
			out = append(out, d.branches[0])
		}
	}
	return out
}

func (c *checker) silent(x, y *conj, depth int) bool {
	return len(c.try(func() { c.sub(x, y, walk{wrap: func(v any) any { return v }}, depth+1) })) == 0
}

func (c *checker) subDisjunct(x *conj, d disjunct, w walk, depth int) {
	at := []node{d.at}
	switch d.kind {
	case "anyOf", "oneOf":
		match := -1
		var closest []*pending
		for j, b := range d.branches {
			yb := c.y.flatten(b)
			got := c.try(func() { c.sub(x, yb, w, depth+1) })
			if len(got) == 0 {
				match = j
				break
			}
			if closest == nil || len(got) < len(closest) {
				closest = got
			}
		}
		if match < 0 {
			msg := fmt.Sprintf("a document version %d accepts matches no branch of version %d's %s", c.x.version, c.y.version, d.kind)
			if len(closest) > 0 {
				msg += " (closest branch: " + closest[0].f.Message + ")"
			}
			p := &pending{approx: true}
			p.f = Finding{Path: w.path, Code: c.code(CodeBranchesNarrowed, CodeBranchesWidened), Message: msg,
				Fix:           fmt.Sprintf("keep a branch of the %s that accepts what version %d accepted, or publish the change as a new subject", d.kind, c.older().version),
				BreaksVersion: c.y.version, Breaks: fmt.Sprintf("consumers of version %d", c.y.version)}
			c.locate(&p.f, at)
			for _, cl := range closest {
				p.candidates = append(p.candidates, cl.candidates...)
			}
			if len(p.candidates) > maxExamples {
				p.candidates = p.candidates[:maxExamples]
			}
			c.found = append(c.found, p)
			return
		}
		if d.kind == "oneOf" {
			for k, b := range d.branches {
				if k == match {
					continue
				}
				if !c.disjoint(c.x, x, c.y, c.y.flatten(b), 0) && !c.disjoint(c.y, c.y.flatten(d.branches[match]), c.y, c.y.flatten(b), 0) {
					c.report(w, c.code(CodeOneOfOverlap, CodeOneOfOverlap), fmt.Sprintf("version %d's oneOf branches %d and %d may both match a document version %d accepts, and oneOf refuses a document matching two branches", c.y.version, match, k, c.x.version),
						"make the oneOf branches exclusive (a const discriminator), or use anyOf", true, at, c.samples(c.x, x, "", 6)...)
					c.found[len(c.found)-1].reason = fmt.Sprintf("version %d's oneOf branches %d and %d are not proven exclusive", c.y.version, match, k)
					return
				}
			}
		}
	case "not":
		z := c.y.flatten(d.branches[0])
		for _, n := range negs(x) {
			if c.silentAcross(z, c.x.flatten(n), depth) {
				return
			}
		}
		if c.disjoint(c.x, x, c.y, z, 0) {
			return
		}
		c.report(w, c.code(CodeNotAdded, CodeNotRemoved), fmt.Sprintf("version %d refuses documents matching its not schema; version %d may accept some of them", c.y.version, c.x.version),
			"remove the not, or publish the change as a new subject", true, at, c.blend(x, z)...)
	case "if":
		ycond := c.y.flatten(*d.cond)
		yThen, yElse := &conj{}, &conj{}
		if d.then != nil {
			yThen = c.y.flatten(*d.then)
		}
		if d.els != nil {
			yElse = c.y.flatten(*d.els)
		}
		for _, n := range negs(x) {
			if c.silentAcross(ycond, c.x.flatten(n), depth) {
				c.sub(x, yElse, w, depth+1)
				return
			}
		}
		switch {
		case c.silent(x, ycond, depth):
			c.sub(x, yThen, w, depth+1)
		case c.disjoint(c.x, x, c.y, ycond, 0):
			c.sub(x, yElse, w, depth+1)
		case c.silent(x, yThen, depth) && c.silent(x, yElse, depth):
		default:
			c.report(w, c.code(CodeConditionAdded, CodeConditionRemoved), fmt.Sprintf("version %d adds a condition (if/then/else) that a document version %d accepts may fail", c.y.version, c.x.version),
				"make the condition hold for every document the older version accepted, or publish the change as a new subject", true, at,
				c.blend(x, ycond)...)
		}
	}
}

// blend returns values that x (of side x) may accept and that also match z
// (of side y): z's samples, and x's sample objects with z's members laid
// over them.
func (c *checker) blend(x, z *conj) []any {
	var out []any
	zs := c.samples(c.y, z, "", 4)
	xs := c.samples(c.x, x, "", 3)
	for _, zv := range zs {
		zm, zok := zv.(map[string]any)
		for _, xv := range xs {
			xm, xok := xv.(map[string]any)
			if zok && xok {
				m := map[string]any{}
				for k, v := range xm {
					m[k] = v
				}
				for k, v := range zm {
					m[k] = v
				}
				out = append(out, m)
			}
		}
		out = append(out, zv)
	}
	return append(out, xs...)
}

// silentAcross proves a ⊆ b where a is of y's side and b of x's (used for
// negations, which swap the sides).
func (c *checker) silentAcross(a, b *conj, depth int) bool {
	sw := &checker{x: c.y, y: c.x, backward: !c.backward, active: map[string]bool{}}
	sw.sub(a, b, walk{wrap: func(v any) any { return v }}, depth+1)
	return len(sw.found) == 0
}

// disjoint reports whether no value is accepted by both a (of side sa) and
// b (of side sb), when that is easy to see.
func (c *checker) disjoint(sa *side, a *conj, sb *side, b *conj, depth int) bool {
	if a.falsy || b.falsy {
		return true
	}
	if depth > 8 {
		return false
	}
	ta, tb := a.types(), b.types()
	common := false
	for t := range ta {
		if tb.has(t) || (t == "number" && tb["integer"]) {
			common = true
		}
	}
	if !common {
		return true
	}
	if vals, ok := a.enumValues(); ok {
		for _, v := range vals {
			if c.accepts(sa, a, v) && c.accepts(sb, b, v) {
				return false
			}
		}
		return true
	}
	if vals, ok := b.enumValues(); ok {
		for _, v := range vals {
			if c.accepts(sa, a, v) && c.accepts(sb, b, v) {
				return false
			}
		}
		return true
	}
	onlyObjects := len(ta) == 1 && ta["object"] || len(tb) == 1 && tb["object"]
	if onlyObjects {
		ra, rb := a.required(), b.required()
		for name := range ra {
			if _, ok := rb[name]; !ok {
				continue
			}
			na, _, _ := sa.propSchema(a, name, true)
			nb, _, _ := sb.propSchema(b, name, true)
			if c.disjoint(sa, sa.flatten(na...), sb, sb.flatten(nb...), depth+1) {
				return true
			}
		}
	}
	return false
}

// accepts reports whether conjunction x of side s accepts v.
func (c *checker) accepts(s *side, x *conj, v any) bool {
	if x.falsy {
		return false
	}
	for _, n := range x.nodes {
		if !s.evaluate(n, v) {
			return false
		}
	}
	for _, d := range x.disj {
		switch d.kind {
		case "neg":
			if s.evaluate(d.branches[0], v) {
				return false
			}
		}
	}
	return true
}

func describe(ts []string) string {
	if len(ts) == 0 {
		return "nothing"
	}
	return strings.Join(ts, ", ")
}

func (c *checker) compareFacets(x, y *conj, w walk, depth int) {
	// A finite x: check each value exactly.
	if vals, ok := x.enumValues(); ok {
		_, yHasEnum := y.enumValues()
		for _, v := range vals {
			if !c.accepts(c.x, x, v) || c.accepts(c.y, y, v) {
				continue
			}
			code := c.code(CodeEnumValueRemoved, CodeEnumValueAdded)
			msg := fmt.Sprintf("version %d accepts %s here; version %d does not", c.x.version, jsonText(v), c.y.version)
			fix := fmt.Sprintf("accept %s again, or publish the change as a new subject", jsonText(v))
			if !c.backward {
				fix = fmt.Sprintf("do not add %s until every consumer reads the new version, or publish it as a new subject", jsonText(v))
			}
			if !yHasEnum {
				// y refuses it by another keyword: report by type or bound
				// through the facet comparison below, with this value.
				code = c.code(CodeTypeNarrowed, CodeTypeWidened)
				if y.types().has(typeOf(v)) {
					code = ""
				}
			}
			if code != "" {
				c.report(w, code, msg, fix, false, append(y.nodes, x.nodes...), v)
			} else {
				c.compareFacetsInfinite(x, y, w, depth, v)
			}
		}
		return
	}
	if yvals, ok := y.enumValues(); ok {
		var cands []any
		for _, v := range c.samples(c.x, x, "", 6) {
			if !containsValue(yvals, v) {
				cands = append(cands, v)
			}
		}
		var at []node
		for _, n := range y.nodes {
			if _, ok := n.obj()["enum"]; ok {
				at = append(at, n)
			} else if _, ok := n.obj()["const"]; ok {
				at = append(at, n)
			}
		}
		c.report(w, c.code(CodeEnumAdded, CodeEnumRemoved), fmt.Sprintf("version %d accepts only %s here; version %d accepted other values", c.y.version, valuesText(yvals), c.x.version),
			"keep the value open (no enum/const), or publish the change as a new subject", false, at, cands...)
		return
	}
	c.compareFacetsInfinite(x, y, w, depth, nil)
}

func containsValue(vs []any, v any) bool {
	for _, w := range vs {
		if jsonEqual(v, w) {
			return true
		}
	}
	return false
}

func valuesText(vs []any) string {
	parts := make([]string, 0, len(vs))
	for i, v := range vs {
		if i == 8 {
			parts = append(parts, fmt.Sprintf("and %d more", len(vs)-8))
			break
		}
		parts = append(parts, jsonText(v))
	}
	return strings.Join(parts, ", ")
}

func typeOf(v any) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case bool:
		return "boolean"
	case string:
		return "string"
	case []any:
		return "array"
	case map[string]any:
		return "object"
	default:
		if r, ok := ratOf(x); ok && r.IsInt() {
			return "integer"
		}
		return "number"
	}
}

// compareFacetsInfinite compares keyword by keyword, per type. only, when
// set, is a value of x that y refuses, used as the counterexample.
func (c *checker) compareFacetsInfinite(x, y *conj, w walk, depth int, only any) {
	tx, ty := x.types(), y.types()
	var narrowed []string
	for _, t := range tx.sorted() {
		if t == "integer" && tx["number"] {
			continue
		}
		if !ty.has(t) {
			narrowed = append(narrowed, t)
		}
	}
	if len(narrowed) > 0 {
		var at []node
		for _, n := range append(append([]node(nil), y.nodes...), x.nodes...) {
			if _, ok := n.obj()["type"]; ok {
				at = append(at, n)
			}
		}
		var cands []any
		for _, t := range narrowed {
			cands = append(cands, c.samples(c.x, x, t, 3)...)
		}
		c.report(w, c.code(CodeTypeNarrowed, CodeTypeWidened),
			fmt.Sprintf("version %d accepts %s here; version %d accepts only %s", c.x.version, describe(narrowed), c.y.version, describe(ty.sorted())),
			c.fixFor(CodeTypeNarrowed), false, at, cands...)
	}
	has := func(t string) bool { return tx.has(t) && ty.has(t) }
	if has("integer") || has("number") {
		c.compareNumbers(x, y, w, tx)
	}
	if has("string") {
		c.compareStrings(x, y, w)
	}
	if has("array") {
		c.compareArrays(x, y, w, depth)
	}
	if has("object") {
		c.compareObjects(x, y, w, depth)
	}
}

func (c *checker) fixFor(code string) string {
	old := c.older().version
	switch code {
	case CodeTypeNarrowed:
		if c.backward {
			return fmt.Sprintf("accept the types version %d accepted again, or publish the change as a new subject", old)
		}
		return fmt.Sprintf("do not widen the type until every consumer reads version %d, or publish the change as a new subject", c.newer().version)
	}
	return "publish the change as a new subject"
}

func jsonText(v any) string {
	_, b, err := normalize(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

func ratText(r *big.Rat) string {
	if r.IsInt() {
		return r.Num().String()
	}
	f, _ := r.Float64()
	return strconv.FormatFloat(f, 'g', -1, 64)
}

func sortedNames(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
