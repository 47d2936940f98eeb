package jsonvalue

import (
	"bytes"
	"encoding/json"
	"os"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

func readFile(name string) ([]byte, error) { return os.ReadFile(name) }

// benchDocs are the documents of the benchmarks: the example event as sent
// (about 200 bytes) and padded with an attributes object (about 1 KB).
var benchDocs = []struct{ name, file string }{
	{"small", "testdata/valid/pet_weight_updated.json"},
	{"1KB", "testdata/valid/pet_weight_updated_padded.json"},
	// The real-broker benchmark's event: 13 items, many short strings.
	{"orders-1KB", "../../examples/contracts/orders-OrderPlaced/1/valid/large-13-items.json"},
}

func benchEach(b *testing.B, fn func(b *testing.B, data []byte)) {
	for _, d := range benchDocs {
		data, err := readFile(d.file)
		if err != nil {
			b.Fatal(err)
		}
		b.Run("doc="+d.name, func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			fn(b, data)
		})
	}
}

var sink any

func BenchmarkParse(b *testing.B) {
	benchEach(b, func(b *testing.B, data []byte) {
		for b.Loop() {
			v, err := Parse(data, Limits{})
			if err != nil {
				b.Fatal(err)
			}
			sink = v
		}
	})
}

func BenchmarkEncodingJSON(b *testing.B) {
	benchEach(b, func(b *testing.B, data []byte) {
		for b.Loop() {
			dec := json.NewDecoder(bytes.NewReader(data))
			dec.UseNumber()
			var v any
			if err := dec.Decode(&v); err != nil {
				b.Fatal(err)
			}
			sink = v
		}
	})
}

func BenchmarkJSONSchemaUnmarshal(b *testing.B) {
	benchEach(b, func(b *testing.B, data []byte) {
		for b.Loop() {
			v, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
			if err != nil {
				b.Fatal(err)
			}
			sink = v
		}
	})
}

// BenchmarkDoc decodes into a reused Doc: the tape the validators walk.
func BenchmarkDoc(b *testing.B) {
	benchEach(b, func(b *testing.B, data []byte) {
		var d Doc
		for b.Loop() {
			if err := d.Parse(data, Limits{}); err != nil {
				b.Fatal(err)
			}
		}
	})
}
