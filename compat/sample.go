package compat

import (
	"math/big"
	"regexp/syntax"
	"sort"
	"strings"
)

// Samples are values generated to satisfy a conjunction: the building blocks
// of counterexamples. They are checked with the version's own compiled
// schema; one that does not pass is still offered (a counterexample is
// proven as a whole document afterwards, never trusted).

var formatSamples = map[string]string{
	"date-time": "2026-01-01T00:00:00Z", "date": "2026-01-01", "time": "00:00:00Z", "duration": "P1D", "period": "2026-01-01T00:00:00Z/P1D",
	"email": "a@example.com", "idn-email": "a@example.com", "hostname": "example.com", "idn-hostname": "example.com",
	"ipv4": "192.0.2.1", "ipv6": "2001:db8::1", "uri": "https://example.com/x", "iri": "https://example.com/x",
	"uri-reference": "/x", "iri-reference": "/x", "uri-template": "/x/{id}", "uuid": "00000000-0000-4000-8000-000000000000",
	"regex": "a+", "json-pointer": "/a", "relative-json-pointer": "0", "semver": "1.0.0",
}

// samples returns up to n distinct values c accepts, of type typ when set,
// the accepted ones first.
func (c *checker) samples(s *side, x *conj, typ string, n int) []any {
	var ok, other []any
	add := func(v any) {
		for _, w := range append(ok, other...) {
			if jsonEqual(w, v) {
				return
			}
		}
		if c.accepts(s, x, v) {
			ok = append(ok, v)
		} else {
			other = append(other, v)
		}
	}
	types := []string{typ}
	if typ == "" {
		types = preferredTypes(x)
	}
	if vals, has := x.enumValues(); has {
		for _, v := range vals {
			if typ == "" || typeOf(v) == typ || (typ == "number" && typeOf(v) == "integer") {
				add(v)
			}
		}
	}
	for _, t := range types {
		for _, v := range c.typed(s, x, t, 0) {
			add(v)
		}
		if len(ok) >= n {
			break
		}
	}
	out := append(ok, other...)
	if len(out) > n {
		out = out[:n]
	}
	return out
}

// sample returns one value x (probably) accepts.
func (c *checker) sample(s *side, x *conj, typ string, depth int) any {
	vs := c.samples(s, x, typ, 1)
	if len(vs) == 0 {
		return nil
	}
	return vs[0]
}

func preferredTypes(x *conj) []string {
	ts := x.types()
	hint := map[string]bool{}
	for _, n := range x.nodes {
		for k := range n.obj() {
			switch k {
			case "properties", "required", "additionalProperties", "patternProperties", "minProperties", "maxProperties", "dependentRequired", "propertyNames":
				hint["object"] = true
			case "items", "prefixItems", "minItems", "maxItems", "contains", "uniqueItems":
				hint["array"] = true
			case "minLength", "maxLength", "pattern", "format":
				hint["string"] = true
			case "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf":
				hint["number"] = true
			}
		}
	}
	var out []string
	for _, t := range []string{"object", "array", "string", "integer", "number", "boolean", "null"} {
		if ts.has(t) && hint[t] {
			out = append(out, t)
		}
	}
	for _, t := range []string{"object", "string", "integer", "number", "boolean", "array", "null"} {
		if ts.has(t) && !hint[t] {
			out = append(out, t)
		}
	}
	return out
}

// typed returns candidate values of type t for x.
func (c *checker) typed(s *side, x *conj, t string, depth int) []any {
	switch t {
	case "null":
		return []any{nil}
	case "boolean":
		return []any{true, false}
	case "integer", "number":
		return numberSamples(x, t == "integer")
	case "string":
		return c.stringCandidates(x)
	case "array":
		if depth > 6 {
			return []any{[]any{}}
		}
		mn, _, _ := x.intKeyword("minItems", false)
		return []any{c.sampleArray(s, x, int(mn), depth)}
	case "object":
		if depth > 6 {
			return []any{map[string]any{}}
		}
		return []any{c.sampleObject(s, x, nil, depth)}
	}
	return nil
}

func numberSamples(x *conj, integer bool) []any {
	lo, hi := x.numBounds()
	step := big.NewRat(1, 1)
	if ms := x.multipleOfs(); len(ms) > 0 {
		step = new(big.Rat).Set(ms[0])
		for _, m := range ms[1:] {
			// a common multiple when the steps are integers
			if step.IsInt() && m.IsInt() {
				a, b := step.Num(), m.Num()
				g := new(big.Int).GCD(nil, nil, a, b)
				step = new(big.Rat).SetInt(new(big.Int).Div(new(big.Int).Mul(a, b), g))
			}
		}
	}
	if integer && !step.IsInt() {
		step = big.NewRat(1, 1)
	}
	start := new(big.Rat)
	if lo.set && lo.v.Cmp(start) >= 0 {
		// smallest multiple of step at or above the bound
		q := ceilRat(new(big.Rat).Quo(lo.v, step))
		start = new(big.Rat).Mul(new(big.Rat).SetInt(q), step)
		if lo.exclusive && start.Cmp(lo.v) == 0 {
			start.Add(start, step)
		}
	} else if hi.set && hi.v.Cmp(start) <= 0 {
		q := floorRat(new(big.Rat).Quo(hi.v, step))
		start = new(big.Rat).Mul(new(big.Rat).SetInt(q), step)
		if hi.exclusive && start.Cmp(hi.v) == 0 {
			start.Sub(start, step)
		}
	}
	out := []any{num(start), num(new(big.Rat).Add(start, step))}
	if !integer {
		out = append(out, num(new(big.Rat).Add(start, big.NewRat(1, 2))))
	}
	return out
}

// stringCandidates returns strings for x: enum values, format samples,
// strings generated from its patterns, and plain strings, at lengths its
// bounds allow.
func (c *checker) stringCandidates(x *conj) []any {
	var out []any
	seen := map[string]bool{}
	add := func(s string) {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	mn, _, _ := x.intKeyword("minLength", false)
	mx, _, hasMax := x.intKeyword("maxLength", true)
	fit := func(s string) string {
		for int64(len([]rune(s))) < mn {
			s += "a"
		}
		if hasMax && int64(len([]rune(s))) > mx {
			s = string([]rune(s)[:mx])
		}
		return s
	}
	formats, _ := x.strings("format")
	for _, f := range formats {
		if v, ok := formatSamples[f]; ok {
			add(v)
		}
	}
	pats, _ := x.strings("pattern")
	for _, p := range pats {
		for _, s := range regexSamples(p) {
			add(s)
			add(fit(s))
		}
	}
	for _, s := range []string{"a", "", "abc", "A", "0", "x y", "-", "not-a-value"} {
		add(fit(s))
	}
	return out
}

func (c *checker) stringOfLen(x *conj, n int) any {
	if n < 0 {
		n = 0
	}
	for _, s := range c.stringCandidates(x) {
		str := s.(string)
		r := []rune(str)
		if len(r) == n {
			return str
		}
		if len(r) > n && len(r) > 0 {
			continue
		}
		if len(r) > 0 {
			return str + strings.Repeat(string(r[len(r)-1]), n-len(r))
		}
	}
	return strings.Repeat("a", n)
}

// sampleObject returns an object x (probably) accepts, with every required
// property but those in skip, and at least minProperties properties.
func (c *checker) sampleObject(s *side, x *conj, skip map[string]bool, depth int) map[string]any {
	obj := map[string]any{}
	req := x.required()
	names := make([]string, 0, len(req))
	for k := range req {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, name := range names {
		if skip[name] {
			continue
		}
		ns, _, _ := s.propSchema(x, name, false)
		obj[name] = c.sampleAt(s, s.flatten(ns...), depth+1)
	}
	mn, _, _ := x.intKeyword("minProperties", false)
	for _, name := range sortedNames(x.declared()) {
		if int64(len(obj)) >= mn {
			break
		}
		if _, ok := obj[name]; ok || skip[name] {
			continue
		}
		ns, _, _ := s.propSchema(x, name, false)
		obj[name] = c.sampleAt(s, s.flatten(ns...), depth+1)
	}
	// A disjunction's first branch that works supplies what it requires.
	for _, d := range x.disj {
		if d.kind != "anyOf" && d.kind != "oneOf" {
			continue
		}
		for _, b := range d.branches {
			bc := s.with(x, -1, b)
			extra := map[string]any{}
			for name := range bc.required() {
				if _, ok := obj[name]; ok || skip[name] {
					continue
				}
				ns, _, _ := s.propSchema(bc, name, false)
				extra[name] = c.sampleAt(s, s.flatten(ns...), depth+1)
			}
			trial := map[string]any{}
			for k, v := range obj {
				trial[k] = v
			}
			for k, v := range extra {
				trial[k] = v
			}
			if nv, _, err := normalize(trial); err == nil && c.accepts(s, x, nv) {
				obj = trial
				break
			}
		}
	}
	return obj
}

func (c *checker) sampleAt(s *side, x *conj, depth int) any {
	if depth > 8 {
		return nil
	}
	types := preferredTypes(x)
	if vals, ok := x.enumValues(); ok {
		for _, v := range vals {
			if c.accepts(s, x, v) {
				return v
			}
		}
	}
	var first any
	for i, t := range types {
		for j, v := range c.typed(s, x, t, depth) {
			if i == 0 && j == 0 {
				first = v
			}
			nv, _, err := normalize(v)
			if err == nil && c.accepts(s, x, nv) {
				return v
			}
		}
	}
	return first
}

// sampleArray returns an array of n items for x.
func (c *checker) sampleArray(s *side, x *conj, n int, depth int) []any {
	if n < 0 {
		n = 0
	}
	arr := make([]any, n)
	for i := range arr {
		ns, _ := s.itemSchema(x, i, false)
		arr[i] = c.sampleAt(s, s.flatten(ns...), depth+1)
	}
	return arr
}

// regexSamples returns a few strings matching pattern p, shortest first,
// or none when p cannot be parsed.
func regexSamples(p string) []string {
	re, err := syntax.Parse(p, syntax.Perl)
	if err != nil {
		return nil
	}
	re = re.Simplify()
	var out []string
	for _, more := range []bool{false, true} {
		var b strings.Builder
		if genRegex(&b, re, more, 0) {
			s := b.String()
			if !containsString(out, s) {
				out = append(out, s)
			}
		}
	}
	return out
}

func genRegex(b *strings.Builder, re *syntax.Regexp, more bool, depth int) bool {
	if depth > 50 || b.Len() > 256 {
		return false
	}
	switch re.Op {
	case syntax.OpLiteral:
		b.WriteString(string(re.Rune))
	case syntax.OpCharClass:
		if len(re.Rune) < 2 {
			return false
		}
		r := re.Rune[0]
		// prefer a letter or digit inside the class
		for i := 0; i+1 < len(re.Rune); i += 2 {
			lo, hi := re.Rune[i], re.Rune[i+1]
			for _, want := range []rune{'a', 'A', '0'} {
				if lo <= want && want <= hi {
					r = want
					goto found
				}
			}
		}
	found:
		b.WriteRune(r)
	case syntax.OpAnyChar, syntax.OpAnyCharNotNL:
		b.WriteRune('a')
	case syntax.OpStar, syntax.OpQuest:
		if more {
			return genRegex(b, re.Sub[0], more, depth+1)
		}
	case syntax.OpPlus:
		return genRegex(b, re.Sub[0], more, depth+1)
	case syntax.OpRepeat:
		n := re.Min
		if more && (re.Max == -1 || re.Max > re.Min) {
			n++
		}
		for i := 0; i < n; i++ {
			if !genRegex(b, re.Sub[0], more, depth+1) {
				return false
			}
		}
	case syntax.OpConcat:
		for _, s := range re.Sub {
			if !genRegex(b, s, more, depth+1) {
				return false
			}
		}
	case syntax.OpAlternate:
		i := 0
		if more && len(re.Sub) > 1 {
			i = 1
		}
		return genRegex(b, re.Sub[i], more, depth+1)
	case syntax.OpCapture:
		return genRegex(b, re.Sub[0], more, depth+1)
	case syntax.OpEmptyMatch, syntax.OpBeginLine, syntax.OpEndLine, syntax.OpBeginText, syntax.OpEndText, syntax.OpWordBoundary, syntax.OpNoWordBoundary:
	default:
		return false
	}
	return true
}
