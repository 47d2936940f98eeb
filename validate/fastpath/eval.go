package fastpath

import (
	"unicode/utf8"

	"github.com/eventguard/eventguard/internal/jsonvalue"
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

// String is "valid", "invalid" or "unknown".
func (r Result) String() string {
	switch r {
	case Valid:
		return "valid"
	case Invalid:
		return "invalid"
	}
	return "unknown"
}

// Check validates the value of doc (its root, doc.Nodes[0]), a JSON text
// as decoded by internal/jsonvalue.
func (v *Validator) Check(doc *jsonvalue.Doc) (res Result) {
	if len(doc.Nodes) == 0 {
		return Unknown
	}
	defer func() {
		if recover() != nil {
			res = Unknown // never a verdict of its own: the reference decides
		}
	}()
	st := state{doc: doc, nodes: doc.Nodes}
	return st.result(v.root.eval(&st, 0, false))
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
func (v *Validator) Valid(doc *jsonvalue.Doc) bool {
	return v.Check(doc) == Valid
}

// state is one Check.
type state struct {
	// doc is the value being validated; nodes is doc.Nodes.
	doc   *jsonvalue.Doc
	nodes []jsonvalue.Node
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

// eval mirrors validator.validate for the value at node v. collect: the
// caller needs this schema's annotations for the instance.
func (n *node) eval(st *state, v int, collect bool) bool {
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

// typeOf maps a node kind to the type bits of node.types.
var typeOf = [...]uint8{
	jsonvalue.KindNull:   tNull,
	jsonvalue.KindFalse:  tBoolean,
	jsonvalue.KindTrue:   tBoolean,
	jsonvalue.KindNumber: tNumber,
	jsonvalue.KindString: tString,
	jsonvalue.KindArray:  tArray,
	jsonvalue.KindObject: tObject,
}

func (n *node) check(st *state, v int, collect bool, mark int) bool {
	nd := &st.nodes[v]
	t := typeOf[nd.Kind]

	// type
	if n.types != 0 && n.types&t == 0 {
		if t != tNumber || n.types&tInteger == 0 {
			return false
		}
		d, ok := parseDecimal(nd.Str)
		if !ok {
			st.bail = true
			return false
		}
		if !d.isInt {
			return false
		}
	}
	// const
	if n.hasConst && !st.equalValue(v, n.constV) {
		return false
	}
	// enum
	if n.enum != nil && !n.enum.has(st, v) {
		return false
	}
	// format
	if n.format != nil && !n.formatOK(st, v) {
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
		if !n.checkObject(st, v, sub) {
			return false
		}
	case tArray:
		if !n.checkArray(st, v, sub) {
			return false
		}
	case tString:
		if !n.checkString(nd.Str) {
			return false
		}
	case tNumber:
		if n.numeric && !n.checkNumber(st, nd.Str) {
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
			if !n.checkUnevalProps(st, v, mark) {
				return false
			}
			if collect {
				st.n = mark
				st.push(annotation{kind: annAll})
			}
		case t == tArray && n.unevalItems != nil:
			if !n.checkUnevalItems(st, v, mark) {
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
func (n *node) checkCond(st *state, v int, sub bool) bool {
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

func (e *enumSet) has(st *state, v int) bool {
	if nd := &st.nodes[v]; nd.Kind == jsonvalue.KindString {
		for _, w := range e.strings {
			if nd.Str == w {
				return true
			}
		}
		return false
	}
	for _, w := range e.others {
		if st.equalValue(v, w) {
			return true
		}
	}
	return false
}

func (st *state) hasAll(obj int, names []string) bool {
	for _, name := range names {
		if _, ok := st.doc.Member(obj, name); !ok {
			return false
		}
	}
	return true
}

// propIndex returns the index in propList of property name.
func (n *node) propIndex(name string) (int, bool) {
	if len(n.propList) <= 8 {
		for i := range n.propList {
			if n.propList[i].name == name {
				return i, true
			}
		}
		return 0, false
	}
	i, ok := n.props[name]
	return i, ok
}

// checkObject mirrors objValidate. The order of the checks differs (the
// verdict does not depend on it): properties, patternProperties and
// additionalProperties are applied in one walk over the object's members,
// which also answers the required names that are properties.
func (n *node) checkObject(st *state, obj int, sub bool) bool {
	size := int(st.nodes[obj].Len)
	if n.minProps >= 0 && size < n.minProps {
		return false
	}
	if n.maxProps >= 0 && size > n.maxProps {
		return false
	}
	if !st.hasAll(obj, n.reqOthers) {
		return false
	}
	for _, d := range n.dependencies {
		if _, ok := st.doc.Member(obj, d.name); ok {
			if d.schema != nil {
				if !d.schema.eval(st, obj, sub) {
					return false
				}
			} else if !st.hasAll(obj, d.required) {
				return false
			}
		}
	}
	var seen uint64 // bits of propList entries present in obj (first 64)
	if n.objLoop {
		j := obj + 1
		for range size {
			name, val := st.nodes[j].Str, j+1
			i, inProps := n.propIndex(name)
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
			j = int(st.nodes[val].End)
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
		// A member's key is a string node: validate it in place.
		j := obj + 1
		for range size {
			if !n.propertyNames.eval(st, j, false) {
				return false
			}
			j = int(st.nodes[j+1].End)
		}
	}
	if n.draft == 6 {
		return true
	}
	for _, d := range n.dependentSchemas {
		if _, ok := st.doc.Member(obj, d.name); ok && !d.schema.eval(st, obj, sub) {
			return false
		}
	}
	for _, d := range n.dependentRequired {
		if _, ok := st.doc.Member(obj, d.name); ok && !st.hasAll(obj, d.required) {
			return false
		}
	}
	return true
}

// restProp applies patternProperties and additionalProperties to one
// member (inProps: properties has it), whose value is node val.
func (n *node) restProp(st *state, name string, val int, inProps bool) bool {
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
	if _, ok := n.propIndex(name); ok {
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
func (n *node) checkUnevalProps(st *state, obj int, mark int) bool {
	if n.allPropsEvaluated {
		return true
	}
	end := st.n // the children evaluated below truncate back to it
	for i := mark; i < end; i++ {
		if st.at(i).kind == annAll {
			return true
		}
	}
	j := obj + 1
next:
	for range st.nodes[obj].Len {
		name, val := st.nodes[j].Str, j+1
		j = int(st.nodes[val].End)
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

func (n *node) checkUnevalItems(st *state, arr int, mark int) bool {
	if n.allItemsEvaluated {
		return true
	}
	end := st.n
	for j := mark; j < end; j++ {
		if st.at(j).kind == annAll {
			return true
		}
	}
	size := int(st.nodes[arr].Len)
	item := arr + 1
	for range min(n.numItemsEvaluated, size) {
		item = int(st.nodes[item].End)
	}
next:
	for i := n.numItemsEvaluated; i < size; i++ {
		v := item
		item = int(st.nodes[item].End)
		for j := mark; j < end; j++ {
			if a := st.at(j); a.kind == annOwn && a.n.ownsItem(i) || a.kind == annItem && a.item == i {
				continue next
			}
		}
		if !n.unevalItems.eval(st, v, false) {
			return false
		}
	}
	return true
}

// maxUnique is the longest array whose uniqueItems the fast engine checks
// (pairwise); longer ones are left to the reference.
const maxUnique = 64

// checkArray mirrors arrValidate.
func (n *node) checkArray(st *state, arr int, sub bool) bool {
	size := int(st.nodes[arr].Len)
	if n.minItems >= 0 && size < n.minItems {
		return false
	}
	if n.maxItems >= 0 && size > n.maxItems {
		return false
	}
	if n.unique && size > 1 {
		if size > maxUnique {
			st.bail = true
			return false
		}
		var items [maxUnique]int32
		j := arr + 1
		for k := range size {
			items[k] = int32(j)
			j = int(st.nodes[j].End)
		}
		if size > 20 {
			// Beyond 20 items the reference hashes every item
			// (writeHash), which panics on a number literal big.Rat
			// cannot read even where no comparison would look at it.
			if !st.hashable(arr) {
				st.bail = true
				return false
			}
		}
		for i := 1; i < size; i++ {
			for k := 0; k < i; k++ {
				if st.equalNodes(int(items[i]), int(items[k])) {
					return false
				}
			}
		}
	}
	first := arr + 1 // item 0
	if n.draft < 2020 {
		evaluated := 0
		item := first
		switch {
		case n.itemsOne != nil:
			for range size {
				if !n.itemsOne.eval(st, item, false) {
					return false
				}
				item = int(st.nodes[item].End)
			}
			evaluated = size
		case n.itemsArr != nil:
			evaluated = min(size, len(n.itemsArr))
			for i := range evaluated {
				if !n.itemsArr[i].eval(st, item, false) {
					return false
				}
				item = int(st.nodes[item].End)
			}
		}
		switch n.addItems {
		case addFalse:
			if evaluated != size {
				return false
			}
		case addSchema:
			for range size - evaluated {
				if !n.addItemsNode.eval(st, item, false) {
					return false
				}
				item = int(st.nodes[item].End)
			}
		}
	} else {
		evaluated := min(len(n.prefixItems), size)
		item := first
		for i := range evaluated {
			if !n.prefixItems[i].eval(st, item, false) {
				return false
			}
			item = int(st.nodes[item].End)
		}
		if n.items2020 != nil {
			for range size - evaluated {
				if !n.items2020.eval(st, item, false) {
					return false
				}
				item = int(st.nodes[item].End)
			}
		}
	}
	if sub && (n.allItemsEvaluated || n.numItemsEvaluated > 0) {
		st.push(annotation{kind: annOwn, n: n})
	}
	if n.contains != nil {
		matched := 0
		item := first
		for i := range size {
			if n.contains.eval(st, item, false) {
				matched++
				if sub && n.draft >= 2020 {
					st.push(annotation{kind: annItem, item: i})
				}
			}
			item = int(st.nodes[item].End)
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

// checkNumber mirrors numValidate for the number literal num.
func (n *node) checkNumber(st *state, num string) bool {
	d, ok := parseDecimal(num)
	if !ok {
		st.bail = true
		return false
	}
	cmp := func(l *limit) int {
		if c, ok := l.cmp(&d); ok {
			return c
		}
		r, ok := rat(num)
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
			r, ok := rat(num)
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

// hashable reports whether jsonschema's writeHash handles the value at
// node v without panicking or failing: every number literal in it is one
// it can read.
func (st *state) hashable(v int) bool {
	for i := v; i < int(st.nodes[v].End); i++ {
		if nd := &st.nodes[i]; nd.Kind == jsonvalue.KindNumber {
			if _, ok := parseDecimal(nd.Str); !ok {
				return false
			}
		}
	}
	return true
}
