package avro

import (
	"errors"
	"fmt"
	"reflect"

	havro "github.com/hamba/avro/v2"
)

// kind is an Avro type, after references are followed.
type kind uint8

const (
	kNull kind = iota
	kBoolean
	kInt
	kLong
	kFloat
	kDouble
	kBytes
	kString
	kRecord
	kEnum
	kArray
	kMap
	kUnion
	kFixed
)

// logical is a logical type this engine converts; the others are encoded as
// their underlying type, as the specification asks.
type logical uint8

const (
	lNone logical = iota
	lDecimal
	lUUID
	lDate
	lTimeMillis
	lTimeMicros
	lTimestampMillis
	lTimestampMicros
	lLocalTimestampMillis
	lLocalTimestampMicros
)

// jsonKinds is a set of JSON value kinds, for choosing a union branch.
type jsonKinds uint8

const (
	jNull jsonKinds = 1 << iota
	jBool
	jNumber
	jString
	jArray
	jObject
)

// node is one schema node, compiled for walking: named types appear once
// and are shared by every use (recursive records point back at themselves).
type node struct {
	kind    kind
	logical logical
	// name is the union branch name: the full name of a named type, else
	// the Avro type name ("long" for a timestamp-millis too).
	name string
	// aliases are a named type's full aliases (also branch names).
	aliases []string

	fields  []field        // record
	byName  map[string]int // record: field names and aliases; enum: symbols
	symbols []string       // enum
	items   *node          // array items, map values
	// branches are a union's types; nullAt is the null branch or -1.
	branches []*node
	nullAt   int
	size     int // fixed
	// precision and scale of a decimal.
	precision, scale int
	// plain is the set of JSON kinds that select this node as a union
	// branch in the plain (unwrapped) form.
	plain jsonKinds
}

// field is one record field.
type field struct {
	name    string
	aliases []string
	typ     *node
	// def is the field's default, already in Avro binary; nil when the
	// field has none (hasDef false).
	def    []byte
	hasDef bool
	// quoted is the field name as a JSON string followed by a colon.
	quoted string
}

// Schema is a compiled Avro schema: immutable and safe for concurrent use.
type Schema struct {
	root   *node
	parsed havro.Schema
}

// Parsed returns the schema as github.com/hamba/avro/v2 parsed it.
func (s *Schema) Parsed() havro.Schema { return s.parsed }

// Compile parses schema, the Avro schema text of a registry subject
// version, with refs: the texts of the schemas it references (Confluent
// references), each listed after the ones it references itself, so that
// every named type is defined before it is used. Named types resolve across
// all of them. A name defined twice, an unknown type or an invalid default
// is an error.
func Compile(schema string, refs []string) (*Schema, error) {
	cache := &havro.SchemaCache{}
	for i, r := range refs {
		if _, err := havro.ParseWithCache(r, "", cache); err != nil {
			return nil, fmt.Errorf("reference %d: %w", i+1, err)
		}
	}
	parsed, err := havro.ParseWithCache(schema, "", cache)
	if err != nil {
		return nil, err
	}
	b := builder{named: map[string]*node{}}
	root, err := b.node(parsed)
	if err != nil {
		return nil, err
	}
	return &Schema{root: root, parsed: parsed}, nil
}

type builder struct {
	named map[string]*node
}

func (b *builder) node(s havro.Schema) (*node, error) {
	if ref, ok := s.(*havro.RefSchema); ok {
		s = ref.Schema()
	}
	if ns, ok := s.(havro.NamedSchema); ok {
		if n, ok := b.named[ns.FullName()]; ok {
			return n, nil
		}
	}
	switch t := s.(type) {
	case *havro.NullSchema:
		return &node{kind: kNull, name: "null", plain: jNull}, nil
	case *havro.PrimitiveSchema:
		return primitive(t)
	case *havro.RecordSchema:
		n := &node{kind: kRecord, name: t.FullName(), aliases: t.Aliases(), plain: jObject, byName: map[string]int{}}
		b.named[t.FullName()] = n // before the fields: they may refer back to it
		for i, f := range t.Fields() {
			ft, err := b.node(f.Type())
			if err != nil {
				return nil, fmt.Errorf("record %s field %s: %w", t.FullName(), f.Name(), err)
			}
			fl := field{name: f.Name(), aliases: f.Aliases(), typ: ft, quoted: string(appendString(nil, f.Name())) + ":"}
			n.byName[f.Name()] = i
			n.fields = append(n.fields, fl)
		}
		for i, f := range t.Fields() {
			for _, a := range f.Aliases() {
				if _, taken := n.byName[a]; !taken {
					n.byName[a] = i
				}
			}
		}
		// Defaults last: a default of this record's own type needs its
		// fields compiled.
		for i, f := range t.Fields() {
			if !f.HasDefault() {
				continue
			}
			def, err := encodeDefault(nil, n.fields[i].typ, f.Default(), 0)
			if err != nil {
				return nil, fmt.Errorf("record %s field %s: default: %w", t.FullName(), f.Name(), err)
			}
			n.fields[i].def, n.fields[i].hasDef = def, true
		}
		return n, nil
	case *havro.EnumSchema:
		n := &node{kind: kEnum, name: t.FullName(), aliases: t.Aliases(), plain: jString, symbols: t.Symbols(), byName: map[string]int{}}
		for i, sym := range t.Symbols() {
			n.byName[sym] = i
		}
		b.named[t.FullName()] = n
		return n, nil
	case *havro.FixedSchema:
		n := &node{kind: kFixed, name: t.FullName(), aliases: t.Aliases(), plain: jString, size: t.Size()}
		if d, ok := t.Logical().(*havro.DecimalLogicalSchema); ok {
			n.logical, n.precision, n.scale, n.plain = lDecimal, d.Precision(), d.Scale(), jNumber|jString
		}
		b.named[t.FullName()] = n
		return n, nil
	case *havro.ArraySchema:
		it, err := b.node(t.Items())
		if err != nil {
			return nil, err
		}
		return &node{kind: kArray, name: "array", items: it, plain: jArray}, nil
	case *havro.MapSchema:
		it, err := b.node(t.Values())
		if err != nil {
			return nil, err
		}
		return &node{kind: kMap, name: "map", items: it, plain: jObject}, nil
	case *havro.UnionSchema:
		n := &node{kind: kUnion, name: "union", nullAt: -1}
		for i, bt := range t.Types() {
			bn, err := b.node(bt)
			if err != nil {
				return nil, err
			}
			if bn.kind == kUnion {
				return nil, errors.New("a union may not hold a union")
			}
			if bn.kind == kNull {
				n.nullAt = i
			}
			n.branches = append(n.branches, bn)
			n.plain |= bn.plain
		}
		if len(n.branches) == 0 {
			return nil, errors.New("a union needs at least one branch")
		}
		return n, nil
	}
	return nil, fmt.Errorf("unsupported schema %T", s)
}

func primitive(t *havro.PrimitiveSchema) (*node, error) {
	n := &node{name: string(t.Type())}
	switch t.Type() {
	case havro.Boolean:
		n.kind, n.plain = kBoolean, jBool
	case havro.Int:
		n.kind, n.plain = kInt, jNumber
	case havro.Long:
		n.kind, n.plain = kLong, jNumber
	case havro.Float:
		n.kind, n.plain = kFloat, jNumber
	case havro.Double:
		n.kind, n.plain = kDouble, jNumber
	case havro.Bytes:
		n.kind, n.plain = kBytes, jString
	case havro.String:
		n.kind, n.plain = kString, jString
	default:
		return nil, fmt.Errorf("unsupported primitive type %s", t.Type())
	}
	if t.Logical() == nil {
		return n, nil
	}
	switch l := t.Logical().(type) {
	case *havro.DecimalLogicalSchema:
		n.logical, n.precision, n.scale, n.plain = lDecimal, l.Precision(), l.Scale(), jNumber|jString
		return n, nil
	}
	switch t.Logical().Type() {
	case havro.UUID:
		n.logical = lUUID
	case havro.Date:
		n.logical = lDate
	case havro.TimeMillis:
		n.logical = lTimeMillis
	case havro.TimeMicros:
		n.logical = lTimeMicros
	case havro.TimestampMillis:
		n.logical = lTimestampMillis
	case havro.TimestampMicros:
		n.logical = lTimestampMicros
	case havro.LocalTimestampMillis:
		n.logical = lLocalTimestampMillis
	case havro.LocalTimestampMicros:
		n.logical = lLocalTimestampMicros
	}
	if n.logical >= lDate {
		n.plain = jNumber | jString
	}
	return n, nil
}

// encodeDefault appends the Avro binary of a field default, as hamba/avro
// parsed it from the schema (nil, bool, int, int64, float32, float64,
// string, []byte, a byte array for fixed, []any, map[string]any), to dst. A
// union's default is its first branch's value.
func encodeDefault(dst []byte, n *node, v any, depth int) ([]byte, error) {
	if depth > 64 {
		return nil, errors.New("default nests deeper than 64")
	}
	bad := func() ([]byte, error) {
		return nil, fmt.Errorf("%v (%T) is not a %s", v, v, n.name)
	}
	switch n.kind {
	case kNull:
		if v != nil {
			return bad()
		}
		return dst, nil
	case kBoolean:
		b, ok := v.(bool)
		if !ok {
			return bad()
		}
		if b {
			return append(dst, 1), nil
		}
		return append(dst, 0), nil
	case kInt, kLong:
		switch x := v.(type) {
		case int:
			return appendLong(dst, int64(x)), nil
		case int64:
			return appendLong(dst, x), nil
		case int32:
			return appendLong(dst, int64(x)), nil
		case float64:
			return appendLong(dst, int64(x)), nil
		}
		return bad()
	case kFloat:
		switch x := v.(type) {
		case float32:
			return appendFloat(dst, x), nil
		case float64:
			return appendFloat(dst, float32(x)), nil
		}
		return bad()
	case kDouble:
		x, ok := v.(float64)
		if !ok {
			return bad()
		}
		return appendDouble(dst, x), nil
	case kString:
		x, ok := v.(string)
		if !ok {
			return bad()
		}
		return appendBytes(dst, []byte(x)), nil
	case kEnum:
		x, ok := v.(string)
		if !ok {
			return bad()
		}
		i, ok := n.byName[x]
		if !ok {
			return bad()
		}
		return appendLong(dst, int64(i)), nil
	case kBytes, kFixed:
		var raw []byte
		switch x := v.(type) {
		case []byte:
			raw = x
		case string:
			raw = []byte(x)
		default:
			rv := reflect.ValueOf(v)
			if rv.Kind() != reflect.Array || rv.Type().Elem().Kind() != reflect.Uint8 {
				return bad()
			}
			raw = make([]byte, rv.Len())
			reflect.Copy(reflect.ValueOf(raw), rv)
		}
		if n.kind == kFixed {
			if len(raw) != n.size {
				return nil, fmt.Errorf("%d bytes for fixed %s of size %d", len(raw), n.name, n.size)
			}
			return append(dst, raw...), nil
		}
		return appendBytes(dst, raw), nil
	case kArray:
		xs, ok := v.([]any)
		if !ok {
			return bad()
		}
		if len(xs) > 0 {
			dst = appendLong(dst, int64(len(xs)))
			for _, x := range xs {
				var err error
				if dst, err = encodeDefault(dst, n.items, x, depth+1); err != nil {
					return nil, err
				}
			}
		}
		return append(dst, 0), nil
	case kMap:
		m, ok := v.(map[string]any)
		if !ok {
			return bad()
		}
		if len(m) > 0 {
			dst = appendLong(dst, int64(len(m)))
			for _, k := range sortedKeys(m) {
				dst = appendBytes(dst, []byte(k))
				var err error
				if dst, err = encodeDefault(dst, n.items, m[k], depth+1); err != nil {
					return nil, err
				}
			}
		}
		return append(dst, 0), nil
	case kRecord:
		m, ok := v.(map[string]any)
		if !ok {
			return bad()
		}
		for _, f := range n.fields {
			x, ok := m[f.name]
			if !ok {
				if !f.hasDef {
					return nil, fmt.Errorf("record %s default lacks field %s", n.name, f.name)
				}
				dst = append(dst, f.def...)
				continue
			}
			var err error
			if dst, err = encodeDefault(dst, f.typ, x, depth+1); err != nil {
				return nil, err
			}
		}
		return dst, nil
	case kUnion:
		dst = appendLong(dst, 0)
		return encodeDefault(dst, n.branches[0], v, depth+1)
	}
	return bad()
}
