// Package protobuf is the Protobuf engine of package compat: it decides
// whether one version of a .proto schema may follow another, walking the
// subject's message (the file's first message, as Confluent's serializers
// use by default) and every message it reaches, field by field by number.
//
// It implements the rules of Buf's WIRE_JSON breaking-change category (which
// contains WIRE), because eventguard's Protobuf payloads travel both ways:
// apps send and receive protojson, Kafka carries the binary encoding.
// Implemented (Buf rule ids in the messages):
//
//	FIELD_NO_DELETE_UNLESS_NUMBER_RESERVED, FIELD_NO_DELETE_UNLESS_NAME_RESERVED
//	FIELD_WIRE_COMPATIBLE_TYPE, FIELD_WIRE_JSON_COMPATIBLE_TYPE
//	FIELD_WIRE_COMPATIBLE_CARDINALITY, FIELD_WIRE_JSON_COMPATIBLE_CARDINALITY
//	FIELD_SAME_JSON_NAME, FIELD_SAME_NAME (protojson accepts the proto name)
//	FIELD_SAME_ONEOF, FIELD_SAME_DEFAULT
//	ENUM_VALUE_NO_DELETE_UNLESS_NUMBER_RESERVED, ENUM_VALUE_NO_DELETE_UNLESS_NAME_RESERVED
//	ENUM_VALUE_SAME_NAME, MESSAGE_SAME_REQUIRED_FIELDS
//
// Not implemented: the FILE and PACKAGE categories (file options, package
// and type names, services), which do not change what a payload means.
//
// Direction: BACKWARD applies the rules with the older version as Buf's
// "previous" (the newer version reads what the older wrote); FORWARD with
// the newer as "previous" (the older reads what the newer writes). Type
// changes are allowed only where the reader accepts every value the writer
// sends, in JSON and on the wire (int32 to int64, uint32 to uint64 or
// int64, sint32 to sint64).
//
// Counterexamples are protojson documents proven with
// google.golang.org/protobuf: the writer's message accepts the document and
// the reader's refuses it, or reads back another value from the writer's
// binary encoding.
package protobuf

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/bufbuild/protocompile"
	"github.com/twmb/franz-go/pkg/sr"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/dynamicpb"

	"github.com/eventguard/eventguard/compat"
	"github.com/eventguard/eventguard/validate"
)

// Finding codes of the Protobuf engine (type_narrowed, type_widened and
// required_added are shared with the JSON Schema engine).
const (
	CodeFieldDeleted         = "field_deleted"
	CodeFieldAdded           = "field_added"
	CodeFieldTypeChanged     = "field_type_changed"
	CodeCardinalityChanged   = "field_cardinality_changed"
	CodeJSONNameChanged      = "field_json_name_changed"
	CodeFieldNameChanged     = "field_name_changed"
	CodeOneofChanged         = "field_oneof_changed"
	CodeDefaultChanged       = "field_default_changed"
	CodeEnumValueDeleted     = "enum_value_deleted"
	CodeEnumValueAdded       = "enum_value_added"
	CodeEnumValueNameChanged = "enum_value_name_changed"
)

// mainFile is the name the subject's own schema compiles under.
const mainFile = "eventguard-subject.proto"

// Engine is the Protobuf compat.Engine.
type Engine struct {
	// Compile compiles a subject's .proto text with its references (import
	// path to text). Default: protocompile with the well-known types; the
	// validator's own compiler (with buf/validate built in) fits here.
	Compile func(ctx context.Context, schema string, refs map[string]string) (protoreflect.FileDescriptor, error)
}

var _ compat.Engine = Engine{}

// compileStandard compiles with protocompile, the well-known types built in.
func compileStandard(ctx context.Context, schema string, refs map[string]string) (protoreflect.FileDescriptor, error) {
	files := map[string]string{mainFile: schema}
	for k, v := range refs {
		files[k] = v
	}
	c := protocompile.Compiler{Resolver: protocompile.WithStandardImports(&protocompile.SourceResolver{Accessor: protocompile.SourceAccessorFromMap(files)})}
	fds, err := c.Compile(ctx, mainFile)
	if err != nil {
		return nil, err
	}
	return fds[0], nil
}

// message compiles a .proto schema with its registry references (imported by
// reference name) and returns the subject's message: the file's first.
func (e Engine) message(ctx context.Context, reg validate.Registry, sch sr.Schema) (protoreflect.MessageDescriptor, error) {
	files := map[string]string{}
	var add func(refs []sr.SchemaReference, depth int) error
	add = func(refs []sr.SchemaReference, depth int) error {
		if depth > 32 {
			return fmt.Errorf("references nest deeper than 32")
		}
		for _, r := range refs {
			if _, ok := files[r.Name]; ok {
				continue
			}
			ss, err := reg.SchemaByVersion(ctx, r.Subject, r.Version)
			if err != nil {
				return fmt.Errorf("reference %q (subject %q version %d): %w", r.Name, r.Subject, r.Version, err)
			}
			files[r.Name] = ss.Schema.Schema
			if err := add(ss.References, depth+1); err != nil {
				return err
			}
		}
		return nil
	}
	if err := add(sch.References, 0); err != nil {
		return nil, err
	}
	compile := e.Compile
	if compile == nil {
		compile = compileStandard
	}
	fd, err := compile(ctx, sch.Schema, files)
	if err != nil {
		return nil, fmt.Errorf("compile .proto: %w", err)
	}
	msgs := fd.Messages()
	if msgs.Len() == 0 {
		return nil, fmt.Errorf("the .proto declares no message")
	}
	return msgs.Get(0), nil
}

// Compare implements compat.Engine.
func (e Engine) Compare(ctx context.Context, p compat.Pair, older, newer sr.SubjectSchema) ([]compat.Finding, error) {
	o, err := e.message(ctx, p.Registry, older.Schema)
	if err != nil {
		return nil, fmt.Errorf("subject %q version %d: %w", p.Subject, p.Older, err)
	}
	n, err := e.message(ctx, p.Registry, newer.Schema)
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

type checker struct {
	writer, reader protoreflect.MessageDescriptor // the roots
	wv, rv         int
	backward       bool
	active         map[[2]protoreflect.FullName]bool
	found          []compat.Finding
}

func check(writer, reader protoreflect.MessageDescriptor, wv, rv int, backward bool) []compat.Finding {
	c := &checker{writer: writer, reader: reader, wv: wv, rv: rv, backward: backward, active: map[[2]protoreflect.FullName]bool{}}
	c.message(writer, reader, "", func(v any) any { return v }, 0)
	return c.found
}

func (c *checker) code(b, f string) string {
	if c.backward {
		return b
	}
	return f
}

func (c *checker) fix(what string) string {
	if c.backward {
		return what + " in version " + strconv.Itoa(c.rv) + ", or publish the change as a new subject"
	}
	return what + " in version " + strconv.Itoa(c.wv) + " until every consumer reads it, or publish the change as a new subject"
}

func (c *checker) report(path, code, rule, msg, fix string, wrap func(any) any, locals ...any) {
	if rule != "" {
		msg += " (Buf " + rule + ")"
	}
	f := compat.Finding{Path: path, Code: code, Message: msg, Fix: fix, BreaksVersion: c.rv,
		Breaks: fmt.Sprintf("consumers of version %d", c.rv), Consumers: []string{}}
	for _, l := range locals {
		doc := wrap(l)
		if b, ok := c.proves(doc); ok {
			f.Example, f.AcceptedBy, f.RefusedBy = b, c.wv, c.rv
			break
		}
	}
	if f.Example == nil {
		f.Note = "no counterexample was proven (none generated was accepted by one version and refused, or read differently, by the other)"
	}
	c.found = append(c.found, f)
}

// proves reports whether the writer accepts doc (protojson) and the reader
// refuses it or reads another value from the writer's binary encoding.
func (c *checker) proves(doc any) ([]byte, bool) {
	b, err := json.Marshal(doc)
	if err != nil {
		return nil, false
	}
	wm := dynamicpb.NewMessage(c.writer)
	if protojson.Unmarshal(b, wm) != nil {
		return nil, false
	}
	if protojson.Unmarshal(b, dynamicpb.NewMessage(c.reader)) != nil {
		return b, true
	}
	wire, err := proto.Marshal(wm)
	if err != nil {
		return nil, false
	}
	rm := dynamicpb.NewMessage(c.reader)
	if proto.Unmarshal(wire, rm) != nil {
		return b, true
	}
	// The value the reader read, read back by the writer: the same value
	// or another one.
	rj, err := protojson.Marshal(rm)
	if err != nil {
		return b, true
	}
	back := dynamicpb.NewMessage(c.writer)
	if protojson.Unmarshal(rj, back) != nil || !proto.Equal(wm, back) {
		return b, true
	}
	return nil, false
}

// message compares a writer message with the reader's at path.
func (c *checker) message(w, r protoreflect.MessageDescriptor, path string, wrap func(any) any, depth int) {
	key := [2]protoreflect.FullName{w.FullName(), r.FullName()}
	if c.active[key] || depth > 64 {
		return
	}
	c.active[key] = true
	defer delete(c.active, key)
	wfs := w.Fields()
	for i := 0; i < wfs.Len(); i++ {
		wf := wfs.Get(i)
		fpath := path + "/" + wf.JSONName()
		fwrap := func(v any) any {
			obj := sampleMessage(w, 0)
			obj[wf.JSONName()] = v
			return wrap(obj)
		}
		rf := r.Fields().ByNumber(wf.Number())
		if rf == nil {
			numberReserved := r.ReservedRanges().Has(wf.Number())
			nameReserved := r.ReservedNames().Has(wf.Name())
			if numberReserved && nameReserved {
				continue
			}
			rule := "FIELD_NO_DELETE_UNLESS_NAME_RESERVED"
			if !numberReserved {
				rule = "FIELD_NO_DELETE_UNLESS_NUMBER_RESERVED"
			}
			msg := fmt.Sprintf("version %d has field %q (number %d); version %d neither declares nor reserves it, so its readers refuse documents carrying it and a later field may reuse the number", c.wv, wf.Name(), wf.Number(), c.rv)
			fix := c.fix(fmt.Sprintf("keep field %q, or reserve its number and name", wf.Name()))
			if !c.backward {
				rule = ""
				msg = fmt.Sprintf("version %d adds field %q (number %d); version %d's readers refuse JSON documents carrying it", c.wv, wf.Name(), wf.Number(), c.rv)
				fix = fmt.Sprintf("do not send %q until every consumer reads version %d, or publish the change as a new subject", wf.Name(), c.wv)
			}
			c.report(fpath, c.code(CodeFieldDeleted, CodeFieldAdded), rule, msg, fix, fwrap, fieldSamples(wf, 0)...)
			continue
		}
		if woneof, roneof := oneofName(wf), oneofName(rf); woneof != roneof {
			// A candidate sets every writer field the reader's oneof holds.
			both := sampleMessage(w, 0)
			if o := rf.ContainingOneof(); o != nil {
				for j := 0; j < o.Fields().Len(); j++ {
					if f := w.Fields().ByNumber(o.Fields().Get(j).Number()); f != nil {
						if vs := fieldSamples(f, 0); len(vs) > 0 {
							both[f.JSONName()] = vs[0]
						}
					}
				}
			}
			c.report(fpath, CodeOneofChanged, "FIELD_SAME_ONEOF", fmt.Sprintf("field %q is in oneof %q in version %d and in oneof %q in version %d", wf.Name(), woneof, c.wv, roneof, c.rv),
				c.fix("keep the field in its oneof"), func(v any) any { return v }, wrap(both))
		}
		c.field(wf, rf, fpath, fwrap, depth)
	}
	// Required fields (proto2) the reader needs and the writer may omit.
	rfs := r.Fields()
	for i := 0; i < rfs.Len(); i++ {
		rf := rfs.Get(i)
		if rf.Cardinality() != protoreflect.Required {
			continue
		}
		wf := w.Fields().ByNumber(rf.Number())
		if wf == nil || wf.Cardinality() != protoreflect.Required {
			c.report(path+"/"+rf.JSONName(), c.code(compat.CodeRequiredAdded, compat.CodeRequiredRemoved), "MESSAGE_SAME_REQUIRED_FIELDS",
				fmt.Sprintf("version %d requires field %q; version %d does not", c.rv, rf.Name(), c.wv), c.fix(fmt.Sprintf("make %q optional", rf.Name())),
				wrap, sampleMessage(w, 0))
		}
	}
}

func (c *checker) field(wf, rf protoreflect.FieldDescriptor, path string, wrap func(any) any, depth int) {
	if wf.JSONName() != rf.JSONName() {
		c.report(path, CodeJSONNameChanged, "FIELD_SAME_JSON_NAME", fmt.Sprintf("field number %d is %q in JSON in version %d and %q in version %d", wf.Number(), wf.JSONName(), c.wv, rf.JSONName(), c.rv),
			c.fix("keep the JSON name"), func(v any) any { return v }, renamed(wrap, wf.JSONName(), fieldSamples(wf, 0))...)
	} else if wf.Name() != rf.Name() {
		c.report(path, CodeFieldNameChanged, "FIELD_SAME_NAME", fmt.Sprintf("field number %d is %q in version %d and %q in version %d (protojson accepts the proto name too)", wf.Number(), wf.Name(), c.wv, rf.Name(), c.rv),
			c.fix("keep the field name"), func(v any) any { return v }, renamed(wrap, string(wf.Name()), fieldSamples(wf, 0))...)
	}
	if wf.IsList() != rf.IsList() || wf.IsMap() != rf.IsMap() {
		c.report(path, CodeCardinalityChanged, "FIELD_WIRE_JSON_COMPATIBLE_CARDINALITY", fmt.Sprintf("field %q is %s in version %d and %s in version %d", wf.Name(), cardinality(wf), c.wv, cardinality(rf), c.rv),
			c.fix("keep the cardinality"), wrap, fieldSamples(wf, 0)...)
		return
	}
	if wf.HasDefault() && rf.HasDefault() && wf.Default().Interface() != rf.Default().Interface() {
		c.report(path, CodeDefaultChanged, "FIELD_SAME_DEFAULT", fmt.Sprintf("field %q defaults to %v in version %d and %v in version %d", wf.Name(), wf.Default().Interface(), c.wv, rf.Default().Interface(), c.rv),
			c.fix("keep the default"), wrap, map[string]any{})
	}
	if wf.IsMap() {
		c.field(wf.MapValue(), rf.MapValue(), path+"/key", func(v any) any { return wrap(map[string]any{"key": v}) }, depth+1)
		return
	}
	elemWrap := wrap
	epath := path
	if wf.IsList() {
		elemWrap = func(v any) any { return wrap([]any{v}) }
		epath = path + "/0"
	}
	wk, rk := wf.Kind(), rf.Kind()
	switch {
	case wk == rk && (wk == protoreflect.MessageKind || wk == protoreflect.GroupKind):
		wm, rm := wf.Message(), rf.Message()
		if (isWellKnown(wm) || isWellKnown(rm)) && wm.FullName() != rm.FullName() {
			c.report(epath, CodeFieldTypeChanged, "FIELD_WIRE_JSON_COMPATIBLE_TYPE", fmt.Sprintf("field %q is %s in version %d and %s in version %d", wf.Name(), wm.FullName(), c.wv, rm.FullName(), c.rv),
				c.fix("keep the type"), elemWrap, sampleMessage(wm, 0))
			return
		}
		c.message(wm, rm, epath, elemWrap, depth+1)
	case wk == rk && wk == protoreflect.EnumKind:
		c.enum(wf.Enum(), rf.Enum(), epath, elemWrap)
	case wk == rk:
	case widens(wk, rk):
	default:
		code := CodeFieldTypeChanged
		if widens(rk, wk) {
			code = c.code(compat.CodeTypeNarrowed, compat.CodeTypeWidened)
		}
		c.report(epath, code, "FIELD_WIRE_JSON_COMPATIBLE_TYPE", fmt.Sprintf("field %q is %s in version %d and %s in version %d: not every value of the first reads as the same value of the second", wf.Name(), typeName(wf), c.wv, typeName(rf), c.rv),
			c.fix("keep the type "+typeName(c.olderField(wf, rf))), elemWrap, kindSamples(wf, wk)...)
	}
}

func (c *checker) olderField(w, r protoreflect.FieldDescriptor) protoreflect.FieldDescriptor {
	if c.backward {
		return w
	}
	return r
}

func (c *checker) enum(w, r protoreflect.EnumDescriptor, path string, wrap func(any) any) {
	vals := w.Values()
	for i := 0; i < vals.Len(); i++ {
		wv := vals.Get(i)
		rv := r.Values().ByNumber(wv.Number())
		if rv == nil {
			if r.ReservedRanges().Has(wv.Number()) && r.ReservedNames().Has(wv.Name()) {
				continue
			}
			rule := "ENUM_VALUE_NO_DELETE_UNLESS_NAME_RESERVED"
			if !r.ReservedRanges().Has(wv.Number()) {
				rule = "ENUM_VALUE_NO_DELETE_UNLESS_NUMBER_RESERVED"
			}
			if !c.backward {
				rule = ""
			}
			c.report(path, c.code(CodeEnumValueDeleted, CodeEnumValueAdded), rule, fmt.Sprintf("version %d has enum value %s (%d); version %d does not", c.wv, wv.Name(), wv.Number(), c.rv),
				c.fix(fmt.Sprintf("keep %s, or reserve its number and name", wv.Name())), wrap, string(wv.Name()), int(wv.Number()))
			continue
		}
		if rv.Name() != wv.Name() {
			c.report(path, CodeEnumValueNameChanged, "ENUM_VALUE_SAME_NAME", fmt.Sprintf("enum value %d is %s in version %d and %s in version %d (JSON carries the name)", wv.Number(), wv.Name(), c.wv, rv.Name(), c.rv),
				c.fix("keep the name "+string(wv.Name())), wrap, string(wv.Name()))
		}
	}
}

// widens reports whether every JSON and wire value of kind w reads as the
// same value of kind r.
func widens(w, r protoreflect.Kind) bool {
	switch w {
	case protoreflect.Int32Kind:
		return r == protoreflect.Int64Kind
	case protoreflect.Uint32Kind:
		return r == protoreflect.Uint64Kind || r == protoreflect.Int64Kind
	case protoreflect.Sint32Kind:
		return r == protoreflect.Sint64Kind
	}
	return false
}

func isWellKnown(m protoreflect.MessageDescriptor) bool {
	return m.ParentFile() != nil && m.ParentFile().Package() == "google.protobuf"
}

func oneofName(f protoreflect.FieldDescriptor) string {
	if o := f.ContainingOneof(); o != nil && !o.IsSynthetic() {
		return string(o.Name())
	}
	return ""
}

func cardinality(f protoreflect.FieldDescriptor) string {
	switch {
	case f.IsMap():
		return "a map"
	case f.IsList():
		return "repeated"
	}
	return "singular"
}

func typeName(f protoreflect.FieldDescriptor) string {
	switch f.Kind() {
	case protoreflect.MessageKind, protoreflect.GroupKind:
		return string(f.Message().FullName())
	case protoreflect.EnumKind:
		return string(f.Enum().FullName())
	}
	return f.Kind().String()
}

// renamed returns, for each sample, a document carrying the field under its
// old name.
func renamed(wrap func(any) any, name string, samples []any) []any {
	var out []any
	for _, s := range samples {
		doc := wrap(s)
		if m, ok := doc.(map[string]any); ok {
			for k, v := range m {
				if k != name {
					delete(m, k)
					m[name] = v
					break
				}
			}
		}
		out = append(out, doc)
	}
	return out
}

// fieldSamples returns JSON values of f as protojson reads them.
func fieldSamples(f protoreflect.FieldDescriptor, depth int) []any {
	if f.IsMap() {
		var out []any
		for _, v := range fieldSamples(f.MapValue(), depth+1) {
			out = append(out, map[string]any{"k": v})
		}
		return out
	}
	vals := kindSamples(f, f.Kind())
	if f.IsList() {
		var out []any
		for _, v := range vals {
			out = append(out, []any{v})
		}
		return out
	}
	return vals
}

func kindSamples(f protoreflect.FieldDescriptor, k protoreflect.Kind) []any {
	switch k {
	case protoreflect.BoolKind:
		return []any{true}
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind:
		return []any{-7, 7}
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind:
		return []any{4000000000, 7}
	case protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
		return []any{"-9000000000", "7"}
	case protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		return []any{"18000000000000000000", "7"}
	case protoreflect.FloatKind:
		return []any{1.5}
	case protoreflect.DoubleKind:
		return []any{1e300, 1.5}
	case protoreflect.StringKind:
		return []any{"a", "é"}
	case protoreflect.BytesKind:
		return []any{"/w=="}
	case protoreflect.EnumKind:
		vals := f.Enum().Values()
		var out []any
		for i := vals.Len() - 1; i >= 0 && len(out) < 3; i-- {
			out = append(out, string(vals.Get(i).Name()))
		}
		return out
	case protoreflect.MessageKind, protoreflect.GroupKind:
		return []any{sampleMessage(f.Message(), 0)}
	}
	return nil
}

// sampleMessage returns a protojson object of m with its required fields.
func sampleMessage(m protoreflect.MessageDescriptor, depth int) map[string]any {
	out := map[string]any{}
	if depth > 8 {
		return out
	}
	fs := m.Fields()
	for i := 0; i < fs.Len(); i++ {
		f := fs.Get(i)
		if f.Cardinality() == protoreflect.Required {
			if vs := fieldSamples(f, depth+1); len(vs) > 0 {
				out[f.JSONName()] = vs[len(vs)-1]
			}
		}
	}
	return out
}
