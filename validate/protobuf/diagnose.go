package protobuf

import (
	"encoding/base64"
	"fmt"
	"math"
	"math/big"
	"strconv"
	"strings"
	"time"

	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/eventguard/eventguard/internal/jsonvalue"
)

// diagnose walks a JSON value that protojson refused against md, with
// protojson's rules, and names every problem by JSON pointer. protojson
// stops at the first problem and names no path; this walk exists to say
// where. It does not build anything: protojson stays the reference for what
// is accepted.
func diagnose(doc *jsonvalue.Doc, md protoreflect.MessageDescriptor) []Violation {
	if len(doc.Nodes) == 0 {
		return nil
	}
	d := diag{doc: doc}
	d.message(md, 0, "", 0)
	sortViolations(d.out)
	return d.out
}

type diag struct {
	doc *jsonvalue.Doc
	out []Violation
}

func (d *diag) fail(path, keyword, format string, args ...any) {
	if len(d.out) < MaxViolations {
		d.out = append(d.out, Violation{Path: path, Keyword: keyword, Message: fmt.Sprintf(format, args...)})
	}
}

func kindName(k jsonvalue.Kind) string {
	switch k {
	case jsonvalue.KindNull:
		return "null"
	case jsonvalue.KindFalse, jsonvalue.KindTrue:
		return "boolean"
	case jsonvalue.KindNumber:
		return "number"
	case jsonvalue.KindString:
		return "string"
	case jsonvalue.KindArray:
		return "array"
	}
	return "object"
}

// message checks node i as message md.
func (d *diag) message(md protoreflect.MessageDescriptor, i int, path string, depth int) {
	if depth > recursionLimit {
		d.fail(path, KeywordRange, "messages nest deeper than %d", recursionLimit)
		return
	}
	n := &d.doc.Nodes[i]
	if wkt(md.FullName()) {
		d.wellKnown(md, i, path, depth)
		return
	}
	if n.Kind != jsonvalue.KindObject {
		d.fail(path, KeywordType, "got %s, want an object (message %s)", kindName(n.Kind), md.FullName())
		return
	}
	fields := md.Fields()
	seen := map[protoreflect.FieldNumber]string{}
	oneofs := map[protoreflect.FullName]string{}
	j := i + 1
	for range n.Len {
		key := d.doc.Nodes[j].Str
		vi := j + 1
		j = int(d.doc.Nodes[vi].End)
		p := path + "/" + escape(key)
		if strings.HasPrefix(key, "[") && strings.HasSuffix(key, "]") {
			continue // an extension: left to protojson
		}
		fd := fields.ByJSONName(key)
		if fd == nil {
			fd = fields.ByTextName(key)
		}
		if fd == nil {
			d.fail(p, KeywordUnknownField, "message %s has no field %q", md.FullName(), key)
			continue
		}
		if prev, ok := seen[fd.Number()]; ok {
			d.fail(p, KeywordDuplicateField, "field %s is given twice (%q and %q)", fd.Name(), prev, key)
			continue
		}
		seen[fd.Number()] = key
		v := &d.doc.Nodes[vi]
		if v.Kind == jsonvalue.KindNull && !(fd.Message() != nil && fd.Message().FullName() == "google.protobuf.Value") {
			continue // null is the default value
		}
		if od := fd.ContainingOneof(); od != nil && !od.IsSynthetic() {
			if other, ok := oneofs[od.FullName()]; ok {
				d.fail(p, KeywordOneof, "oneof %s is set twice (%q and %q)", od.Name(), other, key)
				continue
			}
			oneofs[od.FullName()] = key
		}
		d.field(fd, vi, p, depth)
	}
}

func (d *diag) field(fd protoreflect.FieldDescriptor, i int, path string, depth int) {
	n := &d.doc.Nodes[i]
	switch {
	case fd.IsMap():
		if n.Kind != jsonvalue.KindObject {
			d.fail(path, KeywordType, "got %s, want an object (map field %s)", kindName(n.Kind), fd.Name())
			return
		}
		j := i + 1
		for range n.Len {
			key := d.doc.Nodes[j].Str
			vi := j + 1
			j = int(d.doc.Nodes[vi].End)
			p := path + "/" + escape(key)
			d.mapKey(fd.MapKey(), key, p)
			if d.doc.Nodes[vi].Kind == jsonvalue.KindNull && fd.MapValue().Message() == nil {
				d.fail(p, KeywordType, "a map value may not be null")
				continue
			}
			d.single(fd.MapValue(), vi, p, depth)
		}
	case fd.IsList():
		if n.Kind != jsonvalue.KindArray {
			d.fail(path, KeywordType, "got %s, want an array (repeated field %s)", kindName(n.Kind), fd.Name())
			return
		}
		j := i + 1
		for k := 0; k < int(n.Len); k++ {
			p := path + "/" + strconv.Itoa(k)
			if d.doc.Nodes[j].Kind == jsonvalue.KindNull && !(fd.Message() != nil && fd.Message().FullName() == "google.protobuf.Value") {
				d.fail(p, KeywordType, "an item of a repeated field may not be null")
			} else {
				d.single(fd, j, p, depth)
			}
			j = int(d.doc.Nodes[j].End)
		}
	default:
		d.single(fd, i, path, depth)
	}
}

func (d *diag) mapKey(fd protoreflect.FieldDescriptor, key, path string) {
	switch fd.Kind() {
	case protoreflect.BoolKind:
		if key != "true" && key != "false" {
			d.fail(path, KeywordFormat, "map key %q is not true or false", key)
		}
	case protoreflect.StringKind:
	default:
		if _, ok := parseInt(fd.Kind(), key, false); !ok {
			d.fail(path, KeywordFormat, "map key %q is not a %s", key, fd.Kind())
		}
	}
}

// single checks one value (not a list or map) of field fd.
func (d *diag) single(fd protoreflect.FieldDescriptor, i int, path string, depth int) {
	n := &d.doc.Nodes[i]
	switch fd.Kind() {
	case protoreflect.MessageKind, protoreflect.GroupKind:
		d.message(fd.Message(), i, path, depth+1)
	case protoreflect.EnumKind:
		d.enum(fd.Enum(), n, path)
	case protoreflect.BoolKind:
		if n.Kind != jsonvalue.KindTrue && n.Kind != jsonvalue.KindFalse {
			d.fail(path, KeywordType, "got %s, want a boolean", kindName(n.Kind))
		}
	case protoreflect.StringKind:
		if n.Kind != jsonvalue.KindString {
			d.fail(path, KeywordType, "got %s, want a string", kindName(n.Kind))
		}
	case protoreflect.BytesKind:
		if n.Kind != jsonvalue.KindString {
			d.fail(path, KeywordType, "got %s, want a base64 string", kindName(n.Kind))
		} else if !isBase64(n.Str) {
			d.fail(path, KeywordFormat, "%q is not base64 (standard or URL alphabet)", clip(n.Str))
		}
	case protoreflect.FloatKind, protoreflect.DoubleKind:
		d.float(fd.Kind(), n, path)
	default:
		d.integer(fd.Kind(), n, path)
	}
}

func (d *diag) enum(ed protoreflect.EnumDescriptor, n *jsonvalue.Node, path string) {
	if ed.FullName() == "google.protobuf.NullValue" && n.Kind == jsonvalue.KindNull {
		return
	}
	switch n.Kind {
	case jsonvalue.KindString:
		if ed.Values().ByName(protoreflect.Name(n.Str)) == nil {
			d.fail(path, KeywordEnum, "%q is not a value of enum %s (%s)", clip(n.Str), ed.FullName(), enumList(ed))
		}
	case jsonvalue.KindNumber:
		if _, ok := parseInt(protoreflect.Int32Kind, n.Str, true); !ok {
			d.fail(path, KeywordEnum, "%s is not an enum number (a 32-bit integer)", n.Str)
		}
	default:
		d.fail(path, KeywordType, "got %s, want an enum name (a string) or number", kindName(n.Kind))
	}
}

func enumList(ed protoreflect.EnumDescriptor) string {
	var names []string
	vals := ed.Values()
	for k := 0; k < vals.Len() && k < 10; k++ {
		names = append(names, string(vals.Get(k).Name()))
	}
	if vals.Len() > 10 {
		names = append(names, "...")
	}
	return strings.Join(names, ", ")
}

func (d *diag) float(k protoreflect.Kind, n *jsonvalue.Node, path string) {
	var lit string
	switch n.Kind {
	case jsonvalue.KindNumber:
		lit = n.Str
	case jsonvalue.KindString:
		switch n.Str {
		case "NaN", "Infinity", "-Infinity":
			return
		}
		lit = n.Str
	default:
		d.fail(path, KeywordType, "got %s, want a number", kindName(n.Kind))
		return
	}
	bits := 64
	if k == protoreflect.FloatKind {
		bits = 32
	}
	if _, err := strconv.ParseFloat(lit, bits); err != nil {
		if n.Kind == jsonvalue.KindString {
			d.fail(path, KeywordFormat, "%q is not a number", clip(lit))
		} else {
			d.fail(path, KeywordRange, "%s is out of the range of a %s", lit, k)
		}
	}
}

func (d *diag) integer(k protoreflect.Kind, n *jsonvalue.Node, path string) {
	if n.Kind != jsonvalue.KindNumber && n.Kind != jsonvalue.KindString {
		d.fail(path, KeywordType, "got %s, want a %s (a number or a string)", kindName(n.Kind), k)
		return
	}
	if _, ok := parseInt(k, n.Str, n.Kind == jsonvalue.KindNumber); !ok {
		d.fail(path, KeywordRange, "%s is not an integer in the range of a %s", clip(n.Str), k)
	}
}

// parseInt reads an integer of kind k as protojson does: digits, or a
// number literal whose value is an integer (1.0, 1e3).
func parseInt(k protoreflect.Kind, s string, number bool) (int64, bool) {
	var bits int
	unsigned := false
	switch k {
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind:
		bits = 32
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind:
		bits, unsigned = 32, true
	case protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
		bits = 64
	case protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		bits, unsigned = 64, true
	default:
		return 0, false
	}
	if unsigned {
		if _, err := strconv.ParseUint(s, 10, bits); err == nil {
			return 0, true
		}
	} else if x, err := strconv.ParseInt(s, 10, bits); err == nil {
		return x, true
	}
	if len(s) > 64 {
		return 0, false
	}
	r, ok := new(big.Rat).SetString(s)
	if !ok || !r.IsInt() {
		return 0, false
	}
	x := r.Num()
	var lo, hi *big.Int
	if unsigned {
		lo, hi = big.NewInt(0), new(big.Int).SetUint64(math.MaxUint64>>(64-bits))
	} else {
		lo, hi = big.NewInt(-1<<(bits-1)), big.NewInt(1<<(bits-1)-1)
	}
	return 0, x.Cmp(lo) >= 0 && x.Cmp(hi) <= 0
}

func isBase64(s string) bool {
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.URLEncoding, base64.RawStdEncoding, base64.RawURLEncoding} {
		if _, err := enc.DecodeString(s); err == nil {
			return true
		}
	}
	return false
}

func clip(s string) string {
	if len(s) > 64 {
		return s[:64] + "..."
	}
	return s
}

func wkt(name protoreflect.FullName) bool {
	switch name {
	case "google.protobuf.Any", "google.protobuf.Timestamp", "google.protobuf.Duration", "google.protobuf.FieldMask",
		"google.protobuf.Struct", "google.protobuf.Value", "google.protobuf.ListValue", "google.protobuf.Empty",
		"google.protobuf.BoolValue", "google.protobuf.StringValue", "google.protobuf.BytesValue",
		"google.protobuf.Int32Value", "google.protobuf.Int64Value", "google.protobuf.UInt32Value", "google.protobuf.UInt64Value",
		"google.protobuf.FloatValue", "google.protobuf.DoubleValue":
		return true
	}
	return false
}

// wellKnown checks the JSON forms of the well-known types.
func (d *diag) wellKnown(md protoreflect.MessageDescriptor, i int, path string, depth int) {
	n := &d.doc.Nodes[i]
	switch md.FullName() {
	case "google.protobuf.Timestamp":
		if n.Kind != jsonvalue.KindString {
			d.fail(path, KeywordType, "got %s, want an RFC 3339 timestamp string", kindName(n.Kind))
			return
		}
		t, err := time.Parse(time.RFC3339Nano, n.Str)
		if err != nil || t.Year() < 1 || t.Year() > 9999 {
			d.fail(path, KeywordFormat, "%q is not an RFC 3339 timestamp (2026-11-02T12:31:00Z)", clip(n.Str))
		}
	case "google.protobuf.Duration":
		if n.Kind != jsonvalue.KindString {
			d.fail(path, KeywordType, "got %s, want a duration string (\"1.5s\")", kindName(n.Kind))
			return
		}
		if !strings.HasSuffix(n.Str, "s") {
			d.fail(path, KeywordFormat, "%q is not a duration (seconds with an \"s\" suffix, \"1.5s\")", clip(n.Str))
			return
		}
		if _, err := strconv.ParseFloat(strings.TrimSuffix(n.Str, "s"), 64); err != nil {
			d.fail(path, KeywordFormat, "%q is not a duration (\"1.5s\")", clip(n.Str))
		}
	case "google.protobuf.FieldMask":
		if n.Kind != jsonvalue.KindString {
			d.fail(path, KeywordType, "got %s, want a field mask string (\"a.b,c\")", kindName(n.Kind))
		}
	case "google.protobuf.Struct":
		if n.Kind != jsonvalue.KindObject {
			d.fail(path, KeywordType, "got %s, want an object (google.protobuf.Struct)", kindName(n.Kind))
		}
	case "google.protobuf.ListValue":
		if n.Kind != jsonvalue.KindArray {
			d.fail(path, KeywordType, "got %s, want an array (google.protobuf.ListValue)", kindName(n.Kind))
		}
	case "google.protobuf.Value":
		// Any JSON value.
	case "google.protobuf.Empty":
		if n.Kind != jsonvalue.KindObject || n.Len != 0 {
			d.fail(path, KeywordType, "want {} (google.protobuf.Empty)")
		}
	case "google.protobuf.Any":
		if n.Kind != jsonvalue.KindObject {
			d.fail(path, KeywordType, "got %s, want an object with \"@type\" (google.protobuf.Any)", kindName(n.Kind))
		}
	default: // wrappers: the wrapped value itself
		d.single(md.Fields().ByNumber(1), i, path, depth)
	}
}
