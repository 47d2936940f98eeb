package protobuf_test

import (
	"bytes"
	"testing"

	"github.com/eventguard/eventguard/internal/jsonvalue"
)

// FuzzDecode feeds arbitrary payloads to Decode: it must never panic, and
// what decodes without violations must be JSON that encodes to a payload
// decoding to the same JSON.
func FuzzDecode(f *testing.F) {
	s := orderSchema(f)
	seed, _ := encode(f, s, readFile(f, "order.json"), "")
	f.Add(seed)
	f.Add([]byte{0x02, 0x02, 0x0a, 0x01, 'x'})
	f.Add([]byte{0x04, 0x00, 0x00, 0x0a, 0x01, 'x', 0x10, 0x01})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, payload []byte) {
		js, viol, err := s.Decode(nil, payload)
		if err != nil || len(viol) > 0 {
			return
		}
		d, perr := jsonvalue.ParseDoc(js, jsonvalue.Limits{})
		if perr != nil {
			t.Fatalf("decoded JSON does not parse: %v\n%s", perr, js)
		}
		// The message the payload names, by its index array.
		again, viol := s.Encode(nil, d, js, messageNamed(s, payload))
		if len(viol) > 0 {
			t.Fatalf("decoded JSON does not encode: %+v\n%s", viol, js)
		}
		js2, viol, err := s.Decode(nil, again)
		if err != nil || len(viol) > 0 || !bytes.Equal(js, js2) {
			t.Fatalf("round trip differs (%v %+v):\n first %s\n again %s", err, viol, js, js2)
		}
	})
}

// messageNamed returns the full name of the message payload's index array
// names, by decoding the array the way the schema does.
func messageNamed(s interface{ MessageNames() []string }, payload []byte) string {
	names := s.MessageNames()
	switch {
	case len(payload) == 0 || payload[0] == 0:
		return names[0]
	case bytes.HasPrefix(payload, []byte{0x02, 0x02}):
		return "acme.orders.v1.OrderCancelled"
	case bytes.HasPrefix(payload, []byte{0x04, 0x00, 0x00}):
		return "acme.orders.v1.OrderPlaced.Item"
	}
	return ""
}

// FuzzEncode feeds arbitrary JSON to Encode: it must never panic, and what
// encodes must decode to JSON that encodes to the same payload.
func FuzzEncode(f *testing.F) {
	s := orderSchema(f)
	f.Add([]byte(readFile(f, "order.json")))
	f.Add([]byte(readFile(f, "order.decoded.json")))
	f.Add([]byte(`{"tenant_id":1}`))
	f.Add([]byte(`{"order_type":2,"table":0,"tip":0,"labels":{"z":"","a":"b"},"signature":"AAEC","items":[{"sku":"x","quantity":"7"}]}`))
	f.Add([]byte(`{"occurred_at":"2026-11-02T12:30:00.123456789-07:00","cash_register":"","items":[{},{"unit_price":{"minor_units":-1}}]}`))
	f.Fuzz(func(t *testing.T, js []byte) {
		d, err := jsonvalue.ParseDoc(js, jsonvalue.Limits{})
		if err != nil {
			return
		}
		// The fast encoder writes what protojson + proto.Marshal write,
		// or gives up; it never accepts what protojson refuses.
		fast, ok, ref, refOK := s.EncodeBoth(d, js, "")
		if ok && (!refOK || !bytes.Equal(fast, ref)) {
			t.Fatalf("fast encoder differs from protojson (protojson accepts: %v):\n fast %x\n ref  %x\n%s", refOK, fast, ref, js)
		}
		payload, viol := s.Encode(nil, d, js, "")
		if len(viol) > 0 {
			return
		}
		out, viol, err := s.Decode(nil, payload)
		if err != nil || len(viol) > 0 {
			t.Fatalf("encoded value does not decode: %v %+v\n%s", err, viol, js)
		}
		d2, err := jsonvalue.ParseDoc(out, jsonvalue.Limits{})
		if err != nil {
			t.Fatalf("decoded JSON does not parse: %v", err)
		}
		again, viol := s.Encode(nil, d2, out, "")
		if len(viol) > 0 || !bytes.Equal(again, payload) {
			t.Fatalf("re-encoding differs (%+v):\n in  %s\n out %s", viol, js, out)
		}
	})
}
