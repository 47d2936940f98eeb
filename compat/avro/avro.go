// Package avro is the Avro engine of package compat: it decides whether one
// version of an Avro schema may follow another by the Avro specification's
// schema resolution rules (a reader resolving data a writer wrote), and
// explains every break with a finding: the payload path, a stable code, who
// breaks, a fix and, where one can be built, a counterexample.
//
// BACKWARD asks that the new version read what the old one wrote (writer
// old, reader new); FORWARD the other way round. The rules: the same type,
// or a promotion (int to long, float or double; long to float or double;
// float to double; string to and from bytes); records by name (or a reader
// alias), each reader field found in the writer (by name or alias) or
// carrying a default; enum symbols of the writer known to the reader unless
// the reader has a default symbol; fixed by name and size; arrays and maps
// by their items and values; every branch of a writer union readable by the
// reader (a union reader: by one of its branches).
//
// Counterexamples are proven with github.com/hamba/avro/v2: the example
// encodes under the writer's schema and the reader cannot read it (its
// resolution of the writer's schema fails, or decoding does). hamba's own
// SchemaCompatibility stops at the first difference and names no path, so
// it serves as that proof and as a differential check in the tests, not as
// the explanation.
package avro

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strconv"

	havro "github.com/hamba/avro/v2"
	"github.com/twmb/franz-go/pkg/sr"

	"github.com/eventguard/eventguard/compat"
	"github.com/eventguard/eventguard/validate"
)

// Finding codes of the Avro engine, naming the change from the older version
// to the newer one (the JSON Schema engine's type_narrowed and type_widened
// are shared).
const (
	CodeTypeChanged           = "type_changed"
	CodeFieldAddedNoDefault   = "field_added_without_default"
	CodeFieldRemovedNoDefault = "field_removed_without_default"
	CodeEnumSymbolRemoved     = "enum_symbol_removed"
	CodeEnumSymbolAdded       = "enum_symbol_added"
	CodeUnionBranchRemoved    = "union_branch_removed"
	CodeUnionBranchAdded      = "union_branch_added"
	CodeNameChanged           = "name_changed"
	CodeFixedSizeChanged      = "fixed_size_changed"
)

// Bounds of one comparison.
const (
	maxDepth                 = 64 // nesting walked
	avroSchemaReferenceDepth = 32 // references of references
)

// Engine is the Avro compat.Engine.
type Engine struct{}

var _ compat.Engine = Engine{}

// Parse parses an Avro schema with its registry references (named types
// defined in the referenced schemas), each version in a cache of its own.
func Parse(ctx context.Context, reg validate.Registry, sch sr.Schema) (havro.Schema, error) {
	cache := &havro.SchemaCache{}
	seen := map[string]bool{}
	var add func(refs []sr.SchemaReference, depth int) error
	add = func(refs []sr.SchemaReference, depth int) error {
		if depth > avroSchemaReferenceDepth {
			return fmt.Errorf("references nest deeper than %d", avroSchemaReferenceDepth)
		}
		for _, r := range refs {
			k := r.Subject + "\x00" + strconv.Itoa(r.Version)
			if seen[k] {
				continue
			}
			seen[k] = true
			ss, err := reg.SchemaByVersion(ctx, r.Subject, r.Version)
			if err != nil {
				return fmt.Errorf("reference %q (subject %q version %d): %w", r.Name, r.Subject, r.Version, err)
			}
			if err := add(ss.References, depth+1); err != nil {
				return err
			}
			if _, err := havro.ParseWithCache(ss.Schema.Schema, "", cache); err != nil {
				return fmt.Errorf("reference %q (subject %q version %d): %w", r.Name, r.Subject, r.Version, err)
			}
		}
		return nil
	}
	if err := add(sch.References, 0); err != nil {
		return nil, err
	}
	s, err := havro.ParseWithCache(sch.Schema, "", cache)
	if err != nil {
		return nil, fmt.Errorf("parse Avro schema: %w", err)
	}
	return s, nil
}

// Compare implements compat.Engine.
func (Engine) Compare(ctx context.Context, p compat.Pair, older, newer sr.SubjectSchema) ([]compat.Finding, error) {
	o, err := Parse(ctx, p.Registry, older.Schema)
	if err != nil {
		return nil, fmt.Errorf("subject %q version %d: %w", p.Subject, p.Older, err)
	}
	n, err := Parse(ctx, p.Registry, newer.Schema)
	if err != nil {
		return nil, fmt.Errorf("subject %q version %d: %w", p.Subject, p.Newer, err)
	}
	var out []compat.Finding
	if p.Backward {
		out = append(out, check(o, n, p.Older, p.Newer, true)...)
	}
	if p.Forward {
		out = append(out, check(n, o, p.Newer, p.Older, false)...)
	}
	return out, nil
}

// checker walks a writer schema and a reader schema together.
type checker struct {
	wVersion, rVer int
	backward       bool // the writer is the older version
	found          []compat.Finding
	active         map[[2]string]bool
	wholeWriter    havro.Schema
	wholeReader    havro.Schema
}

func check(writer, reader havro.Schema, wv, rv int, backward bool) []compat.Finding {
	c := &checker{wVersion: wv, rVer: rv, backward: backward, active: map[[2]string]bool{}, wholeWriter: writer, wholeReader: reader}
	c.match(writer, reader, "", func(v any) any { return v }, 0)
	return c.found
}

func (c *checker) code(b, f string) string {
	if c.backward {
		return b
	}
	return f
}

func (c *checker) report(path, code, msg, fix string, local []any, wrap func(any) any) {
	f := compat.Finding{Path: path, Code: code, Message: msg, Fix: fix, BreaksVersion: c.rVer,
		Breaks: fmt.Sprintf("consumers of version %d", c.rVer), Consumers: []string{}}
	for _, l := range local {
		doc := wrap(l)
		if c.proves(doc) {
			b, err := json.Marshal(doc)
			if err == nil {
				f.Example, f.AcceptedBy, f.RefusedBy = b, c.wVersion, c.rVer
				break
			}
		}
	}
	if f.Example == nil {
		f.Note = "no counterexample was proven (none generated was written by one version and unreadable by the other)"
	}
	c.found = append(c.found, f)
}

// proves reports whether doc encodes under the writer's schema and the
// reader cannot read it.
func (c *checker) proves(doc any) (ok bool) {
	defer func() {
		if recover() != nil {
			ok = false
		}
	}()
	data, err := havro.Marshal(c.wholeWriter, doc)
	if err != nil {
		return false
	}
	if havro.NewSchemaCompatibility().Compatible(c.wholeReader, c.wholeWriter) != nil {
		return true // the reader cannot resolve the writer's schema at all
	}
	if hasRefs(c.wholeReader, 0) || hasRefs(c.wholeWriter, 0) {
		// hamba/avro v2.31.0's Resolve recurses without end on a
		// recursive record whose resolution promotes a type (a fatal
		// stack overflow, not a panic): not asked.
		return false
	}
	resolved, err := havro.NewSchemaCompatibility().Resolve(c.wholeReader, c.wholeWriter)
	if err != nil {
		return true
	}
	var out any
	return havro.Unmarshal(resolved, data, &out) != nil
}

// hasRefs reports whether s uses a named type by reference (possibly a
// recursive type).
func hasRefs(s havro.Schema, depth int) bool {
	if depth > maxDepth {
		return true
	}
	switch t := s.(type) {
	case *havro.RefSchema:
		return true
	case *havro.RecordSchema:
		for _, f := range t.Fields() {
			if hasRefs(f.Type(), depth+1) {
				return true
			}
		}
	case *havro.ArraySchema:
		return hasRefs(t.Items(), depth+1)
	case *havro.MapSchema:
		return hasRefs(t.Values(), depth+1)
	case *havro.UnionSchema:
		for _, b := range t.Types() {
			if hasRefs(b, depth+1) {
				return true
			}
		}
	}
	return false
}

func deref(s havro.Schema) havro.Schema {
	for i := 0; i < 8; i++ {
		r, ok := s.(*havro.RefSchema)
		if !ok {
			return s
		}
		s = r.Schema()
	}
	return s
}

func promotable(w, r havro.Type) bool {
	switch w {
	case havro.Int:
		return r == havro.Long || r == havro.Float || r == havro.Double
	case havro.Long:
		return r == havro.Float || r == havro.Double
	case havro.Float:
		return r == havro.Double
	case havro.String:
		return r == havro.Bytes
	case havro.Bytes:
		return r == havro.String
	}
	return false
}

// readable reports, without findings, whether reader reads writer.
func readable(writer, reader havro.Schema) bool {
	return havro.NewSchemaCompatibility().Compatible(reader, writer) == nil
}

func typeName(s havro.Schema) string {
	s = deref(s)
	if n, ok := s.(havro.NamedSchema); ok {
		return string(s.Type()) + " " + n.FullName()
	}
	return string(s.Type())
}

// match reports why reader may not read what writer wrote at path. wrap
// embeds a writer value found here into a whole writer document.
func (c *checker) match(writer, reader havro.Schema, path string, wrap func(any) any, depth int) {
	writer, reader = deref(writer), deref(reader)
	if depth > maxDepth {
		return
	}
	wf, rf := writer.Fingerprint(), reader.Fingerprint()
	key := [2]string{string(wf[:]), string(rf[:])}
	if c.active[key] {
		return // recursive type: assumed while being proven
	}
	c.active[key] = true
	defer delete(c.active, key)

	if wu, ok := writer.(*havro.UnionSchema); ok {
		for _, b := range wu.Types() {
			if ru, ok := reader.(*havro.UnionSchema); ok {
				if !c.unionHas(ru, b) {
					c.report(path, c.code(CodeUnionBranchRemoved, CodeUnionBranchAdded),
						fmt.Sprintf("version %d writes %s here; version %d's union has no branch that reads it", c.wVersion, typeName(b), c.rVer),
						c.fix("keep the union branch "+typeName(b)), samples(b, 0), c.unionWrap(wu, b, wrap))
					continue
				}
				// Recurse into the branch the reader picks, for paths.
				for _, rb := range ru.Types() {
					if sameKind(b, rb) {
						c.match(b, rb, path, c.unionWrap(wu, b, wrap), depth+1)
						break
					}
				}
				continue
			}
			if !readable(b, reader) && !sameKind(b, reader) {
				c.report(path, c.code(CodeUnionBranchRemoved, CodeUnionBranchAdded),
					fmt.Sprintf("version %d writes %s here (a branch of its union); version %d reads only %s", c.wVersion, typeName(b), c.rVer, typeName(reader)),
					c.fix("keep the union"), samples(b, 0), c.unionWrap(wu, b, wrap))
				continue
			}
			c.match(b, reader, path, c.unionWrap(wu, b, wrap), depth+1)
		}
		return
	}
	if ru, ok := reader.(*havro.UnionSchema); ok {
		for _, rb := range ru.Types() {
			if readable(writer, rb) {
				return
			}
		}
		for _, rb := range ru.Types() {
			if sameKind(writer, rb) {
				c.match(writer, rb, path, wrap, depth+1)
				return
			}
		}
		c.report(path, c.code(CodeUnionBranchRemoved, CodeUnionBranchAdded),
			fmt.Sprintf("version %d writes %s here; version %d's union has no branch that reads it", c.wVersion, typeName(writer), c.rVer),
			c.fix("add a union branch for "+typeName(writer)), samples(writer, 0), wrap)
		return
	}
	if writer.Type() != reader.Type() {
		if promotable(writer.Type(), reader.Type()) {
			return
		}
		code := CodeTypeChanged
		if promotable(reader.Type(), writer.Type()) {
			code = c.code(compat.CodeTypeNarrowed, compat.CodeTypeWidened)
		}
		c.report(path, code, fmt.Sprintf("version %d writes %s here; version %d reads %s, which the Avro specification cannot resolve", c.wVersion, typeName(writer), c.rVer, typeName(reader)),
			c.fix("keep the type "+typeName(c.olderOf(writer, reader))), samples(writer, 0), wrap)
		return
	}
	switch w := writer.(type) {
	case *havro.RecordSchema:
		r := reader.(*havro.RecordSchema)
		if !c.nameMatches(w, r, path, wrap) {
			return
		}
		for _, rf := range r.Fields() {
			wf := fieldFor(w.Fields(), rf)
			if wf == nil {
				if rf.HasDefault() {
					continue
				}
				code := c.code(CodeFieldAddedNoDefault, CodeFieldRemovedNoDefault)
				msg := fmt.Sprintf("version %d reads field %q, which version %d does not write, and it has no default", c.rVer, rf.Name(), c.wVersion)
				c.report(path+"/"+rf.Name(), code, msg, c.fix(fmt.Sprintf("give %q a default", rf.Name())), []any{sampleRecord(w, 0)}, wrap)
				continue
			}
			fieldWrap := func(v any) any {
				rec := sampleRecord(w, 0)
				rec[wf.Name()] = v
				return wrap(rec)
			}
			c.match(wf.Type(), rf.Type(), path+"/"+rf.Name(), fieldWrap, depth+1)
		}
	case *havro.EnumSchema:
		r := reader.(*havro.EnumSchema)
		if !c.nameMatches(w, r, path, wrap) {
			return
		}
		if r.HasDefault() {
			return
		}
		for _, s := range w.Symbols() {
			if !slices.Contains(r.Symbols(), s) {
				c.report(path, c.code(CodeEnumSymbolRemoved, CodeEnumSymbolAdded),
					fmt.Sprintf("version %d writes enum symbol %q here; version %d does not know it and has no default symbol", c.wVersion, s, c.rVer),
					c.fix(fmt.Sprintf("keep symbol %q, or give the enum a default", s)), []any{s}, wrap)
			}
		}
	case *havro.FixedSchema:
		r := reader.(*havro.FixedSchema)
		if !c.nameMatches(w, r, path, wrap) {
			return
		}
		if w.Size() != r.Size() {
			c.report(path, CodeFixedSizeChanged, fmt.Sprintf("version %d writes fixed %s of %d bytes; version %d reads %d", c.wVersion, w.FullName(), w.Size(), c.rVer, r.Size()),
				c.fix("keep the size"), samples(w, 0), wrap)
		}
	case *havro.ArraySchema:
		r := reader.(*havro.ArraySchema)
		c.match(w.Items(), r.Items(), path+"/0", func(v any) any { return wrap([]any{v}) }, depth+1)
	case *havro.MapSchema:
		r := reader.(*havro.MapSchema)
		c.match(w.Values(), r.Values(), path+"/key", func(v any) any { return wrap(map[string]any{"key": v}) }, depth+1)
	}
}

func (c *checker) olderOf(writer, reader havro.Schema) havro.Schema {
	if c.backward {
		return writer
	}
	return reader
}

func (c *checker) fix(what string) string {
	if c.backward {
		return what + " in version " + strconv.Itoa(c.rVer) + ", or publish the change as a new subject"
	}
	return what + " in version " + strconv.Itoa(c.wVersion) + " until every consumer reads it, or publish the change as a new subject"
}

func (c *checker) nameMatches(w, r havro.NamedSchema, path string, wrap func(any) any) bool {
	if w.Name() == r.Name() || slices.Contains(r.Aliases(), w.FullName()) {
		return true
	}
	c.report(path, CodeNameChanged, fmt.Sprintf("version %d writes %s; version %d reads %s, with no alias for the old name", c.wVersion, w.FullName(), c.rVer, r.FullName()),
		c.fix("keep the name, or add \""+w.FullName()+"\" to the reader's aliases"), samples(w, 0), wrap)
	return false
}

func (c *checker) unionHas(ru *havro.UnionSchema, b havro.Schema) bool {
	for _, rb := range ru.Types() {
		if readable(b, rb) {
			return true
		}
	}
	return false
}

// unionWrap embeds a value of branch b of union u as hamba encodes a union
// held in an any: nil for null, a one-key map naming the branch otherwise
// (a bare value for a nullable union's other branch).
func (c *checker) unionWrap(u *havro.UnionSchema, b havro.Schema, wrap func(any) any) func(any) any {
	return func(v any) any {
		if b.Type() == havro.Null {
			return wrap(nil)
		}
		if u.Nullable() {
			return wrap(v)
		}
		name := string(deref(b).Type())
		if n, ok := deref(b).(havro.NamedSchema); ok {
			name = n.FullName()
		}
		return wrap(map[string]any{name: v})
	}
}

func sameKind(a, b havro.Schema) bool {
	a, b = deref(a), deref(b)
	if a.Type() != b.Type() {
		return false
	}
	an, aok := a.(havro.NamedSchema)
	bn, bok := b.(havro.NamedSchema)
	return !aok || !bok || an.Name() == bn.Name()
}

func fieldFor(fields []*havro.Field, rf *havro.Field) *havro.Field {
	for _, f := range fields {
		if f.Name() == rf.Name() || slices.Contains(rf.Aliases(), f.Name()) {
			return f
		}
	}
	return nil
}

// samples returns writer values of s, the simplest first.
func samples(s havro.Schema, depth int) []any {
	s = deref(s)
	if depth > 8 {
		return []any{nil}
	}
	switch t := s.(type) {
	case *havro.PrimitiveSchema:
		switch t.Type() {
		case havro.Null:
			return []any{nil}
		case havro.Boolean:
			return []any{true}
		case havro.Int:
			return []any{7}
		case havro.Long:
			return []any{int64(1) << 40}
		case havro.Float:
			return []any{float32(1.5)}
		case havro.Double:
			return []any{1.5}
		case havro.String:
			return []any{"a"}
		case havro.Bytes:
			return []any{[]byte("a")}
		}
	case *havro.EnumSchema:
		return []any{t.Symbols()[0]}
	case *havro.FixedSchema:
		// hamba encodes a fixed from a byte array of its size.
		return []any{reflect.New(reflect.ArrayOf(t.Size(), reflect.TypeOf(byte(0)))).Elem().Interface()}
	case *havro.ArraySchema:
		return []any{[]any{}}
	case *havro.MapSchema:
		return []any{map[string]any{}}
	case *havro.RecordSchema:
		return []any{sampleRecord(t, depth)}
	case *havro.UnionSchema:
		for _, b := range t.Types() {
			if b.Type() == havro.Null {
				return []any{nil}
			}
		}
		b := t.Types()[0]
		v := samples(b, depth+1)[0]
		name := string(deref(b).Type())
		if n, ok := deref(b).(havro.NamedSchema); ok {
			name = n.FullName()
		}
		return []any{map[string]any{name: v}}
	}
	return []any{nil}
}

func sampleRecord(r *havro.RecordSchema, depth int) map[string]any {
	out := map[string]any{}
	for _, f := range r.Fields() {
		out[f.Name()] = samples(f.Type(), depth+1)[0]
	}
	return out
}
