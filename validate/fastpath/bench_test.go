package fastpath_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/eventguard/eventguard/internal/jsonvalue"
	"github.com/eventguard/eventguard/validate"
	"github.com/eventguard/eventguard/validate/fastpath"
)

// BenchmarkEngines compares the reference (jsonschema v6) with the fast
// engine on the cases of validate's BenchmarkValidateExampleEvent, over
// the same decoded values (validate-only), in one run:
//
//	go test ./validate/fastpath -run '^$' -bench . -count 5
func BenchmarkEngines(b *testing.B) {
	for _, c := range benchCases(b) {
		doc, err := jsonvalue.Parse(c.value, jsonvalue.Limits{})
		if err != nil {
			b.Fatal(err)
		}
		tape, err := jsonvalue.ParseDoc(c.value, jsonvalue.Limits{})
		if err != nil {
			b.Fatal(err)
		}
		if c.e.fast.Check(tape) != fastpath.Valid || c.e.ref.Validate(doc) != nil {
			b.Fatalf("%s: not valid on both engines", c.name)
		}
		b.Run(c.name+"/engine=reference", func(b *testing.B) {
			b.SetBytes(int64(len(c.value)))
			b.ReportAllocs()
			for b.Loop() {
				if err := c.e.ref.Validate(doc); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(c.name+"/engine=fast", func(b *testing.B) {
			b.SetBytes(int64(len(c.value)))
			b.ReportAllocs()
			for b.Loop() {
				if !c.e.fast.Valid(tape) {
					b.Fatal("invalid")
				}
			}
		})
	}
}

// BenchmarkSchemaValidate is the hot path as produce runs it:
// validate.Schema.Validate (strict decode, then validation) on the same
// cases, with the fast engine (production) and without it
// (Options.ReferenceOnly).
func BenchmarkSchemaValidate(b *testing.B) {
	_, local := exampleSet(b)
	ctx := context.Background()
	for _, c := range benchCases(b) {
		for _, mode := range []struct {
			name string
			opts validate.Options
		}{{"reference", validate.Options{ReferenceOnly: true}}, {"fast", validate.Options{}}} {
			s, err := validate.NewResolver(local, mode.opts).ByVersion(ctx, c.subject, 1)
			if err != nil {
				b.Fatal(err)
			}
			b.Run(c.name+"/engine="+mode.name, func(b *testing.B) {
				b.SetBytes(int64(len(c.value)))
				b.ReportAllocs()
				for b.Loop() {
					if f := s.Validate(c.value); f != nil {
						b.Fatal(f)
					}
				}
			})
		}
	}
}

type benchCase struct {
	name, subject string
	e             *example
	value         []byte
}

// benchCases are validate's BenchmarkValidateExampleEvent cases.
func benchCases(b *testing.B) []benchCase {
	byName := map[string]*example{}
	for _, ex := range loadExamples(b) {
		byName[ex.name] = ex
	}
	read := func(p string) []byte {
		v, err := os.ReadFile(filepath.Join("..", "..", "examples", "contracts", filepath.FromSlash(p)))
		if err != nil {
			b.Fatal(err)
		}
		return v
	}
	typical := read("pets-value/1/valid/typical.json")
	long := []byte(strings.Replace(string(typical), `"kitchen bowl"`, `"`+strings.Repeat("kitchen bowl ", 64)+`"`, 1))
	return []benchCase{
		{"pets-value-v1/typical", "pets-value", byName["pets-value-v1"], typical},
		{"pets-value-v1/1KB", "pets-value", byName["pets-value-v1"], long},
		{"orders-OrderPlaced/1KB-13-items", "orders-OrderPlaced", byName["orders-OrderPlaced-v1"], read("orders-OrderPlaced/1/valid/large-13-items.json")},
	}
}
