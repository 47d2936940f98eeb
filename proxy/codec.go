package proxy

import (
	"bytes"
	"context"
	"crypto/rand"
	"strconv"
	"unicode/utf8"

	"google.golang.org/grpc"
	"google.golang.org/grpc/encoding"
	grpcproto "google.golang.org/grpc/encoding/proto"
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/protoadapt"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/eventguard/eventguard/produce"
)

// A message the server cannot decode (not protobuf, or a string field that
// is not UTF-8) is the client's mistake: INVALID_ARGUMENT naming what was
// wrong, never grpc-go's INTERNAL. grpc-go sends INTERNAL itself, from
// inside RecvMsg, for any error of the codec, before a handler or an
// interceptor could map it. So the server's codec (messageCodec) does not
// fail: it leaves the message empty but for a mark in its unknown fields
// saying what was wrong, and interceptors (checkedUnary, checkedStreams)
// answer a marked message with INVALID_ARGUMENT before any handler sees
// it. The mark carries a per-process random prefix, so a client cannot
// forge one.

// markField is the field number of the mark: the largest valid one.
const markField = protowire.MaxValidNumber

// markPrefix starts a mark's payload.
var markPrefix = func() []byte {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return b
}()

// messageCodec is grpc-go's proto codec marking messages that do not
// decode instead of failing (see above).
type messageCodec struct{ encoding.CodecV2 }

func newMessageCodec() messageCodec {
	return messageCodec{encoding.GetCodecV2(grpcproto.Name)}
}

// Unmarshal decodes data into v. When data is not a v, v is reset and
// marked with the field that was wrong (the first string that is not
// UTF-8) or why the bytes are not the message.
func (c messageCodec) Unmarshal(data mem.BufferSlice, v any) error {
	err := c.CodecV2.Unmarshal(data, v)
	if err == nil {
		return nil
	}
	m := reflectMessage(v)
	if m == nil {
		return err
	}
	md := m.Descriptor()
	field, text := "", "the message is not a valid "+string(md.FullName())+": "+err.Error()
	if f := invalidUTF8Field(md, data.Materialize(), ""); f != "" {
		field, text = f, f+" is not valid UTF-8 (protobuf strings must be)"
	}
	proto.Reset(m.Interface())
	payload := append(append(bytes.Clone(markPrefix), strconv.Quote(field)...), text...)
	m.SetUnknown(protowire.AppendBytes(protowire.AppendTag(nil, markField, protowire.BytesType), payload))
	return nil
}

func reflectMessage(v any) protoreflect.Message {
	switch m := v.(type) {
	case protoreflect.ProtoMessage:
		return m.ProtoReflect()
	case protoadapt.MessageV1:
		return protoadapt.MessageV2Of(m).ProtoReflect()
	}
	return nil
}

// invalidUTF8Field returns the path (records[2].headers[0].key) of the first
// string field in b, a message md in wire format, that is not valid UTF-8,
// or "" when there is none or b is not well-formed.
func invalidUTF8Field(md protoreflect.MessageDescriptor, b []byte, prefix string) string {
	seen := map[protowire.Number]int{}
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return ""
		}
		b = b[n:]
		fd := md.Fields().ByNumber(num)
		if fd == nil || typ != protowire.BytesType || (fd.Kind() != protoreflect.StringKind && fd.Kind() != protoreflect.MessageKind) {
			if n = protowire.ConsumeFieldValue(num, typ, b); n < 0 {
				return ""
			}
			b = b[n:]
			continue
		}
		v, n := protowire.ConsumeBytes(b)
		if n < 0 {
			return ""
		}
		b = b[n:]
		name := prefix + string(fd.Name())
		if fd.IsList() {
			name += "[" + strconv.Itoa(seen[num]) + "]"
			seen[num]++
		}
		if fd.Kind() == protoreflect.StringKind {
			if !utf8.Valid(v) {
				return name
			}
			continue
		}
		if f := invalidUTF8Field(fd.Message(), v, name+"."); f != "" {
			return f
		}
	}
	return ""
}

// decodeFailure returns the INVALID_ARGUMENT (malformed_request) status of
// a message messageCodec marked, naming the field, or nil.
func decodeFailure(v any) error {
	m := reflectMessage(v)
	if m == nil {
		return nil
	}
	u := m.GetUnknown()
	if len(u) == 0 {
		return nil
	}
	num, typ, n := protowire.ConsumeTag(u)
	if n < 0 || num != markField || typ != protowire.BytesType {
		return nil
	}
	p, n := protowire.ConsumeBytes(u[n:])
	if n < 0 || !bytes.HasPrefix(p, markPrefix) {
		return nil
	}
	rest := string(p[len(markPrefix):])
	q, err := strconv.QuotedPrefix(rest)
	if err != nil {
		return nil
	}
	field, _ := strconv.Unquote(q)
	if field == "" {
		field = "(message)"
	}
	return badField(produce.CodeMalformedRequest, field, rest[len(q):]).Err()
}

// checkedUnary answers a unary call whose request did not decode.
func checkedUnary(ctx context.Context, req any, _ *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	if err := decodeFailure(req); err != nil {
		return nil, err
	}
	return handler(ctx, req)
}

// checkedStreams gives handlers streams whose RecvMsg fails with
// INVALID_ARGUMENT on a message that did not decode.
func checkedStreams(srv any, ss grpc.ServerStream, _ *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
	return handler(srv, checkedStream{ss})
}

type checkedStream struct{ grpc.ServerStream }

// RecvMsg receives m; a message that did not decode is INVALID_ARGUMENT.
func (s checkedStream) RecvMsg(m any) error {
	if err := s.ServerStream.RecvMsg(m); err != nil {
		return err
	}
	return decodeFailure(m)
}
