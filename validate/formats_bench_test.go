package validate_test

import (
	"testing"

	"github.com/eventguard/eventguard/internal/jsonvalue"
)

// BenchmarkFormats measures the per-record cost of the same ~1 KB JSON
// event (orders-OrderPlaced's 13-item golden) through each engine:
// "encode" is EncodeDoc of a decoded value (validate, and write the
// payload: the JSON itself, Avro binary, or the Protobuf message), "parse+encode"
// adds the strict decode of the JSON, as produce does; "decode" is
// DecodeDoc of the payload (check it, render JSON, decode that into a doc),
// as consume does.
func BenchmarkFormats(b *testing.B) {
	r := formatsResolver(b)
	raw := []byte(example(b, "orders-OrderPlaced/1/valid/large-13-items.json"))
	for _, c := range []struct{ name, subject string }{
		{"json-schema", "orders-OrderPlaced"},
		{"avro", "orders-avro"},
		{"protobuf", "orders-proto"},
	} {
		s := schemaOf(b, r, c.subject)
		doc := parsed(b, string(raw))
		payload, f := s.EncodeDoc(nil, doc, raw, "")
		if f != nil {
			b.Fatalf("%s: %s", c.name, f.Message)
		}
		buf := make([]byte, 0, 4096)
		b.Run(c.name+"/encode", func(b *testing.B) {
			b.SetBytes(int64(len(raw)))
			b.ReportAllocs()
			for b.Loop() {
				if _, f := s.EncodeDoc(buf[:0], doc, raw, ""); f != nil {
					b.Fatal(f)
				}
			}
		})
		b.Run(c.name+"/parse+encode", func(b *testing.B) {
			b.SetBytes(int64(len(raw)))
			b.ReportAllocs()
			for b.Loop() {
				d := jsonvalue.GetDoc()
				if err := d.Parse(raw, jsonvalue.Limits{}); err != nil {
					b.Fatal(err)
				}
				if _, f := s.EncodeDoc(buf[:0], d, raw, ""); f != nil {
					b.Fatal(f)
				}
				jsonvalue.PutDoc(d)
			}
		})
		b.Run(c.name+"/decode", func(b *testing.B) {
			b.SetBytes(int64(len(raw)))
			b.ReportAllocs()
			for b.Loop() {
				d := jsonvalue.GetDoc()
				if _, f := s.DecodeDoc(buf[:0], payload, d); f != nil {
					b.Fatal(f)
				}
				jsonvalue.PutDoc(d)
			}
		})
		b.Logf("%s: %d bytes of JSON, payload %d bytes", c.name, len(raw), len(payload))
	}
}
