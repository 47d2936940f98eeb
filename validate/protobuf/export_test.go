package protobuf

import (
	"google.golang.org/protobuf/types/dynamicpb"

	"github.com/eventguard/eventguard/internal/jsonvalue"
)

// EncodeBoth encodes with the fast encoder (ok false when it gives up) and
// with protojson + proto.Marshal (refOK false when protojson refuses),
// without buf.validate rules, for differential tests.
func (s *Schema) EncodeBoth(doc *jsonvalue.Doc, raw []byte, msgType string) (fast []byte, ok bool, ref []byte, refOK bool) {
	m, err := s.message(msgType)
	if err != nil {
		panic(err)
	}
	fast, ok = s.fastEncode(nil, doc, m.desc)
	msg := dynamicpb.NewMessage(m.desc)
	opts := unmarshalJSON
	opts.Resolver = s.types
	opts.AllowPartial = true
	if err := opts.Unmarshal(raw, msg); err != nil {
		return fast, ok, nil, false
	}
	mo := marshalBinary
	mo.AllowPartial = true
	ref, err = mo.Marshal(msg)
	return fast, ok, ref, err == nil
}
