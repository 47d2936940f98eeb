package protobuf

import (
	"encoding/base64"
	"math"
	"regexp"
	"sort"
	"strconv"
	"time"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/eventguard/eventguard/internal/jsonvalue"
)

// The fast encoder writes a message's wire bytes straight from the decoded
// JSON tape, for the JSON protojson accepts in its plainest forms: fields by
// JSON or proto name, integers as digits, floats as numbers, base64 bytes
// (standard, padded), enums by name or number, nested messages, repeated
// fields (packed where the field is), maps, oneofs, and
// google.protobuf.Timestamp. It writes exactly what proto.Marshal
// (Deterministic) writes for the message protojson would build. Anything
// else, and anything wrong, makes it give up (ok false): protojson then
// decides, and the diagnosing walk explains. FuzzEncode checks the two
// paths agree byte for byte.

// fastMsg is a message prepared for the fast encoder.
type fastMsg struct {
	desc protoreflect.MessageDescriptor
	// order lists the fields in proto.Marshal's deterministic order:
	// fields outside oneofs by number, then oneof members by oneof.
	order []protoreflect.FieldDescriptor
}

// fastMsgs prepares md and the messages its fields hold, once per schema.
func fastMsgs(md protoreflect.MessageDescriptor, into map[protoreflect.FullName]*fastMsg) {
	if _, ok := into[md.FullName()]; ok {
		return
	}
	fm := &fastMsg{desc: md}
	into[md.FullName()] = fm
	fields := md.Fields()
	for i := 0; i < fields.Len(); i++ {
		fm.order = append(fm.order, fields.Get(i))
	}
	inOneof := func(fd protoreflect.FieldDescriptor) bool {
		od := fd.ContainingOneof()
		return od != nil && !od.IsSynthetic()
	}
	sort.SliceStable(fm.order, func(i, j int) bool {
		x, y := fm.order[i], fm.order[j]
		if inOneof(x) != inOneof(y) {
			return !inOneof(x)
		}
		if inOneof(x) && x.ContainingOneof() != y.ContainingOneof() {
			return x.ContainingOneof().Index() < y.ContainingOneof().Index()
		}
		return x.Number() < y.Number()
	})
	for _, fd := range fm.order {
		if m := fd.Message(); m != nil {
			fastMsgs(m, into)
		}
	}
}

type fastEnc struct {
	doc  *jsonvalue.Doc
	msgs map[protoreflect.FullName]*fastMsg
	buf  []byte
	// at holds, per message being encoded, the doc index of each field's
	// value by field index (0: absent), addressed from an offset.
	at []int32
}

// fastEncode appends md's wire encoding of the JSON at doc node i to dst,
// or reports false.
func (s *Schema) fastEncode(dst []byte, doc *jsonvalue.Doc, md protoreflect.MessageDescriptor) ([]byte, bool) {
	if len(doc.Nodes) == 0 {
		return dst, false
	}
	e := fastEnc{doc: doc, msgs: s.fast, buf: dst}
	if !e.message(e.msgs[md.FullName()], 0, 0) {
		return dst, false
	}
	return e.buf, true
}

func (e *fastEnc) message(fm *fastMsg, i int, depth int) bool {
	if fm == nil || depth > recursionLimit {
		return false
	}
	n := &e.doc.Nodes[i]
	if n.Kind != jsonvalue.KindObject || wkt(fm.desc.FullName()) {
		return false
	}
	fields := fm.desc.Fields()
	base := len(e.at)
	for range fields.Len() {
		e.at = append(e.at, 0)
	}
	defer func() { e.at = e.at[:base] }()
	j := i + 1
	for range n.Len {
		key := e.doc.Nodes[j].Str
		vi := j + 1
		j = int(e.doc.Nodes[vi].End)
		fd := fields.ByJSONName(key)
		if fd == nil {
			fd = fields.ByTextName(key)
		}
		if fd == nil || e.at[base+fd.Index()] != 0 {
			return false // unknown, or given twice
		}
		if e.doc.Nodes[vi].Kind == jsonvalue.KindNull {
			if fd.Message() != nil && fd.Message().FullName() == "google.protobuf.Value" ||
				fd.Enum() != nil && fd.Enum().FullName() == "google.protobuf.NullValue" {
				return false
			}
			e.at[base+fd.Index()] = -1 // null: unset, but seen
			continue
		}
		e.at[base+fd.Index()] = int32(vi)
	}
	oneofSet := map[protoreflect.FullName]bool(nil)
	for _, fd := range fm.order {
		vi := int(e.at[base+fd.Index()])
		if vi <= 0 {
			continue
		}
		if od := fd.ContainingOneof(); od != nil && !od.IsSynthetic() {
			if oneofSet == nil {
				oneofSet = map[protoreflect.FullName]bool{}
			}
			if oneofSet[od.FullName()] {
				return false
			}
			oneofSet[od.FullName()] = true
		}
		var ok bool
		switch {
		case fd.IsMap():
			ok = e.mapField(fd, vi, depth)
		case fd.IsList():
			ok = e.listField(fd, vi, depth)
		default:
			ok = e.singular(fd, vi, depth)
		}
		if !ok {
			return false
		}
	}
	return true
}

// singular writes one non-repeated field, skipping a zero value of a field
// without presence as proto.Marshal does.
func (e *fastEnc) singular(fd protoreflect.FieldDescriptor, i int, depth int) bool {
	if fd.Kind() == protoreflect.MessageKind {
		return e.embedded(fd.Number(), fd.Message(), i, depth)
	}
	if fd.Kind() == protoreflect.GroupKind {
		return false
	}
	start := len(e.buf)
	e.buf = protowire.AppendTag(e.buf, fd.Number(), wireType(fd.Kind()))
	zero, ok := e.scalar(fd, i)
	if !ok {
		return false
	}
	if zero && !fd.HasPresence() {
		e.buf = e.buf[:start]
	}
	return true
}

// embedded writes a message field: tag, length, message.
func (e *fastEnc) embedded(num protoreflect.FieldNumber, md protoreflect.MessageDescriptor, i int, depth int) bool {
	e.buf = protowire.AppendTag(e.buf, num, protowire.BytesType)
	lenAt := len(e.buf)
	e.buf = append(e.buf, 0) // one byte of length, moved if longer
	bodyAt := len(e.buf)
	var ok bool
	if md.FullName() == "google.protobuf.Timestamp" {
		ok = e.timestamp(i)
	} else {
		ok = e.message(e.msgs[md.FullName()], i, depth+1)
	}
	if !ok {
		return false
	}
	e.buf = fixLength(e.buf, lenAt, bodyAt)
	return true
}

// fixLength writes the length of buf[bodyAt:] at lenAt, where one byte was
// reserved, moving the body when the varint needs more.
func fixLength(buf []byte, lenAt, bodyAt int) []byte {
	size := len(buf) - bodyAt
	n := protowire.SizeVarint(uint64(size))
	if n > 1 {
		buf = append(buf, make([]byte, n-1)...)
		copy(buf[bodyAt+n-1:], buf[bodyAt:bodyAt+size])
	}
	protowire.AppendVarint(buf[:lenAt], uint64(size))
	return buf
}

func (e *fastEnc) listField(fd protoreflect.FieldDescriptor, i int, depth int) bool {
	n := &e.doc.Nodes[i]
	if n.Kind != jsonvalue.KindArray {
		return false
	}
	if n.Len == 0 {
		return true
	}
	if fd.IsPacked() {
		e.buf = protowire.AppendTag(e.buf, fd.Number(), protowire.BytesType)
		lenAt := len(e.buf)
		e.buf = append(e.buf, 0)
		bodyAt := len(e.buf)
		j := i + 1
		for range n.Len {
			if _, ok := e.scalar(fd, j); !ok {
				return false
			}
			j = int(e.doc.Nodes[j].End)
		}
		e.buf = fixLength(e.buf, lenAt, bodyAt)
		return true
	}
	j := i + 1
	for range n.Len {
		if e.doc.Nodes[j].Kind == jsonvalue.KindNull {
			return false
		}
		if fd.Kind() == protoreflect.MessageKind {
			if !e.embedded(fd.Number(), fd.Message(), j, depth) {
				return false
			}
		} else {
			if fd.Kind() == protoreflect.GroupKind {
				return false
			}
			e.buf = protowire.AppendTag(e.buf, fd.Number(), wireType(fd.Kind()))
			if _, ok := e.scalar(fd, j); !ok {
				return false
			}
		}
		j = int(e.doc.Nodes[j].End)
	}
	return true
}

func (e *fastEnc) mapField(fd protoreflect.FieldDescriptor, i int, depth int) bool {
	n := &e.doc.Nodes[i]
	if n.Kind != jsonvalue.KindObject {
		return false
	}
	kd, vd := fd.MapKey(), fd.MapValue()
	type entry struct {
		key  string
		num  int64 // integer keys, for ordering
		uns  uint64
		bval bool
		vi   int
	}
	entries := make([]entry, 0, n.Len)
	j := i + 1
	for range n.Len {
		key := e.doc.Nodes[j].Str
		vi := j + 1
		j = int(e.doc.Nodes[vi].End)
		if e.doc.Nodes[vi].Kind == jsonvalue.KindNull {
			return false
		}
		en := entry{key: key, vi: vi}
		switch kd.Kind() {
		case protoreflect.StringKind:
		case protoreflect.BoolKind:
			switch key {
			case "true":
				en.bval = true
			case "false":
			default:
				return false
			}
		case protoreflect.Uint32Kind, protoreflect.Fixed32Kind, protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
			u, ok := plainUint(key, bitsOf(kd.Kind()))
			if !ok {
				return false
			}
			en.uns = u
		default:
			x, ok := plainInt(key, bitsOf(kd.Kind()))
			if !ok {
				return false
			}
			en.num = x
		}
		entries = append(entries, en)
	}
	sort.Slice(entries, func(a, b int) bool {
		x, y := entries[a], entries[b]
		switch kd.Kind() {
		case protoreflect.StringKind:
			return x.key < y.key
		case protoreflect.BoolKind:
			return !x.bval && y.bval
		case protoreflect.Uint32Kind, protoreflect.Fixed32Kind, protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
			return x.uns < y.uns
		}
		return x.num < y.num
	})
	for k := 1; k < len(entries); k++ {
		if entries[k].key == entries[k-1].key || kd.Kind() != protoreflect.StringKind && entries[k].num == entries[k-1].num && entries[k].uns == entries[k-1].uns && entries[k].bval == entries[k-1].bval {
			return false // the same key twice ("1" and "01")
		}
	}
	for _, en := range entries {
		e.buf = protowire.AppendTag(e.buf, fd.Number(), protowire.BytesType)
		lenAt := len(e.buf)
		e.buf = append(e.buf, 0)
		bodyAt := len(e.buf)
		// proto.Marshal writes both key and value of an entry, zero or not.
		e.buf = protowire.AppendTag(e.buf, 1, wireType(kd.Kind()))
		switch kd.Kind() {
		case protoreflect.StringKind:
			e.buf = protowire.AppendString(e.buf, en.key)
		case protoreflect.BoolKind:
			e.buf = protowire.AppendVarint(e.buf, protowire.EncodeBool(en.bval))
		case protoreflect.Uint32Kind, protoreflect.Uint64Kind:
			e.buf = protowire.AppendVarint(e.buf, en.uns)
		case protoreflect.Fixed32Kind:
			e.buf = protowire.AppendFixed32(e.buf, uint32(en.uns))
		case protoreflect.Fixed64Kind:
			e.buf = protowire.AppendFixed64(e.buf, en.uns)
		default:
			e.buf = appendInt(e.buf, kd.Kind(), en.num)
		}
		if vd.Kind() == protoreflect.MessageKind {
			if !e.embedded(2, vd.Message(), en.vi, depth) {
				return false
			}
		} else {
			if vd.Kind() == protoreflect.GroupKind {
				return false
			}
			e.buf = protowire.AppendTag(e.buf, 2, wireType(vd.Kind()))
			if _, ok := e.scalar(vd, en.vi); !ok {
				return false
			}
		}
		e.buf = fixLength(e.buf, lenAt, bodyAt)
	}
	return true
}

// scalar appends the value at node i (without a tag) and reports whether
// it is its type's zero value.
func (e *fastEnc) scalar(fd protoreflect.FieldDescriptor, i int) (zero, ok bool) {
	n := &e.doc.Nodes[i]
	k := fd.Kind()
	switch k {
	case protoreflect.BoolKind:
		switch n.Kind {
		case jsonvalue.KindTrue:
			e.buf = append(e.buf, 1)
			return false, true
		case jsonvalue.KindFalse:
			e.buf = append(e.buf, 0)
			return true, true
		}
		return false, false
	case protoreflect.StringKind:
		if n.Kind != jsonvalue.KindString {
			return false, false
		}
		e.buf = protowire.AppendString(e.buf, n.Str)
		return n.Str == "", true
	case protoreflect.BytesKind:
		if n.Kind != jsonvalue.KindString || len(n.Str)%4 != 0 {
			return false, false
		}
		b, err := base64.StdEncoding.DecodeString(n.Str)
		if err != nil {
			return false, false
		}
		e.buf = protowire.AppendBytes(e.buf, b)
		return len(b) == 0, true
	case protoreflect.EnumKind:
		var num int64
		switch n.Kind {
		case jsonvalue.KindString:
			v := fd.Enum().Values().ByName(protoreflect.Name(n.Str))
			if v == nil {
				return false, false
			}
			num = int64(v.Number())
		case jsonvalue.KindNumber:
			x, ok := plainInt(n.Str, 32)
			if !ok || fd.Enum().IsClosed() && fd.Enum().Values().ByNumber(protoreflect.EnumNumber(x)) == nil {
				return false, false
			}
			num = x
		default:
			return false, false
		}
		e.buf = protowire.AppendVarint(e.buf, uint64(num))
		return num == 0, true
	case protoreflect.FloatKind, protoreflect.DoubleKind:
		if n.Kind != jsonvalue.KindNumber {
			return false, false
		}
		bits := bitsOf(k)
		f, err := strconv.ParseFloat(n.Str, bits)
		if err != nil {
			return false, false
		}
		if f == 0 && math.Signbit(f) {
			return false, false // -0: leave it to protojson
		}
		if k == protoreflect.FloatKind {
			e.buf = protowire.AppendFixed32(e.buf, math.Float32bits(float32(f)))
		} else {
			e.buf = protowire.AppendFixed64(e.buf, math.Float64bits(f))
		}
		return f == 0, true
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind, protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		if n.Kind != jsonvalue.KindNumber && n.Kind != jsonvalue.KindString {
			return false, false
		}
		u, ok := plainUint(n.Str, bitsOf(k))
		if !ok {
			return false, false
		}
		switch k {
		case protoreflect.Fixed32Kind:
			e.buf = protowire.AppendFixed32(e.buf, uint32(u))
		case protoreflect.Fixed64Kind:
			e.buf = protowire.AppendFixed64(e.buf, u)
		default:
			e.buf = protowire.AppendVarint(e.buf, u)
		}
		return u == 0, true
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind,
		protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
		if n.Kind != jsonvalue.KindNumber && n.Kind != jsonvalue.KindString {
			return false, false
		}
		x, ok := plainInt(n.Str, bitsOf(k))
		if !ok {
			return false, false
		}
		e.buf = appendInt(e.buf, k, x)
		return x == 0, true
	}
	return false, false
}

func appendInt(b []byte, k protoreflect.Kind, x int64) []byte {
	switch k {
	case protoreflect.Sint32Kind, protoreflect.Sint64Kind:
		return protowire.AppendVarint(b, protowire.EncodeZigZag(x))
	case protoreflect.Sfixed32Kind:
		return protowire.AppendFixed32(b, uint32(x))
	case protoreflect.Sfixed64Kind:
		return protowire.AppendFixed64(b, uint64(x))
	}
	return protowire.AppendVarint(b, uint64(x)) // int32 sign-extends to 10 bytes, as proto.Marshal
}

func wireType(k protoreflect.Kind) protowire.Type {
	switch k {
	case protoreflect.FloatKind, protoreflect.Fixed32Kind, protoreflect.Sfixed32Kind:
		return protowire.Fixed32Type
	case protoreflect.DoubleKind, protoreflect.Fixed64Kind, protoreflect.Sfixed64Kind:
		return protowire.Fixed64Type
	case protoreflect.StringKind, protoreflect.BytesKind, protoreflect.MessageKind:
		return protowire.BytesType
	case protoreflect.GroupKind:
		return protowire.StartGroupType
	}
	return protowire.VarintType
}

func bitsOf(k protoreflect.Kind) int {
	switch k {
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind,
		protoreflect.Uint32Kind, protoreflect.Fixed32Kind, protoreflect.FloatKind:
		return 32
	}
	return 64
}

// plainInt reads "-?digits" (no leading zeros but "0"), the integer form
// protojson surely reads as the same value.
func plainInt(s string, bits int) (int64, bool) {
	if !plainDigits(s, true) {
		return 0, false
	}
	x, err := strconv.ParseInt(s, 10, bits)
	return x, err == nil
}

func plainUint(s string, bits int) (uint64, bool) {
	if !plainDigits(s, false) {
		return 0, false
	}
	u, err := strconv.ParseUint(s, 10, bits)
	return u, err == nil
}

func plainDigits(s string, signed bool) bool {
	if signed && len(s) > 0 && s[0] == '-' {
		s = s[1:]
	}
	if s == "" || len(s) > 20 || s[0] == '0' && len(s) > 1 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// timestampRe is the RFC 3339 form protojson reads without doubt.
var timestampRe = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?(Z|[+-]\d\d:\d\d)$`)

// timestamp writes a google.protobuf.Timestamp's fields (seconds, nanos)
// from its RFC 3339 string.
func (e *fastEnc) timestamp(i int) bool {
	n := &e.doc.Nodes[i]
	if n.Kind != jsonvalue.KindString || !timestampRe.MatchString(n.Str) {
		return false
	}
	t, err := time.Parse(time.RFC3339Nano, n.Str)
	if err != nil || t.Unix() < -62135596800 || t.Unix() > 253402300799 {
		return false
	}
	if sec := t.Unix(); sec != 0 {
		e.buf = protowire.AppendTag(e.buf, 1, protowire.VarintType)
		e.buf = protowire.AppendVarint(e.buf, uint64(sec))
	}
	if ns := t.Nanosecond(); ns != 0 {
		e.buf = protowire.AppendTag(e.buf, 2, protowire.VarintType)
		e.buf = protowire.AppendVarint(e.buf, uint64(int64(ns)))
	}
	return true
}
