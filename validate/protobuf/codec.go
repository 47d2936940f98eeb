package protobuf

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"buf.build/go/protovalidate"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/dynamicpb"

	"github.com/eventguard/eventguard/internal/jsonvalue"
)

// Violation keywords beyond protovalidate's rule ids, which are used as
// they are ("string.min_len", "int32.gt", ...). They never change silently.
const (
	// KeywordMessageType: the record names no message of the schema.
	KeywordMessageType = "message_type"
	// KeywordUnknownField: a JSON member names no field; on decode, the
	// binary holds a field number the message does not declare.
	KeywordUnknownField = "unknown_field"
	// KeywordType: a JSON value of the wrong kind for its field.
	KeywordType = "type"
	// KeywordRange: a number out of its field's range or not an integer.
	KeywordRange = "range"
	// KeywordEnum: a name or number that is not a value of the enum.
	KeywordEnum = "enum"
	// KeywordFormat: a string that does not parse as its field needs
	// (base64 bytes, a Timestamp, a Duration, a FieldMask, a 64-bit integer).
	KeywordFormat = "format"
	// KeywordOneof: two fields of one oneof are set.
	KeywordOneof = "oneof"
	// KeywordDuplicateField: a field is given twice (JSON name and proto
	// name).
	KeywordDuplicateField = "duplicate_field"
	// KeywordProtoJSON: protojson refused the value for a reason the
	// walk above did not name (the message says it).
	KeywordProtoJSON = "protojson"
	// KeywordRequired: a proto2 required field is missing.
	KeywordRequired = "required"
)

// MaxViolations bounds the violations reported for one value.
const MaxViolations = 100

// recursionLimit bounds message nesting on decode, so that the JSON
// rendering stays within jsonvalue's default depth (128).
const recursionLimit = 60

// Violation is one reason a value does not fit the schema.
type Violation struct {
	// Path is the RFC 6901 JSON pointer of the value: the members as the
	// JSON named them on encode, proto field names on decode and for
	// buf.validate rules.
	Path    string
	Keyword string
	Message string
}

// DecodeError is a payload that is not a message of the schema in
// Confluent's Protobuf wire format (after the 5-byte header).
type DecodeError struct {
	Msg string
}

// Error says what is wrong.
func (e *DecodeError) Error() string { return e.Msg }

var (
	unmarshalJSON = protojson.UnmarshalOptions{}
	marshalJSON   = protojson.MarshalOptions{UseProtoNames: true, EmitDefaultValues: true}
	marshalBinary = proto.MarshalOptions{Deterministic: true}
)

// Encode checks raw, the JSON text of one message (doc is its strict
// decode), against the message msgType names ("" = the first of the file),
// and appends the Confluent Protobuf payload to dst: the message-index
// array, then the message's binary encoding (deterministic: map entries
// sorted). JSON is read by protojson's rules (field JSON names or proto
// names, enums by name or number, 64-bit integers as numbers or strings,
// bytes as base64, the well-known types' JSON forms). buf.validate rules
// are enforced when the schema has them. On violations what was appended
// to dst is meaningless.
func (s *Schema) Encode(dst []byte, doc *jsonvalue.Doc, raw []byte, msgType string) ([]byte, []Violation) {
	m, err := s.message(msgType)
	if err != nil {
		return dst, []Violation{{Keyword: KeywordMessageType, Message: err.Error()}}
	}
	// The fast encoder writes the bytes straight from the tape; rules,
	// when there are any, read the message parsed back from them.
	dst = append(dst, m.indexes...)
	if out, ok := s.fastEncode(dst, doc, m.desc); ok && !s.required {
		if s.validator == nil {
			return out, nil
		}
		msg := dynamicpb.NewMessage(m.desc)
		uo := proto.UnmarshalOptions{AllowPartial: true, Resolver: s.types}
		if err := uo.Unmarshal(out[len(dst):], msg); err == nil {
			if viol := s.check(msg); len(viol) > 0 {
				return dst[:len(dst)-len(m.indexes)], viol
			}
			return out, nil
		}
	}
	return s.encodeProtoJSON(dst, doc, raw, m)
}

// encodeProtoJSON is Encode through protojson, the reference: it decides
// every value the fast encoder gives up on. dst ends with m's indexes.
func (s *Schema) encodeProtoJSON(dst []byte, doc *jsonvalue.Doc, raw []byte, m *message) ([]byte, []Violation) {
	orig := dst[:len(dst)-len(m.indexes)]
	msg := dynamicpb.NewMessage(m.desc)
	opts := unmarshalJSON
	opts.Resolver = s.types
	opts.AllowPartial = !s.required
	if err := opts.Unmarshal(raw, msg); err != nil {
		viol := diagnose(doc, m.desc)
		if len(viol) == 0 {
			viol = []Violation{{Keyword: KeywordProtoJSON, Message: strings.TrimPrefix(err.Error(), "proto: ")}}
		}
		return orig, viol
	}
	if viol := s.check(msg); len(viol) > 0 {
		return orig, viol
	}
	mo := marshalBinary
	mo.AllowPartial = !s.required
	out, err := mo.MarshalAppend(dst, msg)
	if err != nil {
		return orig, []Violation{{Keyword: KeywordRequired, Message: strings.TrimPrefix(err.Error(), "proto: ")}}
	}
	return out, nil
}

// check runs the buf.validate rules over msg.
func (s *Schema) check(msg proto.Message) []Violation {
	if s.validator == nil {
		return nil
	}
	err := s.validator.Validate(msg)
	if err == nil {
		return nil
	}
	var ve *protovalidate.ValidationError
	if !errors.As(err, &ve) {
		return []Violation{{Keyword: "buf.validate", Message: err.Error()}}
	}
	var out []Violation
	for _, v := range ve.Violations {
		if len(out) >= MaxViolations {
			break
		}
		kw := v.Proto.GetRuleId()
		if kw == "" {
			kw = "buf.validate"
		}
		msg := v.Proto.GetMessage()
		if msg == "" {
			msg = "violates " + kw
		}
		out = append(out, Violation{Path: fieldPathPointer(v), Keyword: kw, Message: msg})
	}
	sortViolations(out)
	return out
}

// fieldPathPointer renders a protovalidate field path as a JSON pointer of
// proto field names, indexes and map keys.
func fieldPathPointer(v *protovalidate.Violation) string {
	var b strings.Builder
	for _, el := range v.Proto.GetField().GetElements() {
		b.WriteByte('/')
		b.WriteString(escape(el.GetFieldName()))
		switch {
		case el.HasIndex():
			b.WriteByte('/')
			b.WriteString(strconv.FormatUint(el.GetIndex(), 10))
		case el.HasBoolKey():
			b.WriteByte('/')
			b.WriteString(strconv.FormatBool(el.GetBoolKey()))
		case el.HasIntKey():
			b.WriteByte('/')
			b.WriteString(strconv.FormatInt(el.GetIntKey(), 10))
		case el.HasUintKey():
			b.WriteByte('/')
			b.WriteString(strconv.FormatUint(el.GetUintKey(), 10))
		case el.HasStringKey():
			b.WriteByte('/')
			b.WriteString(escape(el.GetStringKey()))
		}
	}
	return b.String()
}

func escape(tok string) string {
	if !strings.ContainsAny(tok, "~/") {
		return tok
	}
	return strings.NewReplacer("~", "~0", "/", "~1").Replace(tok)
}

func sortViolations(v []Violation) {
	sort.SliceStable(v, func(i, j int) bool { return v[i].Path < v[j].Path })
}

// Decode reads payload, Confluent's Protobuf payload (the message-index
// array, then the message), checks it (buf.validate rules; a field number
// the message does not declare is a violation: the writer used another
// schema than the one its id names) and appends the message's JSON to dst:
// protojson with proto field names, zero-valued fields without presence
// included, compact. A payload that does not parse is a *DecodeError.
func (s *Schema) Decode(dst, payload []byte) ([]byte, []Violation, error) {
	m, n, err := s.readIndexes(payload)
	if err != nil {
		return dst, nil, err
	}
	msg := dynamicpb.NewMessage(m.desc)
	uo := proto.UnmarshalOptions{RecursionLimit: recursionLimit, Resolver: s.types, AllowPartial: !s.required}
	if err := uo.Unmarshal(payload[n:], msg); err != nil {
		return dst, nil, &DecodeError{Msg: fmt.Sprintf("not a %s: %s", m.desc.FullName(), strings.TrimPrefix(err.Error(), "proto: "))}
	}
	var viol []Violation
	unknownFields(msg.ProtoReflect(), "", &viol)
	if len(viol) == 0 {
		viol = s.check(msg)
	}
	if len(viol) > 0 {
		return dst, viol, nil
	}
	js, err := marshalJSON.Marshal(msg)
	if err != nil {
		return dst, nil, &DecodeError{Msg: fmt.Sprintf("render %s as JSON: %v", m.desc.FullName(), err)}
	}
	// protojson varies its white space on purpose; deliver compact JSON.
	var buf bytes.Buffer
	buf.Grow(len(js))
	if err := json.Compact(&buf, js); err != nil {
		return dst, nil, &DecodeError{Msg: fmt.Sprintf("render %s as JSON: %v", m.desc.FullName(), err)}
	}
	return append(dst, buf.Bytes()...), nil, nil
}

// readIndexes reads the message-index array at the start of payload and
// returns the message it names and the array's length in bytes.
func (s *Schema) readIndexes(payload []byte) (*message, int, error) {
	pos := 0
	next := func() (int64, error) {
		var u uint64
		for k := 0; k < 10; k++ {
			if pos >= len(payload) {
				return 0, &DecodeError{Msg: "payload ends inside the message-index array"}
			}
			c := payload[pos]
			pos++
			u |= uint64(c&0x7f) << (7 * k)
			if c < 0x80 {
				return int64(u>>1) ^ -int64(u&1), nil
			}
		}
		return 0, &DecodeError{Msg: "overlong varint in the message-index array"}
	}
	count, err := next()
	if err != nil {
		return nil, 0, err
	}
	if count == 0 {
		return s.messages[0], pos, nil
	}
	if count < 0 || count > maxIndexDepth {
		return nil, 0, &DecodeError{Msg: fmt.Sprintf("message-index array of %d entries (at most %d)", count, maxIndexDepth)}
	}
	msgs := s.file.Messages()
	var md protoreflect.MessageDescriptor
	for k := int64(0); k < count; k++ {
		i, err := next()
		if err != nil {
			return nil, 0, err
		}
		if i < 0 || i >= int64(msgs.Len()) {
			return nil, 0, &DecodeError{Msg: fmt.Sprintf("message index %d out of range (%d messages at that level)", i, msgs.Len())}
		}
		md = msgs.Get(int(i))
		msgs = md.Messages()
	}
	m, ok := s.byName[string(md.FullName())]
	if !ok {
		return nil, 0, &DecodeError{Msg: fmt.Sprintf("message index names %s, a map entry", md.FullName())}
	}
	return m, pos, nil
}

// unknownFields reports fields the binary held that m's descriptor does
// not declare, in m and the messages it holds.
func unknownFields(m protoreflect.Message, path string, out *[]Violation) {
	if len(*out) >= MaxViolations {
		return
	}
	if u := m.GetUnknown(); len(u) > 0 {
		*out = append(*out, Violation{Path: path, Keyword: KeywordUnknownField,
			Message: fmt.Sprintf("%s holds %d bytes of fields it does not declare (the writer used another schema)", m.Descriptor().FullName(), len(u))})
	}
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		p := path + "/" + escape(string(fd.Name()))
		switch {
		case fd.IsList() && fd.Message() != nil:
			l := v.List()
			for i := 0; i < l.Len(); i++ {
				unknownFields(l.Get(i).Message(), p+"/"+strconv.Itoa(i), out)
			}
		case fd.IsMap() && fd.MapValue().Message() != nil:
			v.Map().Range(func(k protoreflect.MapKey, mv protoreflect.Value) bool {
				unknownFields(mv.Message(), p+"/"+escape(k.String()), out)
				return true
			})
		case !fd.IsList() && !fd.IsMap() && fd.Message() != nil:
			unknownFields(v.Message(), p, out)
		}
		return len(*out) < MaxViolations
	})
}

func protodescToProto(fd protoreflect.FileDescriptor) *descriptorpb.FileDescriptorProto {
	return protodesc.ToFileDescriptorProto(fd)
}
