// Package protobuf is eventguard's Protobuf engine: it compiles a
// registry's .proto schema text with its Confluent references
// (github.com/bufbuild/protocompile, from memory: nothing is read from
// disk or the network), encodes a JSON value to a message in Confluent's
// Protobuf wire format, and decodes such payloads back to JSON.
//
// JSON in follows protojson's rules (google.golang.org/protobuf): a
// field by its JSON name (lowerCamelCase) or its proto name, enums by name
// or number, 64-bit integers as numbers or strings, bytes as base64,
// null for a field's default, and the well-known types' JSON forms
// (Timestamp and Duration strings, wrappers as their value, Struct, Value,
// ListValue, FieldMask, Any with "@type", Empty). protojson decides what is
// accepted; when it refuses a value, a walk of the decoded JSON names every
// problem by JSON pointer (unknown field, wrong type, bad enum, integer
// range, base64, timestamp, oneof set twice). For protojson's plainest
// forms a fast encoder writes the same bytes straight from the decoded JSON
// tape (fast.go), giving up to protojson on anything else.
//
// JSON out is protojson with proto field names (UseProtoNames: the names
// in the .proto, which CEL rules and buf.validate paths use too), zero
// values of fields without presence written out (EmitDefaultValues), and
// compact: encoding it again gives the same message.
//
// The payload after the 5-byte wire-format header is the message-index
// array (zigzag varints: the count, then the index of the message at each
// nesting level; the single byte 0 stands for [0], the first message) and
// then the message, marshalled deterministically (map entries sorted).
//
// buf.validate field, message and oneof rules (buf.build/go/protovalidate,
// CEL based) are enforced on encode and decode when any of the schema's
// files imports buf/validate/validate.proto; that import's descriptor is
// built in (protovalidate's own), so a registry need not hold it.
package protobuf
