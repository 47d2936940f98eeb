package compat

import (
	"encoding/json"
	"fmt"
	"math/big"
	"strconv"
)

func num(r *big.Rat) json.Number { return json.Number(ratText(r)) }

func numInt(i *big.Int) json.Number { return json.Number(i.String()) }

func (c *checker) compareNumbers(x, y *conj, w walk, tx typeSet) {
	xlo, xhi := x.numBounds()
	ylo, yhi := y.numBounds()
	intOnly := !tx["number"]
	one := big.NewRat(1, 2)
	if intOnly {
		xl, xh := intBounds(xlo, xhi)
		yl, yh := intBounds(ylo, yhi)
		if yl != nil && (xl == nil || xl.Cmp(yl) < 0) {
			v := new(big.Int).Sub(yl, big.NewInt(1))
			c.report(w, c.code(CodeMinimumRaised, CodeMinimumLowered), c.boundMsg("smallest", xl, yl), c.boundFix("minimum"), false, []node{ylo.at}, numInt(v))
		}
		if yh != nil && (xh == nil || xh.Cmp(yh) > 0) {
			v := new(big.Int).Add(yh, big.NewInt(1))
			c.report(w, c.code(CodeMaximumLowered, CodeMaximumRaised), c.boundMsg("largest", xh, yh), c.boundFix("maximum"), false, []node{yhi.at}, numInt(v))
		}
	} else {
		if ylo.set && (!xlo.set || xlo.v.Cmp(ylo.v) < 0 || (xlo.v.Cmp(ylo.v) == 0 && ylo.exclusive && !xlo.exclusive)) {
			var cands []any
			if !ylo.exclusive {
				cands = append(cands, num(new(big.Rat).Sub(ylo.v, one)), num(new(big.Rat).Sub(ylo.v, big.NewRat(1, 1))))
			}
			cands = append(cands, num(ylo.v), num(new(big.Rat).Sub(ylo.v, big.NewRat(1, 1))))
			c.report(w, c.code(CodeMinimumRaised, CodeMinimumLowered), c.ratMsg("lower", xlo, ylo), c.boundFix("minimum"), false, []node{ylo.at}, cands...)
		}
		if yhi.set && (!xhi.set || xhi.v.Cmp(yhi.v) > 0 || (xhi.v.Cmp(yhi.v) == 0 && yhi.exclusive && !xhi.exclusive)) {
			var cands []any
			if !yhi.exclusive {
				cands = append(cands, num(new(big.Rat).Add(yhi.v, one)), num(new(big.Rat).Add(yhi.v, big.NewRat(1, 1))))
			}
			cands = append(cands, num(yhi.v), num(new(big.Rat).Add(yhi.v, big.NewRat(1, 1))))
			c.report(w, c.code(CodeMaximumLowered, CodeMaximumRaised), c.ratMsg("upper", xhi, yhi), c.boundFix("maximum"), false, []node{yhi.at}, cands...)
		}
	}
	xm, ym := x.multipleOfs(), y.multipleOfs()
	for _, m := range ym {
		ok := false
		for _, k := range xm {
			q := new(big.Rat).Quo(k, m)
			if q.IsInt() {
				ok = true
				break
			}
		}
		if !ok && intOnly && m.IsInt() && m.Num().Cmp(big.NewInt(1)) == 0 {
			ok = true
		}
		if ok {
			continue
		}
		var at node
		for _, n := range y.nodes {
			if _, has := n.obj()["multipleOf"]; has {
				at = n
			}
		}
		// Candidates: multiples of x's step (or small numbers) that m
		// does not divide.
		var cands []any
		step := big.NewRat(1, 1)
		if len(xm) > 0 {
			step = xm[0]
		} else if !intOnly {
			step = big.NewRat(1, 10)
		}
		for k := int64(1); k <= 40 && len(cands) < 6; k++ {
			v := new(big.Rat).Mul(step, big.NewRat(k, 1))
			if !new(big.Rat).Quo(v, m).IsInt() {
				cands = append(cands, num(v))
			}
		}
		c.report(w, CodeMultipleOfChanged, fmt.Sprintf("version %d accepts only multiples of %s here; version %d accepted numbers that are not", c.y.version, ratText(m), c.x.version),
			"keep multipleOf as it was (or a divisor of it), or publish the change as a new subject", false, []node{at}, cands...)
	}
}

func (c *checker) boundMsg(word string, xv, yv *big.Int) string {
	op := "at least"
	if word == "largest" {
		op = "at most"
	}
	was := "had no such bound"
	if xv != nil {
		was = "accepted " + op + " " + xv.String()
	}
	return fmt.Sprintf("version %d accepts only integers %s %s here; version %d %s", c.y.version, op, yv.String(), c.x.version, was)
}

func (c *checker) ratMsg(word string, xb, yb bound) string {
	op := map[bool]string{true: "above", false: "at least"}
	if word == "upper" {
		op = map[bool]string{true: "below", false: "at most"}
	}
	was := "had no " + word + " bound"
	if xb.set {
		was = "accepted values " + op[xb.exclusive] + " " + ratText(xb.v)
	}
	return fmt.Sprintf("version %d accepts only values %s %s here; version %d %s", c.y.version, op[yb.exclusive], ratText(yb.v), c.x.version, was)
}

func (c *checker) boundFix(keyword string) string {
	if c.backward {
		return fmt.Sprintf("restore the %s of version %d, or publish the change as a new subject", keyword, c.older().version)
	}
	return fmt.Sprintf("keep the %s of version %d until every consumer reads version %d, or publish the change as a new subject", keyword, c.older().version, c.newer().version)
}

func (c *checker) compareStrings(x, y *conj, w walk) {
	xmin, _, _ := x.intKeyword("minLength", false)
	ymin, ymn, yok := y.intKeyword("minLength", false)
	if yok && ymin > xmin {
		cands := []any{}
		if ymin > 0 {
			cands = append(cands, c.stringOfLen(x, int(ymin-1)), c.stringOfLen(x, int(xmin)))
		}
		c.report(w, c.code(CodeMinLengthRaised, CodeMinLengthLowered), fmt.Sprintf("version %d needs at least %d characters here; version %d accepted %d", c.y.version, ymin, c.x.version, xmin),
			c.boundFix("minLength"), false, []node{ymn}, cands...)
	}
	xmax, _, xok := x.intKeyword("maxLength", true)
	ymax, ymx, yok := y.intKeyword("maxLength", true)
	if yok && (!xok || xmax > ymax) {
		was := "any length"
		if xok {
			was = strconv.FormatInt(xmax, 10) + " characters"
		}
		c.report(w, c.code(CodeMaxLengthLowered, CodeMaxLengthRaised), fmt.Sprintf("version %d accepts at most %d characters here; version %d accepted %s", c.y.version, ymax, c.x.version, was),
			c.boundFix("maxLength"), false, []node{ymx}, c.stringOfLen(x, int(ymax+1)), c.stringOfLen(x, int(ymax+2)))
	}
	xp, _ := x.strings("pattern")
	yp, ypn := y.strings("pattern")
	for i, p := range yp {
		if containsString(xp, p) {
			continue
		}
		code := c.code(CodePatternAdded, CodePatternRemoved)
		msg := fmt.Sprintf("version %d requires strings to match %q here; version %d did not", c.y.version, p, c.x.version)
		if len(xp) > 0 {
			code = CodePatternChanged
			msg = fmt.Sprintf("version %d requires strings to match %q here; version %d required %q", c.y.version, p, c.x.version, xp[0])
		}
		cands := c.stringCandidates(x)
		var refused []any
		for _, s := range cands {
			if !matchPattern(p, s.(string)) {
				refused = append(refused, s)
			}
		}
		c.report(w, code, msg, c.boundFix("pattern"), len(xp) > 0, []node{ypn[i]}, refused...)
		if len(refused) == 0 {
			last := c.found[len(c.found)-1]
			last.reason = fmt.Sprintf("the pattern changed from %q to %q; whether every string matching the first matches the second is not decided, and no string telling them apart was found", firstOr(xp), p)
			last.approx = true
		}
	}
	xf, _ := x.strings("format")
	yf, yfn := y.strings("format")
	for i, f := range yf {
		if containsString(xf, f) || !assertedFormat(f) {
			continue
		}
		code := c.code(CodeFormatAdded, CodeFormatRemoved)
		msg := fmt.Sprintf("version %d requires format %q here; version %d did not", c.y.version, f, c.x.version)
		if len(xf) > 0 {
			code = CodeFormatChanged
			msg = fmt.Sprintf("version %d requires format %q here; version %d required %q", c.y.version, f, c.x.version, xf[0])
		}
		c.report(w, code, msg, c.boundFix("format"), len(xf) > 0, []node{yfn[i]}, c.stringCandidates(x)...)
	}
}

func firstOr(s []string) string {
	if len(s) == 0 {
		return ""
	}
	return s[0]
}

func containsString(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// assertedFormat reports whether eventguard's validator checks format f
// (jsonschema v6 with formats asserted; an unknown format is ignored).
func assertedFormat(f string) bool {
	switch f {
	case "regex", "ipv4", "ipv6", "hostname", "email", "date", "time", "date-time", "duration", "period",
		"json-pointer", "relative-json-pointer", "uuid", "uri", "iri", "uri-reference", "iri-reference", "uri-template", "semver",
		"idn-email", "idn-hostname":
		return true
	}
	return false
}

func (c *checker) compareArrays(x, y *conj, w walk, depth int) {
	xmin, _, _ := x.intKeyword("minItems", false)
	ymin, ymn, yok := y.intKeyword("minItems", false)
	if yok && ymin > xmin {
		c.report(w, c.code(CodeMinItemsRaised, CodeMinItemsLowered), fmt.Sprintf("version %d needs at least %d items here; version %d accepted %d", c.y.version, ymin, c.x.version, xmin),
			c.boundFix("minItems"), false, []node{ymn}, c.sampleArray(c.x, x, int(ymin-1), depth), c.sampleArray(c.x, x, int(xmin), depth))
	}
	xmax, _, xok := x.intKeyword("maxItems", true)
	ymax, ymx, yok := y.intKeyword("maxItems", true)
	if yok && (!xok || xmax > ymax) {
		c.report(w, c.code(CodeMaxItemsLowered, CodeMaxItemsRaised), fmt.Sprintf("version %d accepts at most %d items here; version %d accepted more", c.y.version, ymax, c.x.version),
			c.boundFix("maxItems"), false, []node{ymx}, c.sampleArray(c.x, x, int(ymax+1), depth))
	}
	if y.boolKeyword("uniqueItems") && !x.boolKeyword("uniqueItems") && (!xok || xmax >= 2) {
		var at []node
		for _, n := range y.nodes {
			if b, _ := n.obj()["uniqueItems"].(bool); b {
				at = append(at, n)
			}
		}
		arr := c.sampleArray(c.x, x, 2, depth)
		dup := []any{arr[0], arr[0]}
		if len(arr) > 2 {
			dup = append(dup, arr[2:]...)
		}
		c.report(w, c.code(CodeUniqueItemsAdded, CodeUniqueItemsRemoved), fmt.Sprintf("version %d refuses arrays with repeated items here; version %d accepted them", c.y.version, c.x.version),
			c.boundFix("uniqueItems"), false, at, dup)
	}
	// contains: y's contains must be implied by one of x's.
	for _, yn := range y.nodes {
		yc, ok := yn.child("contains")
		if !ok || yn.draft < draft6 {
			continue
		}
		ymc := int64(1)
		if r, ok := ratOf(yn.obj()["minContains"]); ok && yn.draft >= draft2019 {
			ymc = r.Num().Int64()
		}
		_, hasMax := yn.obj()["maxContains"]
		implied := false
		for _, xn := range x.nodes {
			xc, ok := xn.child("contains")
			if !ok {
				continue
			}
			xmc := int64(1)
			if r, ok := ratOf(xn.obj()["minContains"]); ok && xn.draft >= draft2019 {
				xmc = r.Num().Int64()
			}
			_, xHasMax := xn.obj()["maxContains"]
			if xmc >= ymc && (!hasMax || (xHasMax && jsonEqual(xn.obj()["maxContains"], yn.obj()["maxContains"]) && jsonEqual(xc.v, yc.v))) && c.silent(c.x.flatten(xc), c.y.flatten(yc), depth) {
				implied = true
				break
			}
		}
		if ymc == 0 && !hasMax {
			implied = true
		}
		if !implied {
			c.report(w, c.code(CodeContainsAdded, CodeContainsRemoved), fmt.Sprintf("version %d requires the array to contain a matching item here; version %d did not", c.y.version, c.x.version),
				c.boundFix("contains"), true, []node{yc}, c.sampleArray(c.x, x, int(xmin), depth), c.sampleArray(c.x, x, 1, depth))
		}
	}
	// Items, position by position, then the rest.
	n := x.prefixLen()
	if p := y.prefixLen(); p > n {
		n = p
	}
	for i := 0; i <= n; i++ {
		if xok && int64(i) >= xmax {
			break
		}
		xs, _ := c.x.itemSchema(x, i, false)
		ys, _ := c.y.itemSchema(y, i, true)
		xc, yc := c.x.flatten(xs...), c.y.flatten(ys...)
		if xc.falsy {
			break
		}
		iw := c.index(w, x, i)
		if yc.falsy {
			c.report(iw, c.code(CodeItemsClosed, CodeItemsOpened), fmt.Sprintf("version %d accepts no item at position %d; version %d did", c.y.version, i, c.x.version),
				c.boundFix("items"), false, ys, c.samples(c.x, xc, "", 3)...)
			break
		}
		c.sub(xc, yc, iw, depth+1)
	}
}

func (c *checker) compareObjects(x, y *conj, w walk, depth int) {
	xreq, yreq := x.required(), y.required()
	names := map[string]bool{}
	for k := range x.declared() {
		names[k] = true
	}
	for k := range y.declared() {
		names[k] = true
	}
	for k := range yreq {
		names[k] = true
	}
	for _, name := range sortedNames(names) {
		xs, xDecl, _ := c.x.propSchema(x, name, false)
		ys, yDecl, _ := c.y.propSchema(y, name, true)
		xc, yc := c.x.flatten(xs...), c.y.flatten(ys...)
		_, xr := xreq[name]
		if n, yr := yreq[name]; yr && !xr {
			c.report(w, c.code(CodeRequiredAdded, CodeRequiredRemoved), fmt.Sprintf("version %d requires property %q; version %d did not", c.y.version, name, c.x.version),
				c.requiredFix(name), false, []node{n}, c.sampleObject(c.x, x, map[string]bool{name: true}, depth))
			c.keyword("required")
		}
		if xc.falsy {
			continue
		}
		pw := c.prop(w, x, name)
		if yc.falsy {
			code := c.code(CodePropertyRemovedClosedModel, CodePropertyAddedClosedModel)
			msg := fmt.Sprintf("version %d does not allow property %q (closed content model); version %d did", c.y.version, name, c.x.version)
			fix := fmt.Sprintf("declare %q again in version %d (it may stay optional), or publish the change as a new subject", name, c.y.version)
			if !c.backward {
				fix = fmt.Sprintf("open version %d's content model, or declare %q there before version %d produces it", c.y.version, name, c.x.version)
			}
			c.report(pw, code, msg, fix, false, append(ys, y.nodes...), c.samples(c.x, xc, "", 3)...)
			continue
		}
		if !xDecl && yDecl && xc.unconstrained() {
			if c.lenient && c.backward {
				continue
			}
			var cands []any
			for _, v := range wrongTypeValues() {
				if !c.accepts(c.y, yc, v) {
					cands = append(cands, v)
				}
			}
			code := c.code(CodePropertyAddedOpenModel, CodePropertyRemovedOpenModel)
			msg := fmt.Sprintf("version %d declares property %q; version %d's open content model accepted any value for it", c.y.version, name, c.x.version)
			fix := fmt.Sprintf("accept any value for %q, close version %d's content model first (additionalProperties: false), or run with --lenient if no producer sends %q with another type", name, c.older().version, name)
			if !c.backward {
				msg = fmt.Sprintf("version %d no longer declares property %q, so its open content model accepts any value there; version %d accepted only %s", c.x.version, name, c.y.version, "its declared schema")
				fix = fmt.Sprintf("keep %q declared in version %d, or publish the change as a new subject", name, c.x.version)
			}
			c.report(pw, code, msg, fix, false, ys, cands...)
			continue
		}
		c.sub(xc, yc, pw, depth+1)
	}
	c.compareRest(x, y, w, names, depth)
	c.compareObjectBounds(x, y, w, depth)
	c.compareDependencies(x, y, w, depth)
}

func wrongTypeValues() []any {
	return []any{json.Number("12345"), "x", true, nil, json.Number("1.5"), []any{}, map[string]any{}}
}

func (c *checker) requiredFix(name string) string {
	if c.backward {
		return fmt.Sprintf("make %q optional again, or publish the change as a new subject", name)
	}
	return fmt.Sprintf("keep %q required until every consumer reads version %d, or publish the change as a new subject", name, c.newer().version)
}

// compareRest compares what the two versions allow for property names
// neither declares: additionalProperties, patternProperties,
// unevaluatedProperties, propertyNames.
func (c *checker) compareRest(x, y *conj, w walk, declared map[string]bool, depth int) {
	xp, yp := x.patterns(), y.patterns()
	var probes []string
	for _, p := range append(append([]string(nil), xp...), yp...) {
		if name, ok := nameMatching(p, declared); ok && !containsString(probes, name) {
			probes = append(probes, name)
		}
	}
	all := append(append([]string(nil), xp...), yp...)
	if name, ok := nameMatchingNone(all, declared); ok {
		probes = append(probes, name)
	}
	for _, name := range probes {
		xs, _, _ := c.x.propSchema(x, name, false)
		ys, _, _ := c.y.propSchema(y, name, true)
		xc, yc := c.x.flatten(xs...), c.y.flatten(ys...)
		if xc.falsy {
			continue
		}
		pw := c.prop(w, x, name)
		switch {
		case yc.falsy:
			c.report(pw, c.code(CodeAdditionalPropertiesClosed, CodeAdditionalPropertiesOpened),
				fmt.Sprintf("version %d refuses undeclared properties such as %q; version %d accepted them", c.y.version, name, c.x.version),
				c.boundFix("additionalProperties"), false, append(ys, y.nodes...), c.samples(c.x, xc, "", 3)...)
		case xc.unconstrained() && !yc.unconstrained():
			var cands []any
			for _, v := range wrongTypeValues() {
				if !c.accepts(c.y, yc, v) {
					cands = append(cands, v)
				}
			}
			c.report(pw, c.code(CodeAdditionalPropertiesNarrow, CodeAdditionalPropertiesWidened),
				fmt.Sprintf("version %d constrains undeclared properties such as %q; version %d accepted any value", c.y.version, name, c.x.version),
				c.boundFix("additionalProperties"), false, ys, cands...)
		default:
			c.sub(xc, yc, pw, depth+1)
		}
	}
	if !sameStrings(xp, yp) && len(yp) > 0 {
		// Names matching several patterns, or one side's pattern only
		// partly, are not all probed: prove it or say so.
		openY := true
		for _, p := range yp {
			if name, ok := nameMatching(p, declared); ok {
				ys, _, _ := c.y.propSchema(y, name, true)
				if !c.y.flatten(ys...).unconstrained() {
					openY = false
				}
			}
		}
		if !openY && !c.closedRest(x, declared) {
			c.cannotProve(w, fmt.Sprintf("patternProperties changed (%q to %q); names matching only some of the patterns are not all compared", xp, yp), y.nodes)
		}
	}
	// propertyNames
	for _, yn := range y.nodes {
		pn, ok := yn.child("propertyNames")
		if !ok || yn.draft < draft6 {
			continue
		}
		same := false
		for _, xn := range x.nodes {
			if xpn, ok := xn.child("propertyNames"); ok && jsonEqual(xpn.v, pn.v) && !hasRef(pn.v) {
				same = true
			}
		}
		if same {
			continue
		}
		pc := c.y.flatten(pn)
		if c.closedRest(x, declared) {
			var bad []any
			for name := range x.declared() {
				if !c.accepts(c.y, pc, name) {
					bad = append(bad, name)
				}
			}
			if len(bad) == 0 {
				continue
			}
			c.report(w, c.code(CodePropertyNamesRestricted, CodePropertyNamesRelaxed), fmt.Sprintf("version %d restricts property names (propertyNames); version %d allowed %s", c.y.version, c.x.version, jsonText(bad[0])),
				c.boundFix("propertyNames"), false, []node{pn}, c.sampleObject(c.x, x, nil, depth))
			continue
		}
		var cands []any
		for _, name := range []string{"x_extra", "A", "0", "-", "a b", "é"} {
			if !c.accepts(c.y, pc, name) && !declared[name] {
				obj := c.sampleObject(c.x, x, nil, depth)
				obj[name] = nil
				cands = append(cands, obj)
			}
		}
		p := &pending{}
		p.f = Finding{Path: w.path, Code: c.code(CodePropertyNamesRestricted, CodePropertyNamesRelaxed), Message: fmt.Sprintf("version %d restricts property names (propertyNames); version %d accepted other names", c.y.version, c.x.version),
			Fix: c.boundFix("propertyNames"), BreaksVersion: c.y.version, Breaks: fmt.Sprintf("consumers of version %d", c.y.version)}
		c.locate(&p.f, []node{pn})
		for _, cand := range cands {
			p.candidates = append(p.candidates, w.wrap(cand))
		}
		p.approx = true
		c.found = append(c.found, p)
	}
}

// closedRest reports whether x refuses every property it does not declare.
func (c *checker) closedRest(x *conj, declared map[string]bool) bool {
	if len(x.patterns()) > 0 {
		return false
	}
	name, ok := nameMatchingNone(nil, declared)
	if !ok {
		return false
	}
	xs, _, uncertain := c.x.propSchema(x, name, false)
	return !uncertain && c.x.flatten(xs...).falsy
}

func sameStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func nameMatching(pat string, declared map[string]bool) (string, bool) {
	for _, s := range regexSamples(pat) {
		if !declared[s] && matchPattern(pat, s) {
			return s, true
		}
	}
	return "", false
}

func nameMatchingNone(pats []string, declared map[string]bool) (string, bool) {
	for _, s := range []string{"x_extra", "zz_extra", "_", "0", "-", "X"} {
		if declared[s] {
			continue
		}
		ok := true
		for _, p := range pats {
			if matchPattern(p, s) {
				ok = false
			}
		}
		if ok {
			return s, true
		}
	}
	return "", false
}

func (c *checker) compareObjectBounds(x, y *conj, w walk, depth int) {
	xmin, _, _ := x.intKeyword("minProperties", false)
	ymin, ymn, yok := y.intKeyword("minProperties", false)
	if yok && ymin > xmin {
		c.report(w, c.code(CodeMinPropertiesRaised, CodeMinPropertiesLowered), fmt.Sprintf("version %d needs at least %d properties here; version %d accepted %d", c.y.version, ymin, c.x.version, xmin),
			c.boundFix("minProperties"), false, []node{ymn}, c.sampleObject(c.x, x, nil, depth))
	}
	xmax, _, xok := x.intKeyword("maxProperties", true)
	ymax, ymx, yok := y.intKeyword("maxProperties", true)
	if yok && (!xok || xmax > ymax) {
		obj := c.sampleObject(c.x, x, nil, depth)
		for i := 0; int64(len(obj)) <= ymax && i < 64; i++ {
			obj["extra_"+strconv.Itoa(i)] = nil
		}
		full := c.sampleObject(c.x, x, nil, depth)
		for name := range x.declared() {
			if _, ok := full[name]; !ok {
				xs, _, _ := c.x.propSchema(x, name, false)
				full[name] = c.sample(c.x, c.x.flatten(xs...), "", depth+1)
			}
		}
		c.report(w, c.code(CodeMaxPropertiesLowered, CodeMaxPropertiesRaised), fmt.Sprintf("version %d accepts at most %d properties here; version %d accepted more", c.y.version, ymax, c.x.version),
			c.boundFix("maxProperties"), false, []node{ymx}, full, obj)
	}
}

func (c *checker) compareDependencies(x, y *conj, w walk, depth int) {
	xreq := x.required()
	xdeps := dependentRequired(x)
	for _, yn := range y.nodes {
		for p, qs := range nodeDependentRequired(yn) {
			for _, q := range qs {
				if _, ok := xreq[q]; ok {
					continue
				}
				if containsString(xdeps[p], q) {
					continue
				}
				xs, _, _ := c.x.propSchema(x, p, false)
				if c.x.flatten(xs...).falsy {
					continue
				}
				obj := c.sampleObject(c.x, x, map[string]bool{q: true}, depth)
				obj[p] = c.sample(c.x, c.x.flatten(xs...), "", depth+1)
				c.report(w, c.code(CodeDependencyAdded, CodeDependencyRemoved), fmt.Sprintf("version %d requires %q whenever %q is present; version %d did not", c.y.version, q, p, c.x.version),
					c.boundFix("dependentRequired"), false, []node{yn}, obj)
			}
		}
		// dependentSchemas / schema dependencies: proven only when unchanged.
		for _, key := range []string{"dependentSchemas", "dependencies"} {
			ds, ok := yn.obj()[key].(map[string]any)
			if !ok {
				continue
			}
			for p, d := range ds {
				if _, isArr := d.([]any); isArr {
					continue
				}
				same := false
				for _, xn := range x.nodes {
					if xd, ok := xn.obj()[key].(map[string]any); ok && jsonEqual(xd[p], d) && !hasRef(d) {
						same = true
					}
				}
				if !same {
					ch, _ := yn.child(key, p)
					if ch.v == nil {
						continue
					}
					xs, _, _ := c.x.propSchema(x, p, false)
					if c.x.flatten(xs...).falsy {
						continue
					}
					obj := c.sampleObject(c.x, x, nil, depth)
					obj[p] = c.sample(c.x, c.x.flatten(xs...), "", depth+1)
					c.cannotProve(w, fmt.Sprintf("version %d's %s for %q changed; schema dependencies are compared only when unchanged", c.y.version, key, p), []node{ch}, obj)
				}
			}
		}
	}
}

func dependentRequired(x *conj) map[string][]string {
	out := map[string][]string{}
	for _, n := range x.nodes {
		for p, qs := range nodeDependentRequired(n) {
			out[p] = append(out[p], qs...)
		}
	}
	return out
}

func nodeDependentRequired(n node) map[string][]string {
	out := map[string][]string{}
	for _, key := range []string{"dependentRequired", "dependencies"} {
		m, ok := n.obj()[key].(map[string]any)
		if !ok {
			continue
		}
		for p, v := range m {
			arr, ok := v.([]any)
			if !ok {
				continue
			}
			for _, q := range arr {
				if s, ok := q.(string); ok {
					out[p] = append(out[p], s)
				}
			}
		}
	}
	return out
}
