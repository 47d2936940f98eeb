package validate_test

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/eventguard/eventguard/contracts"
	"github.com/eventguard/eventguard/examples"
	"github.com/eventguard/eventguard/internal/jsonvalue"
	"github.com/eventguard/eventguard/validate"
)

// benchSchema compiles subject version from the example contracts offline
// (contracts.Local: no registry, no network).
func benchSchema(b *testing.B, subject string, version int) *validate.Schema {
	b.Helper()
	sub, err := fs.Sub(examples.Contracts, "contracts")
	if err != nil {
		b.Fatal(err)
	}
	set, err := contracts.Load(sub)
	if err != nil {
		b.Fatal(err)
	}
	local, err := set.Local()
	if err != nil {
		b.Fatal(err)
	}
	s, err := validate.NewResolver(local, validate.Options{}).ByVersion(context.Background(), subject, version)
	if err != nil {
		b.Fatal(err)
	}
	return s
}

func readExample(b *testing.B, path string) []byte {
	b.Helper()
	v, err := os.ReadFile(filepath.Join("..", "examples", "contracts", filepath.FromSlash(path)))
	if err != nil {
		b.Fatal(err)
	}
	return v
}

// BenchmarkValidateExampleEvent measures the per-record validation of the
// hot path: "parse+validate" is Schema.Validate (strict decode, then the
// compiled schema), "validate" is the compiled schema alone over a decoded
// value.
func BenchmarkValidateExampleEvent(b *testing.B) {
	pets := benchSchema(b, "pets-value", 1)
	orders := benchSchema(b, "orders-OrderPlaced", 1)
	typical := readExample(b, "pets-value/1/valid/typical.json")
	// The same event with a long location_hint: about 1 KB.
	long := []byte(strings.Replace(string(typical), `"kitchen bowl"`, `"`+strings.Repeat("kitchen bowl ", 64)+`"`, 1))
	cases := []struct {
		name   string
		schema *validate.Schema
		value  []byte
	}{
		{"pets-value-v1/typical", pets, typical},
		{"pets-value-v1/1KB", pets, long},
		// Numbers, formats, patterns, a registry reference and
		// unevaluatedProperties: the heavier kind of 1 KB event.
		{"orders-OrderPlaced/1KB-13-items", orders, readExample(b, "orders-OrderPlaced/1/valid/large-13-items.json")},
	}
	for _, c := range cases {
		if f := c.schema.Validate(c.value); f != nil {
			b.Fatalf("%s: %s", c.name, f.Message)
		}
		b.Run(c.name+"/parse+validate", func(b *testing.B) {
			b.SetBytes(int64(len(c.value)))
			b.ReportAllocs()
			for b.Loop() {
				if f := c.schema.Validate(c.value); f != nil {
					b.Fatal(f)
				}
			}
		})
		b.Run(c.name+"/validate", func(b *testing.B) {
			doc, err := jsonvalue.ParseDoc(c.value, jsonvalue.Limits{})
			if err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(len(c.value)))
			b.ReportAllocs()
			for b.Loop() {
				if f := c.schema.ValidateDoc(doc); f != nil {
					b.Fatal(f)
				}
			}
		})
	}
}
