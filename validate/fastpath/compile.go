package fastpath

import (
	"encoding/json"
	"errors"
	"fmt"
	"sort"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// ErrUnsupported is returned by Compile for a schema that uses something the
// fast engine does not implement; such a schema is validated by the
// reference alone.
var ErrUnsupported = errors.New("fastpath: schema not supported")

// JSON types as a bit set, as in jsonschema v6 (integer is its own bit: a
// "type" naming it accepts numbers whose value is an integer).
const (
	tNull uint8 = 1 << iota
	tBoolean
	tNumber
	tInteger
	tString
	tArray
	tObject
)

var typeBits = map[string]uint8{
	"null": tNull, "boolean": tBoolean, "number": tNumber, "integer": tInteger,
	"string": tString, "array": tArray, "object": tObject,
}

const (
	boolNone int8 = iota
	boolTrue
	boolFalse
)

// additional is the form of additionalProperties / additionalItems.
type additional uint8

const (
	addNone additional = iota
	addTrue
	addFalse
	addSchema
)

type patternProp struct {
	re stringMatcher
	n  *node
}

// stringMatcher is a pattern: the compiled schema's Regexp, or a simple
// matcher proven equivalent (regex.go).
type stringMatcher interface {
	MatchString(string) bool
}

func newMatcher(p jsonschema.Regexp) stringMatcher {
	if s, _ := matcher(p); s != nil {
		return s
	}
	return p
}

type dependency struct {
	name     string
	required []string // dependencies with an array, dependentRequired
	schema   *node    // dependencies with a schema, dependentSchemas
}

// node is one compiled schema: the fields of a *jsonschema.Schema that the
// reference validator reads, in the form the fast engine wants them. Nodes
// form the same graph as the compiled schemas ($ref is a pointer).
type node struct {
	draft   int
	boolean int8

	types      uint8
	hasConst   bool
	constV     any
	enum       *enumSet
	format     *jsonschema.Format
	formatKind formatKind
	ref        *node
	// refOnly: before 2019-09 a $ref ends the validation of its schema
	// object (the compiler leaves the other keywords out, except const).
	refOnly bool

	// objects
	minProps, maxProps int // -1: absent
	required           []string
	dependencies       []dependency   // draft 4-7 "dependencies"
	props              map[string]int // index in propList
	propList           []propEntry    // sorted by name
	// reqMask has the bit of each required name that is in propList
	// (when propList has at most 64 entries); reqOthers lists the others.
	reqMask           uint64
	reqOthers         []string
	patternProps      []patternProp
	addProps          additional
	addPropsNode      *node
	propertyNames     *node
	dependentSchemas  []dependency
	dependentRequired []dependency
	unevalProps       *node
	objLoop           bool // properties, patternProperties or additionalProperties present
	hasCond           bool // not, allOf, anyOf, oneOf or if present

	// arrays
	minItems, maxItems int // -1: absent
	unique             bool
	itemsOne           *node   // draft < 2020 "items": schema
	itemsArr           []*node // draft < 2020 "items": array
	addItems           additional
	addItemsNode       *node
	prefixItems        []*node // 2020-12
	items2020          *node   // 2020-12
	contains           *node
	minContains        int // -1: absent
	maxContains        int // -1: absent
	unevalItems        *node

	// strings
	minLength, maxLength int // -1: absent
	pattern              stringMatcher

	// numbers
	minimum, maximum, exclusiveMinimum, exclusiveMaximum, multipleOf *limit
	numeric                                                          bool

	// applicators on the same value
	not                 *node
	allOf, anyOf, oneOf []*node
	ifN, thenN, elseN   *node

	// As jsonschema's compiler computes them (compiler.go compileValue):
	// what this schema's own keywords evaluate, for unevaluated*.
	allPropsEvaluated bool
	allItemsEvaluated bool
	numItemsEvaluated int
}

type compiler struct {
	nodes map[*jsonschema.Schema]*node
}

// Compile builds the fast engine for a schema compiled by jsonschema v6. It
// returns an error wrapping ErrUnsupported when the schema (or anything it
// reaches) uses a keyword or a form the fast engine does not implement.
func Compile(s *jsonschema.Schema) (*Validator, error) {
	if s == nil {
		return nil, fmt.Errorf("%w: nil schema", ErrUnsupported)
	}
	c := &compiler{nodes: map[*jsonschema.Schema]*node{}}
	root, err := c.node(s)
	if err != nil {
		return nil, err
	}
	if err := c.checkInPlaceCycles(); err != nil {
		return nil, err
	}
	return &Validator{root: root}, nil
}

func unsupported(s *jsonschema.Schema, format string, args ...any) error {
	return fmt.Errorf("%w: %s: %s", ErrUnsupported, s.Location, fmt.Sprintf(format, args...))
}

func optInt(p *int) int {
	if p == nil {
		return -1
	}
	return *p
}

func (c *compiler) nodeList(list []*jsonschema.Schema) ([]*node, error) {
	if list == nil {
		return nil, nil
	}
	out := make([]*node, len(list))
	for i, s := range list {
		n, err := c.node(s)
		if err != nil {
			return nil, err
		}
		out[i] = n
	}
	return out, nil
}

func (c *compiler) node(s *jsonschema.Schema) (*node, error) {
	if s == nil {
		return nil, nil
	}
	if n, ok := c.nodes[s]; ok {
		return n, nil
	}
	n := &node{draft: s.DraftVersion}
	c.nodes[s] = n

	// Computed by the compiler from these exported fields (compileValue).
	n.allPropsEvaluated = s.AdditionalProperties != nil
	if s.DraftVersion < 2020 {
		n.allItemsEvaluated = s.AdditionalItems != nil
		switch items := s.Items.(type) {
		case *jsonschema.Schema:
			n.allItemsEvaluated = true
		case []*jsonschema.Schema:
			n.numItemsEvaluated = len(items)
		}
	} else {
		n.allItemsEvaluated = s.Items2020 != nil
		n.numItemsEvaluated = len(s.PrefixItems)
	}

	if s.Bool != nil {
		if *s.Bool {
			n.boolean = boolTrue
		} else {
			n.boolean = boolFalse
		}
		return n, nil
	}

	// Outside the subset: left to the reference.
	switch {
	case s.RecursiveRef != nil:
		return nil, unsupported(s, "$recursiveRef")
	case s.DynamicRef != nil:
		return nil, unsupported(s, "$dynamicRef")
	case len(s.Extensions) > 0:
		return nil, unsupported(s, "vocabulary extensions")
	case s.ContentEncoding != nil || s.ContentMediaType != nil || s.ContentSchema != nil:
		return nil, unsupported(s, "content assertions")
	}

	var err error
	if s.Types != nil && !s.Types.IsEmpty() {
		for _, t := range s.Types.ToStrings() {
			b, ok := typeBits[t]
			if !ok {
				return nil, unsupported(s, "type %q", t)
			}
			n.types |= b
		}
	}
	if s.Const != nil {
		if err := checkValue(*s.Const); err != nil {
			return nil, unsupported(s, "const: %v", err)
		}
		n.hasConst, n.constV = true, *s.Const
	}
	if s.Enum != nil {
		if n.enum, err = newEnumSet(s.Enum.Values); err != nil {
			return nil, unsupported(s, "enum: %v", err)
		}
	}
	if s.Format != nil {
		if s.Format.Validate == nil {
			return nil, unsupported(s, "format %q without a function", s.Format.Name)
		}
		n.format, n.formatKind = s.Format, formatKindOf(s.Format)
	}
	if n.ref, err = c.node(s.Ref); err != nil {
		return nil, err
	}
	n.minProps, n.maxProps = -1, -1
	n.minItems, n.maxItems = -1, -1
	n.minContains, n.maxContains = -1, -1
	n.minLength, n.maxLength = -1, -1
	if s.Ref != nil && s.DraftVersion < 2019 {
		// validator.go: "if s.DraftVersion < 2019 { return vd.uneval, err }"
		// right after $ref: nothing else of this schema is evaluated.
		n.refOnly = true
		return n, nil
	}

	// Counts: -1 stands for "absent", so a negative count (which the
	// metaschemas refuse anyway) is left to the reference.
	for _, p := range []*int{s.MinProperties, s.MaxProperties, s.MinItems, s.MaxItems, s.MinContains, s.MaxContains, s.MinLength, s.MaxLength} {
		if p != nil && *p < 0 {
			return nil, unsupported(s, "negative count %d", *p)
		}
	}

	// objects
	n.minProps, n.maxProps = optInt(s.MinProperties), optInt(s.MaxProperties)
	n.required = s.Required
	for name, dep := range s.Dependencies {
		d := dependency{name: name}
		switch dep := dep.(type) {
		case []string:
			d.required = dep
		case *jsonschema.Schema:
			if d.schema, err = c.node(dep); err != nil {
				return nil, err
			}
		default:
			return nil, unsupported(s, "dependencies of type %T", dep)
		}
		n.dependencies = append(n.dependencies, d)
	}
	if len(s.Properties) > 0 {
		names := make([]string, 0, len(s.Properties))
		for name := range s.Properties {
			names = append(names, name)
		}
		sort.Strings(names)
		n.props = make(map[string]int, len(names))
		for i, name := range names {
			pn, err := c.node(s.Properties[name])
			if err != nil {
				return nil, err
			}
			n.props[name] = i
			n.propList = append(n.propList, propEntry{name, pn})
		}
	}
	for _, name := range n.required {
		i, ok := n.props[name]
		if ok && i < 64 {
			n.reqMask |= 1 << i
		} else {
			n.reqOthers = append(n.reqOthers, name)
		}
	}
	for re, ps := range s.PatternProperties {
		pn, err := c.node(ps)
		if err != nil {
			return nil, err
		}
		n.patternProps = append(n.patternProps, patternProp{newMatcher(re), pn})
	}
	if n.addProps, n.addPropsNode, err = c.additional(s, s.AdditionalProperties); err != nil {
		return nil, err
	}
	n.objLoop = len(n.props) > 0 || len(n.patternProps) > 0 || n.addProps != addNone
	if n.propertyNames, err = c.node(s.PropertyNames); err != nil {
		return nil, err
	}
	for name, ds := range s.DependentSchemas {
		dn, err := c.node(ds)
		if err != nil {
			return nil, err
		}
		n.dependentSchemas = append(n.dependentSchemas, dependency{name: name, schema: dn})
	}
	for name, req := range s.DependentRequired {
		n.dependentRequired = append(n.dependentRequired, dependency{name: name, required: req})
	}
	if n.unevalProps, err = c.node(s.UnevaluatedProperties); err != nil {
		return nil, err
	}

	// arrays
	n.minItems, n.maxItems = optInt(s.MinItems), optInt(s.MaxItems)
	n.unique = s.UniqueItems
	switch items := s.Items.(type) {
	case nil:
	case *jsonschema.Schema:
		if n.itemsOne, err = c.node(items); err != nil {
			return nil, err
		}
	case []*jsonschema.Schema:
		if n.itemsArr, err = c.nodeList(items); err != nil {
			return nil, err
		}
		if n.itemsArr == nil {
			n.itemsArr = []*node{}
		}
	default:
		return nil, unsupported(s, "items of type %T", items)
	}
	if n.addItems, n.addItemsNode, err = c.additional(s, s.AdditionalItems); err != nil {
		return nil, err
	}
	if n.prefixItems, err = c.nodeList(s.PrefixItems); err != nil {
		return nil, err
	}
	if n.items2020, err = c.node(s.Items2020); err != nil {
		return nil, err
	}
	if n.contains, err = c.node(s.Contains); err != nil {
		return nil, err
	}
	n.minContains, n.maxContains = optInt(s.MinContains), optInt(s.MaxContains)
	if n.unevalItems, err = c.node(s.UnevaluatedItems); err != nil {
		return nil, err
	}

	// strings
	n.minLength, n.maxLength = optInt(s.MinLength), optInt(s.MaxLength)
	if s.Pattern != nil {
		n.pattern = newMatcher(s.Pattern)
	}

	// numbers
	n.minimum, n.maximum = newLimit(s.Minimum), newLimit(s.Maximum)
	n.exclusiveMinimum, n.exclusiveMaximum = newLimit(s.ExclusiveMinimum), newLimit(s.ExclusiveMaximum)
	n.multipleOf = newLimit(s.MultipleOf)
	if n.multipleOf != nil && n.multipleOf.sign <= 0 {
		return nil, unsupported(s, "multipleOf %v", s.MultipleOf)
	}
	n.numeric = n.minimum != nil || n.maximum != nil || n.exclusiveMinimum != nil || n.exclusiveMaximum != nil || n.multipleOf != nil

	// applicators
	if n.not, err = c.node(s.Not); err != nil {
		return nil, err
	}
	if n.allOf, err = c.nodeList(s.AllOf); err != nil {
		return nil, err
	}
	if n.anyOf, err = c.nodeList(s.AnyOf); err != nil {
		return nil, err
	}
	if n.oneOf, err = c.nodeList(s.OneOf); err != nil {
		return nil, err
	}
	if n.ifN, err = c.node(s.If); err != nil {
		return nil, err
	}
	if n.thenN, err = c.node(s.Then); err != nil {
		return nil, err
	}
	if n.elseN, err = c.node(s.Else); err != nil {
		return nil, err
	}
	n.hasCond = n.not != nil || n.allOf != nil || n.anyOf != nil || n.oneOf != nil || n.ifN != nil
	return n, nil
}

type propEntry struct {
	name string
	n    *node
}

func (c *compiler) additional(s *jsonschema.Schema, v any) (additional, *node, error) {
	switch v := v.(type) {
	case nil:
		return addNone, nil, nil
	case bool:
		if v {
			return addTrue, nil, nil
		}
		return addFalse, nil, nil
	case *jsonschema.Schema:
		n, err := c.node(v)
		return addSchema, n, err
	}
	return addNone, nil, unsupported(s, "additional* of type %T", v)
}

// inPlace lists the schemas the reference applies to the same instance as
// n (validateSelf), in the order it does.
func (n *node) inPlace() []*node {
	var out []*node
	add := func(m *node) {
		if m != nil {
			out = append(out, m)
		}
	}
	add(n.ref)
	if n.refOnly {
		return out
	}
	for _, d := range n.dependencies {
		add(d.schema)
	}
	for _, d := range n.dependentSchemas {
		add(d.schema)
	}
	add(n.not)
	for _, m := range n.allOf {
		add(m)
	}
	for _, m := range n.anyOf {
		add(m)
	}
	for _, m := range n.oneOf {
		add(m)
	}
	add(n.ifN)
	add(n.thenN)
	add(n.elseN)
	return out
}

// checkInPlaceCycles refuses schemas where a schema can reach itself without
// moving to another instance (e.g. {"$ref": "#"}, or allOf a $ref back to an
// ancestor). The reference detects those cycles as they happen (scope
// checkCycle) and reports an error; the fast engine would recurse forever.
func (c *compiler) checkInPlaceCycles() error {
	const (
		white = iota
		grey
		black
	)
	color := map[*node]int{}
	var visit func(n *node) bool
	visit = func(n *node) bool {
		switch color[n] {
		case grey:
			return false
		case black:
			return true
		}
		color[n] = grey
		for _, m := range n.inPlace() {
			if !visit(m) {
				return false
			}
		}
		color[n] = black
		return true
	}
	for s, n := range c.nodes {
		if !visit(n) {
			return unsupported(s, "a schema applies to its own instance through a reference cycle")
		}
	}
	return nil
}

// checkValue accepts the values jsonschema's UnmarshalJSON produces.
func checkValue(v any) error {
	switch v := v.(type) {
	case nil, bool, string:
		return nil
	case json.Number:
		if _, ok := parseDecimal(string(v)); !ok {
			return fmt.Errorf("number %q", string(v))
		}
		return nil
	case []any:
		for _, e := range v {
			if err := checkValue(e); err != nil {
				return err
			}
		}
		return nil
	case map[string]any:
		for _, e := range v {
			if err := checkValue(e); err != nil {
				return err
			}
		}
		return nil
	}
	return fmt.Errorf("value of type %T", v)
}

// enumSet holds an enum's values, strings apart for a quick look-up.
type enumSet struct {
	strings []string
	others  []any
}

func newEnumSet(values []any) (*enumSet, error) {
	e := &enumSet{}
	for _, v := range values {
		if err := checkValue(v); err != nil {
			return nil, err
		}
		if s, ok := v.(string); ok {
			e.strings = append(e.strings, s)
		} else {
			e.others = append(e.others, v)
		}
	}
	return e, nil
}
