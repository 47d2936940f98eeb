package validate

import (
	"encoding/json"
	"errors"
	"fmt"
	"sync"

	"github.com/twmb/franz-go/pkg/sr"

	"github.com/eventguard/eventguard/internal/jsonvalue"
	"github.com/eventguard/eventguard/validate/avro"
	"github.com/eventguard/eventguard/validate/protobuf"
)

// Format returns the schema's type: sr.TypeJSON, sr.TypeAvro or
// sr.TypeProtobuf. It says what EncodeDoc writes and DecodeDoc reads.
func (s *Schema) Format() sr.SchemaType { return s.format }

// EncodeDoc checks doc, the strict decode of raw (the JSON value the app
// sent), against the schema, and appends to dst the payload that follows
// the 5-byte wire-format header:
//
//   - JSON Schema: raw itself, validated exactly as ValidateDoc does (the
//     fast engine first).
//   - Avro: the Avro binary encoding (validate/avro: unions in the Avro JSON
//     encoding or plain when unambiguous, defaults for missing fields,
//     logical types from their JSON forms).
//   - Protobuf: the message-index array and the message (validate/protobuf:
//     protojson rules, buf.validate rules when the schema imports them).
//     msgType names the message, fully qualified or by a simple name unique
//     in the file; "" is the file's first message. Other formats ignore it.
//
// On failure it returns dst unchanged (its spare capacity may have been
// written) and a schema_violation *Failure with every violation found,
// each with a JSON pointer into the JSON sent.
func (s *Schema) EncodeDoc(dst []byte, doc *jsonvalue.Doc, raw []byte, msgType string) ([]byte, *Failure) {
	switch s.format {
	case sr.TypeAvro:
		out, viol := s.avro.Encode(dst, doc)
		if len(viol) > 0 {
			return dst, s.avroFailure(viol)
		}
		return out, nil
	case sr.TypeProtobuf:
		out, viol := s.proto.Encode(dst, doc, raw, msgType)
		if len(viol) > 0 {
			return dst, s.protoFailure(viol)
		}
		return out, nil
	}
	if f := s.ValidateDoc(doc); f != nil {
		return dst, f
	}
	return append(dst, raw...), nil
}

// DecodeDoc checks payload (what follows the wire-format header of a
// consumed record), decodes its JSON form into doc (so that rules can read
// it), and returns the JSON text to deliver:
//
//   - JSON Schema: payload itself (not copied), validated as Validate does;
//     JSON that does not parse is malformed_json.
//   - Avro: the JSON rendering (the form EncodeDoc accepts) appended to
//     dst; bytes that do not decode are malformed_payload, a decoded value
//     its logical type forbids (a bad uuid, a decimal over its precision)
//     schema_violation.
//   - Protobuf: the protojson rendering (proto field names, zero values
//     written) appended to dst; bytes that do not decode are
//     malformed_payload; fields the message does not declare and broken
//     buf.validate rules are schema_violation.
//
// On failure it returns dst unchanged and the *Failure; doc is then empty.
func (s *Schema) DecodeDoc(dst []byte, payload []byte, doc *jsonvalue.Doc) ([]byte, *Failure) {
	switch s.format {
	case sr.TypeAvro:
		out, err := s.avro.Decode(dst, payload)
		if err != nil {
			var de *avro.DecodeError
			if errors.As(err, &de) && !de.Malformed {
				return dst, s.avroFailure([]avro.Violation{{Path: de.Path, Keyword: de.Keyword, Message: de.Msg}})
			}
			return dst, s.malformedPayload(err)
		}
		return s.parseRendered(dst, out, doc)
	case sr.TypeProtobuf:
		out, viol, err := s.proto.Decode(dst, payload)
		if err != nil {
			return dst, s.malformedPayload(err)
		}
		if len(viol) > 0 {
			return dst, s.protoFailure(viol)
		}
		return s.parseRendered(dst, out, doc)
	}
	if err := doc.Parse(payload, s.limits); err != nil {
		return dst, Malformed(err)
	}
	if f := s.ValidateDoc(doc); f != nil {
		doc.Nodes = doc.Nodes[:0]
		return dst, f
	}
	return payload, nil
}

// parseRendered decodes the JSON rendering out[len(dst):] into doc.
func (s *Schema) parseRendered(dst, out []byte, doc *jsonvalue.Doc) ([]byte, *Failure) {
	if err := doc.Parse(out[len(dst):], s.limits); err != nil {
		// Beyond the configured JSON limits (depth, number literals).
		return dst, s.malformedPayload(fmt.Errorf("its JSON rendering is refused: %w", err))
	}
	return out, nil
}

func (s *Schema) malformedPayload(err error) *Failure {
	return &Failure{
		Code:       CodeMalformedPayload,
		Message:    fmt.Sprintf("payload is not %s of %s version %d: %v", formatName(s.format), s.Subject, s.Version, err),
		Violations: []Violation{{Keyword: "malformed", Message: err.Error()}},
	}
}

func formatName(t sr.SchemaType) string {
	switch t {
	case sr.TypeAvro:
		return "Avro"
	case sr.TypeProtobuf:
		return "Protobuf"
	}
	return "JSON"
}

func (s *Schema) avroFailure(viol []avro.Violation) *Failure {
	out := make([]Violation, len(viol))
	for i, v := range viol {
		out[i] = Violation(v)
	}
	return violationFailure(s.Subject, s.Version, out)
}

func (s *Schema) protoFailure(viol []protobuf.Violation) *Failure {
	out := make([]Violation, len(viol))
	for i, v := range viol {
		out[i] = Violation(v)
	}
	return violationFailure(s.Subject, s.Version, out)
}

var scratchPool = sync.Pool{New: func() any { return new([]byte) }}

// validateOther checks doc against an Avro or Protobuf schema by encoding
// it into scratch. raw is doc's JSON text when the caller has it.
func (s *Schema) validateOther(doc *jsonvalue.Doc, raw []byte) *Failure {
	if s.format == sr.TypeProtobuf && raw == nil && len(doc.Nodes) > 0 {
		var err error
		if raw, err = json.Marshal(doc.Value(0)); err != nil {
			return Malformed(err)
		}
	}
	buf := scratchPool.Get().(*[]byte)
	out, f := s.EncodeDoc((*buf)[:0], doc, raw, "")
	if cap(out) <= 64<<10 {
		*buf = out[:0]
		scratchPool.Put(buf)
	}
	return f
}
