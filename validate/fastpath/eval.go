package fastpath

import (
	"encoding/json"
	"unicode/utf8"
)

// Validator is the fast engine for one compiled schema. It is immutable and
// safe for concurrent use.
type Validator struct {
	root *node
}

// Result is the fast engine's verdict.
type Result uint8

const (
	// Unknown: the fast engine met a value it does not decide (a number
	// literal it cannot read exactly, a Go type the strict decoder never
	// produces, a very long uniqueItems array...). Ask the reference.
	Unknown Result = iota
	// Valid: the reference would accept the value.
	Valid
	// Invalid: the reference would reject the value.
	Invalid
)

func (r Result) String() string {
	switch r {
	case Valid:
		return "valid"
	case Invalid:
		return "invalid"
	}
	return "unknown"
}

// Check validates doc, a value as decoded by internal/jsonvalue
// (map[string]any, []any, json.Number, string, bool, nil).
func (v *Validator) Check(doc any) (res Result) {
	defer func() {
		if recover() != nil {
			res = Unknown // never a verdict of its own: the reference decides
		}
	}()
	var st state
	return st.result(v.root.eval(&st, doc, false))
}

func (st *state) result(ok bool) Result {
	switch {
	case st.bail:
		return Unknown
	case ok:
		return Valid
	}
	return Invalid
}

// Valid reports whether doc is valid. False means invalid or undecided: the
// caller runs the reference either way.
func (v *Validator) Valid(doc any) bool {
	return v.Check(doc) == Valid
}

// state is one Check.
type state struct {
	// bail: a value was met that the fast engine does not decide. Sticky:
	// once set, the result is Unknown whatever the boolean results say
	// (a "false" under not/anyOf/oneOf/if could otherwise turn into a
	// "valid").
	bail bool
	// A stack of evaluation annotations for unevaluatedProperties and
	// unevaluatedItems (see annotation): n entries, the first ones in inl
	// (no pointer into the state itself, so it stays on the caller's
	// stack), the rest in more.
	n    int
	inl  [12]annotation
	more []annotation
}

func (st *state) push(a annotation) {
	if st.n < len(st.inl) {
		st.inl[st.n] = a
	} else if i := st.n - len(st.inl); i < len(st.more) {
		st.more[i] = a
	} else {
		st.more = append(st.more, a)
	}
	st.n++
}

func (st *state) at(i int) *annotation {
	if i < len(st.inl) {
		return &st.inl[i]
	}
	return &st.more[i-len(st.inl)]
}

// An annotation says which members of the instance being validated a
// successful schema evaluated. jsonschema v6 keeps, per schema and
// instance, the set of members not yet evaluated; a successful in-place
// subschema (validateSelf) removes from its parent's set what it evaluated
// itself (merge), and a failed one removes nothing. That is a union of
// what the successful schemas evaluated, which this stack records: a
// schema evaluating instance I pushes its own annotation and keeps those
// of its successful in-place subschemas above its mark; on failure, or
// when nobody above collects, it truncates back to the mark; a child
// instance's annotations are always truncated away.
type annotation struct {
	kind uint8
	n    *node
	item int
}

const (
	annOwn  uint8 = iota // n's own properties/patternProperties/additionalProperties, or prefix items/items
	annAll               // everything (a successful unevaluated* keyword)
	annItem              // one array item, matched by contains (2020-12)
)

// eval mirrors validator.validate. collect: the caller needs this schema's
// annotations for the instance.
func (n *node) eval(st *state, v any, collect bool) bool {
	switch n.boolean {
	case boolTrue:
		return true
	case boolFalse:
		return false
	}
	mark := st.n
	ok := n.check(st, v, collect, mark)
	if !ok || !collect {
		st.n = mark
	}
	return ok
}

func (n *node) check(st *state, v any, collect bool, mark int) bool {
	var (
		t   uint8
		num json.Number
	)
	switch x := v.(type) {
	case string:
		t = tString
	case map[string]any:
		t = tObject
	case json.Number:
		t, num = tNumber, x
	case []any:
		t = tArray
	case bool:
		t = tBoolean
	case nil:
		t = tNull
	default:
		st.bail = true // float64, int...: the strict decoder never makes them
		return false
	}

	// type
	if n.types != 0 && n.types&t == 0 {
		if t != tNumber || n.types&tInteger == 0 {
			return false
		}
		d, ok := parseDecimal(string(num))
		if !ok {
			st.bail = true
			return false
		}
		if !d.isInt {
			return false
		}
	}
	// const
	if n.hasConst && !st.equal(v, n.constV) {
		return false
	}
	// enum
	if n.enum != nil && !n.enum.has(st, v) {
		return false
	}
	// format
	if n.format != nil && !n.formatOK(v) {
		return false
	}

	// Do in-place subschemas have to report what they evaluated?
	sub := collect || (t == tObject && n.unevalProps != nil) || (t == tArray && n.unevalItems != nil)

	// $ref
	if n.ref != nil {
		ok := n.ref.eval(st, v, sub)
		if n.refOnly || !ok {
			return ok
		}
	}

	switch t {
	case tObject:
		if !n.checkObject(st, v.(map[string]any), sub) {
			return false
		}
	case tArray:
		if !n.checkArray(st, v.([]any), sub) {
			return false
		}
	case tString:
		if !n.checkString(v.(string)) {
			return false
		}
	case tNumber:
		if n.numeric && !n.checkNumber(st, num) {
			return false
		}
	}

	// not, allOf, anyOf, oneOf, if/then/else (condValidate)
	if n.hasCond && !n.checkCond(st, v, sub) {
		return false
	}

	// unevaluatedProperties, unevaluatedItems (2019-09 and later)
	if n.draft >= 2019 {
		switch {
		case t == tObject && n.unevalProps != nil:
			if !n.checkUnevalProps(st, v.(map[string]any), mark) {
				return false
			}
			if collect {
				st.n = mark
				st.push(annotation{kind: annAll})
			}
		case t == tArray && n.unevalItems != nil:
			if !n.checkUnevalItems(st, v.([]any), mark) {
				return false
			}
			if collect {
				st.n = mark
				st.push(annotation{kind: annAll})
			}
		}
	}
	return true
}

// checkCond mirrors condValidate.
func (n *node) checkCond(st *state, v any, sub bool) bool {
	if n.not != nil && n.not.eval(st, v, false) {
		return false
	}
	for _, c := range n.allOf {
		if !c.eval(st, v, sub) {
			return false
		}
	}
	if n.anyOf != nil {
		matched := false
		for _, c := range n.anyOf {
			if c.eval(st, v, sub) {
				matched = true
				if !sub {
					break // no annotations wanted: the first match decides
				}
			}
		}
		if !matched {
			return false
		}
	}
	if n.oneOf != nil {
		matched := 0
		for _, c := range n.oneOf {
			if c.eval(st, v, sub) {
				matched++
				if matched > 1 {
					return false
				}
			}
		}
		if matched == 0 {
			return false
		}
	}
	if n.ifN != nil {
		if n.ifN.eval(st, v, sub) {
			if n.thenN != nil && !n.thenN.eval(st, v, sub) {
				return false
			}
		} else if n.elseN != nil && !n.elseN.eval(st, v, sub) {
			return false
		}
	}
	return true
}

func (e *enumSet) has(st *state, v any) bool {
	if s, ok := v.(string); ok {
		for _, w := range e.strings {
			if s == w {
				return true
			}
		}
		return false
	}
	for _, w := range e.others {
		if st.equal(v, w) {
			return true
		}
	}
	return false
}

func hasAll(obj map[string]any, names []string) bool {
	for _, name := range names {
		if _, ok := obj[name]; !ok {
			return false
		}
	}
	return true
}

// checkObject mirrors objValidate. The order of the checks differs (the
// verdict does not depend on it): required is answered by the properties
// pass, which walks either the schema's properties (looking each up in the
// object) or the object's members, whichever is shorter.
func (n *node) checkObject(st *state, obj map[string]any, sub bool) bool {
	if n.minProps >= 0 && len(obj) < n.minProps {
		return false
	}
	if n.maxProps >= 0 && len(obj) > n.maxProps {
		return false
	}
	if !hasAll(obj, n.reqOthers) {
		return false
	}
	for _, d := range n.dependencies {
		if _, ok := obj[d.name]; ok {
			if d.schema != nil {
				if !d.schema.eval(st, obj, sub) {
					return false
				}
			} else if !hasAll(obj, d.required) {
				return false
			}
		}
	}
	var seen uint64 // bits of propList entries present in obj (first 64)
	if len(n.propList) > 0 && (len(n.propList) <= len(obj) || len(n.patternProps) > 0) {
		// Walk the schema's properties.
		matched := 0
		for i := range n.propList {
			p := &n.propList[i]
			val, ok := obj[p.name]
			if !ok {
				continue
			}
			matched++
			if i < 64 {
				seen |= 1 << i
			}
			if !p.n.eval(st, val, false) {
				return false
			}
		}
		if len(n.patternProps) > 0 || (n.addProps != addNone && n.addProps != addTrue && matched < len(obj)) {
			// Members that patternProperties or additionalProperties
			// apply to.
			for name, val := range obj {
				_, inProps := n.props[name]
				if !n.restProp(st, name, val, inProps) {
					return false
				}
			}
		}
	} else if n.objLoop {
		// Walk the object's members.
		for name, val := range obj {
			i, inProps := n.props[name]
			if inProps {
				if i < 64 {
					seen |= 1 << i
				}
				if !n.propList[i].n.eval(st, val, false) {
					return false
				}
			}
			if !n.restProp(st, name, val, inProps) {
				return false
			}
		}
	}
	if seen&n.reqMask != n.reqMask {
		return false
	}
	if n.objLoop && sub {
		st.push(annotation{kind: annOwn, n: n})
	}
	if n.draft == 4 {
		return true
	}
	if n.propertyNames != nil {
		for name := range obj {
			if !n.propertyNames.eval(st, name, false) {
				return false
			}
		}
	}
	if n.draft == 6 {
		return true
	}
	for _, d := range n.dependentSchemas {
		if _, ok := obj[d.name]; ok && !d.schema.eval(st, obj, sub) {
			return false
		}
	}
	for _, d := range n.dependentRequired {
		if _, ok := obj[d.name]; ok && !hasAll(obj, d.required) {
			return false
		}
	}
	return true
}

// restProp applies patternProperties and additionalProperties to one
// member (inProps: properties has it).
func (n *node) restProp(st *state, name string, val any, inProps bool) bool {
	evaluated := inProps
	for _, pp := range n.patternProps {
		if pp.re.MatchString(name) {
			evaluated = true
			if !pp.n.eval(st, val, false) {
				return false
			}
		}
	}
	if !evaluated {
		switch n.addProps {
		case addFalse:
			return false
		case addSchema:
			if !n.addPropsNode.eval(st, val, false) {
				return false
			}
		}
	}
	return true
}

// ownsProp reports whether n's own keywords evaluate property name.
func (n *node) ownsProp(name string) bool {
	if n.addProps != addNone {
		return true
	}
	if _, ok := n.props[name]; ok {
		return true
	}
	for _, pp := range n.patternProps {
		if pp.re.MatchString(name) {
			return true
		}
	}
	return false
}

// checkUnevalProps mirrors unevalValidate for objects: every property
// that neither this schema nor a successful in-place subschema evaluated
// must be valid against unevaluatedProperties.
func (n *node) checkUnevalProps(st *state, obj map[string]any, mark int) bool {
	if n.allPropsEvaluated {
		return true
	}
	end := st.n // the children evaluated below truncate back to it
	for i := mark; i < end; i++ {
		if st.at(i).kind == annAll {
			return true
		}
	}
next:
	for name, val := range obj {
		if n.ownsProp(name) {
			continue
		}
		for i := mark; i < end; i++ {
			if a := st.at(i); a.kind == annOwn && a.n.ownsProp(name) {
				continue next
			}
		}
		if !n.unevalProps.eval(st, val, false) {
			return false
		}
	}
	return true
}

// ownsItem reports whether n's own keywords evaluate item i.
func (n *node) ownsItem(i int) bool {
	return n.allItemsEvaluated || i < n.numItemsEvaluated
}

func (n *node) checkUnevalItems(st *state, arr []any, mark int) bool {
	if n.allItemsEvaluated {
		return true
	}
	end := st.n
	for j := mark; j < end; j++ {
		if st.at(j).kind == annAll {
			return true
		}
	}
next:
	for i := n.numItemsEvaluated; i < len(arr); i++ {
		for j := mark; j < end; j++ {
			if a := st.at(j); a.kind == annOwn && a.n.ownsItem(i) || a.kind == annItem && a.item == i {
				continue next
			}
		}
		if !n.unevalItems.eval(st, arr[i], false) {
			return false
		}
	}
	return true
}

// maxUnique is the longest array whose uniqueItems the fast engine checks
// (pairwise); longer ones are left to the reference.
const maxUnique = 64

// checkArray mirrors arrValidate.
func (n *node) checkArray(st *state, arr []any, sub bool) bool {
	if n.minItems >= 0 && len(arr) < n.minItems {
		return false
	}
	if n.maxItems >= 0 && len(arr) > n.maxItems {
		return false
	}
	if n.unique && len(arr) > 1 {
		if len(arr) > maxUnique {
			st.bail = true
			return false
		}
		if len(arr) > 20 {
			// Beyond 20 items the reference hashes every item
			// (writeHash), which panics on a number literal big.Rat
			// cannot read even where no comparison would look at it.
			for _, item := range arr {
				if !hashable(item) {
					st.bail = true
					return false
				}
			}
		}
		for i := 1; i < len(arr); i++ {
			for j := 0; j < i; j++ {
				if st.equal(arr[i], arr[j]) {
					return false
				}
			}
		}
	}
	if n.draft < 2020 {
		evaluated := 0
		switch {
		case n.itemsOne != nil:
			for _, item := range arr {
				if !n.itemsOne.eval(st, item, false) {
					return false
				}
			}
			evaluated = len(arr)
		case n.itemsArr != nil:
			evaluated = min(len(arr), len(n.itemsArr))
			for i, item := range arr[:evaluated] {
				if !n.itemsArr[i].eval(st, item, false) {
					return false
				}
			}
		}
		switch n.addItems {
		case addFalse:
			if evaluated != len(arr) {
				return false
			}
		case addSchema:
			for _, item := range arr[evaluated:] {
				if !n.addItemsNode.eval(st, item, false) {
					return false
				}
			}
		}
	} else {
		evaluated := min(len(n.prefixItems), len(arr))
		for i, item := range arr[:evaluated] {
			if !n.prefixItems[i].eval(st, item, false) {
				return false
			}
		}
		if n.items2020 != nil {
			for _, item := range arr[evaluated:] {
				if !n.items2020.eval(st, item, false) {
					return false
				}
			}
		}
	}
	if sub && (n.allItemsEvaluated || n.numItemsEvaluated > 0) {
		st.push(annotation{kind: annOwn, n: n})
	}
	if n.contains != nil {
		matched := 0
		for i, item := range arr {
			if n.contains.eval(st, item, false) {
				matched++
				if sub && n.draft >= 2020 {
					st.push(annotation{kind: annItem, item: i})
				}
			}
		}
		if n.minContains >= 0 {
			if matched < n.minContains {
				return false
			}
		} else if matched == 0 {
			return false
		}
		if n.maxContains >= 0 && matched > n.maxContains {
			return false
		}
	}
	return true
}

// checkString mirrors strValidate (lengths in code points, as
// utf8.RuneCount).
func (n *node) checkString(s string) bool {
	if n.minLength >= 0 || n.maxLength >= 0 {
		l := utf8.RuneCountInString(s)
		if n.minLength >= 0 && l < n.minLength {
			return false
		}
		if n.maxLength >= 0 && l > n.maxLength {
			return false
		}
	}
	if n.pattern != nil && !n.pattern.MatchString(s) {
		return false
	}
	return true
}

// checkNumber mirrors numValidate.
func (n *node) checkNumber(st *state, num json.Number) bool {
	d, ok := parseDecimal(string(num))
	if !ok {
		st.bail = true
		return false
	}
	cmp := func(l *limit) int {
		if c, ok := l.cmp(&d); ok {
			return c
		}
		r, ok := rat(string(num))
		if !ok {
			st.bail = true
			return 0
		}
		return r.Cmp(l.r)
	}
	if n.minimum != nil && cmp(n.minimum) < 0 {
		return false
	}
	if n.maximum != nil && cmp(n.maximum) > 0 {
		return false
	}
	if n.exclusiveMinimum != nil && cmp(n.exclusiveMinimum) <= 0 {
		return false
	}
	if n.exclusiveMaximum != nil && cmp(n.exclusiveMaximum) >= 0 {
		return false
	}
	if n.multipleOf != nil {
		m, ok := n.multipleOf.multipleOf(&d)
		if !ok {
			r, ok := rat(string(num))
			if !ok {
				st.bail = true
				return false
			}
			m = r.Quo(r, n.multipleOf.r).IsInt()
		}
		if !m {
			return false
		}
	}
	return !st.bail
}

// hashable reports whether jsonschema's writeHash handles v without
// panicking or failing: known types, and number literals it can read.
func hashable(v any) bool {
	switch v := v.(type) {
	case map[string]any:
		for _, e := range v {
			if !hashable(e) {
				return false
			}
		}
	case []any:
		for _, e := range v {
			if !hashable(e) {
				return false
			}
		}
	case json.Number:
		_, ok := parseDecimal(string(v))
		return ok
	case nil, bool, string:
	default:
		return false
	}
	return true
}
