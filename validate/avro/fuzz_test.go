package avro_test

import (
	"bytes"
	"encoding/hex"
	"testing"

	"github.com/eventguard/eventguard/internal/jsonvalue"
)

// FuzzDecode feeds arbitrary bytes to Decode against a schema using every
// type: it must never panic, and whatever decodes must be strict JSON that
// encodes and decodes again to the same JSON.
func FuzzDecode(f *testing.F) {
	s := compile(f, readFile(f, "all.avsc"))
	f.Add(encode(f, s, readFile(f, "typical.json")))
	for _, h := range []string{"", "00", "feffffffffffffffff01", "0506020406020800", "ffffffffffffffffff7f"} {
		b, _ := hex.DecodeString(h)
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, payload []byte) {
		js, err := s.Decode(nil, payload)
		if err != nil {
			return
		}
		d, perr := jsonvalue.ParseDoc(js, jsonvalue.Limits{})
		if perr != nil {
			t.Fatalf("decoded JSON does not parse: %v\n%s", perr, js)
		}
		bin, viol := s.Encode(nil, d)
		if len(viol) > 0 {
			t.Fatalf("decoded JSON does not encode: %+v\n%s", viol, js)
		}
		again, err := s.Decode(nil, bin)
		if err != nil || !bytes.Equal(again, js) {
			t.Fatalf("round trip differs (%v):\n first %s\n again %s", err, js, again)
		}
	})
}

// FuzzEncode feeds arbitrary JSON to Encode: it must never panic, and what
// encodes must decode to JSON that encodes to the same bytes.
func FuzzEncode(f *testing.F) {
	s := compile(f, readFile(f, "all.avsc"))
	f.Add([]byte(readFile(f, "typical.json")))
	f.Add([]byte(readFile(f, "typical.decoded.json")))
	f.Add([]byte(`{"i":"x"}`))
	f.Fuzz(func(t *testing.T, js []byte) {
		d, err := jsonvalue.ParseDoc(js, jsonvalue.Limits{})
		if err != nil {
			return
		}
		bin, viol := s.Encode(nil, d)
		if len(viol) > 0 {
			return
		}
		out, err := s.Decode(nil, bin)
		if err != nil {
			t.Fatalf("encoded value does not decode: %v\n%s", err, js)
		}
		d2, err := jsonvalue.ParseDoc(out, jsonvalue.Limits{})
		if err != nil {
			t.Fatalf("decoded JSON does not parse: %v", err)
		}
		again, viol := s.Encode(nil, d2)
		if len(viol) > 0 || !bytes.Equal(again, bin) {
			t.Fatalf("re-encoding differs (%+v):\n in  %s\n out %s", viol, js, out)
		}
	})
}
