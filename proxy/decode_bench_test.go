package proxy

import (
	"bytes"
	"fmt"
	"os"
	"testing"

	"github.com/eventguard/eventguard/internal/jsonvalue"
)

// decodeBenchBody is n records of the ~1 KB OrderPlaced example; with
// skipped, each value ends in a duplicate key, so the strict parse refuses
// it at its last byte and the decoder skips it by brackets instead.
func decodeBenchBody(b *testing.B, n int, skipped bool) []byte {
	b.Helper()
	v, err := os.ReadFile("../examples/contracts/orders-OrderPlaced/1/valid/large-13-items.json")
	if err != nil {
		b.Fatal(err)
	}
	v = bytes.TrimSpace(v)
	if skipped {
		v = append(v[:len(v)-1:len(v)-1], `,"tenant_id":"x"}`...)
	}
	var buf bytes.Buffer
	buf.WriteString(`{"records":[`)
	for i := 0; i < n; i++ {
		if i > 0 {
			buf.WriteByte(',')
		}
		fmt.Fprintf(&buf, `{"key":"order-%d","value":%s,"schema_version":1}`, i, v)
	}
	buf.WriteString(`]}`)
	return buf.Bytes()
}

// BenchmarkDecodeRequest: the envelope decoder alone on 100 records of ~1 KB,
// values strictly decoded where they stand (valid) or refused by the strict
// parse and skipped by brackets (skipped).
func BenchmarkDecodeRequest(b *testing.B) {
	for _, skipped := range []bool{false, true} {
		name := "valid"
		if skipped {
			name = "skipped"
		}
		b.Run(name, func(b *testing.B) {
			body := decodeBenchBody(b, 100, skipped)
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			for b.Loop() {
				req, msg := decodeRequest(body)
				if msg != "" {
					b.Fatal(msg)
				}
				for i := range req.Records {
					if d := req.Records[i].Doc; d != nil {
						jsonvalue.PutDoc(d)
					} else if !skipped {
						b.Fatal("a valid value was not decoded")
					}
				}
			}
		})
	}
}

// BenchmarkSkipValue: finding the end of a ~1 KB value by its brackets
// alone (what the decoder does with a value the strict parse refused).
func BenchmarkSkipValue(b *testing.B) {
	v, err := os.ReadFile("../examples/contracts/orders-OrderPlaced/1/valid/large-13-items.json")
	if err != nil {
		b.Fatal(err)
	}
	v = bytes.TrimSpace(v)
	b.SetBytes(int64(len(v)))
	b.ReportAllocs()
	d := &reqDecoder{b: v, s: string(v)}
	for b.Loop() {
		d.i = 0
		if err := d.skip(where{rec: 0}); err != nil || d.i != len(v) {
			b.Fatal(err)
		}
	}
}
