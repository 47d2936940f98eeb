package avro

import (
	"context"
	"fmt"
	"strings"
	"testing"

	havro "github.com/hamba/avro/v2"
	"github.com/twmb/franz-go/pkg/sr"

	"github.com/eventguard/eventguard/compat"
)

// memRegistry serves Avro subjects from memory.
type memRegistry struct {
	bySub map[string][]sr.SubjectSchema
	n     int
}

func (m *memRegistry) add(subject, schema string, refs ...sr.SchemaReference) {
	if m.bySub == nil {
		m.bySub = map[string][]sr.SubjectSchema{}
	}
	m.n++
	m.bySub[subject] = append(m.bySub[subject], sr.SubjectSchema{Subject: subject, Version: len(m.bySub[subject]) + 1, ID: m.n,
		Schema: sr.Schema{Schema: schema, Type: sr.TypeAvro, References: refs}})
}

func (m *memRegistry) SchemaByID(context.Context, int) (sr.Schema, error) {
	return sr.Schema{}, fmt.Errorf("not used")
}

func (m *memRegistry) SchemaByVersion(_ context.Context, subject string, v int) (sr.SubjectSchema, error) {
	vs := m.bySub[subject]
	if v < 1 || v > len(vs) {
		return sr.SubjectSchema{}, &sr.ResponseError{StatusCode: 404, Message: "not found"}
	}
	return vs[v-1], nil
}

func (m *memRegistry) SchemaVersionsByID(context.Context, int) ([]sr.SubjectVersion, error) {
	return nil, fmt.Errorf("not used")
}

func rec(fields string) string {
	return `{"type":"record","name":"Payment","namespace":"pos","fields":[` + fields + `]}`
}

var cases = []struct {
	name      string
	old, new  string
	back, fwd string // "ok" or "code@path"
}{
	{"unchanged", rec(`{"name":"id","type":"string"}`), rec(`{"name":"id","type":"string"}`), "ok", "ok"},
	{"field added with default", rec(`{"name":"id","type":"string"}`), rec(`{"name":"id","type":"string"},{"name":"note","type":"string","default":""}`), "ok", "ok"},
	{"field added without default", rec(`{"name":"id","type":"string"}`), rec(`{"name":"id","type":"string"},{"name":"note","type":"string"}`), "field_added_without_default@/note", "ok"},
	{"field removed without default", rec(`{"name":"id","type":"string"},{"name":"note","type":"string"}`), rec(`{"name":"id","type":"string"}`), "ok", "field_removed_without_default@/note"},
	{"int promoted to long", rec(`{"name":"n","type":"int"}`), rec(`{"name":"n","type":"long"}`), "ok", "type_widened@/n"},
	{"long narrowed to int", rec(`{"name":"n","type":"long"}`), rec(`{"name":"n","type":"int"}`), "type_narrowed@/n", "ok"},
	{"string to int", rec(`{"name":"n","type":"string"}`), rec(`{"name":"n","type":"int"}`), "type_changed@/n", "type_changed@/n"},
	{"string and bytes", rec(`{"name":"n","type":"string"}`), rec(`{"name":"n","type":"bytes"}`), "ok", "ok"},
	{"enum symbol removed", rec(`{"name":"s","type":{"type":"enum","name":"S","symbols":["A","B"]}}`), rec(`{"name":"s","type":{"type":"enum","name":"S","symbols":["A"]}}`), "enum_symbol_removed@/s", "ok"},
	{"enum symbol added", rec(`{"name":"s","type":{"type":"enum","name":"S","symbols":["A"]}}`), rec(`{"name":"s","type":{"type":"enum","name":"S","symbols":["A","B"]}}`), "ok", "enum_symbol_added@/s"},
	{"enum symbol added, reader default", rec(`{"name":"s","type":{"type":"enum","name":"S","symbols":["A","Z"],"default":"Z"}}`), rec(`{"name":"s","type":{"type":"enum","name":"S","symbols":["A","B","Z"],"default":"Z"}}`), "ok", "ok"},
	{"union branch removed", rec(`{"name":"v","type":["null","string","int"]}`), rec(`{"name":"v","type":["null","string"]}`), "union_branch_removed@/v", "ok"},
	{"made nullable", rec(`{"name":"v","type":"string"}`), rec(`{"name":"v","type":["null","string"],"default":null}`), "ok", "union_branch_added@/v"},
	{"record renamed", rec(`{"name":"id","type":"string"}`), `{"type":"record","name":"Charge","namespace":"pos","fields":[{"name":"id","type":"string"}]}`, "name_changed@", "name_changed@"},
	{"record renamed with alias", rec(`{"name":"id","type":"string"}`), `{"type":"record","name":"Charge","namespace":"pos","aliases":["pos.Payment"],"fields":[{"name":"id","type":"string"}]}`, "ok", "name_changed@"},
	{"fixed size changed", rec(`{"name":"h","type":{"type":"fixed","name":"H","size":16}}`), rec(`{"name":"h","type":{"type":"fixed","name":"H","size":32}}`), "fixed_size_changed@/h", "fixed_size_changed@/h"},
	{"array items narrowed", rec(`{"name":"xs","type":{"type":"array","items":"long"}}`), rec(`{"name":"xs","type":{"type":"array","items":"int"}}`), "type_narrowed@/xs/0", "ok"},
	{"map values changed", rec(`{"name":"m","type":{"type":"map","values":"string"}}`), rec(`{"name":"m","type":{"type":"map","values":"boolean"}}`), "type_changed@/m/key", "type_changed@/m/key"},
	{"nested record field", rec(`{"name":"amount","type":{"type":"record","name":"Money","fields":[{"name":"units","type":"long"}]}}`), rec(`{"name":"amount","type":{"type":"record","name":"Money","fields":[{"name":"units","type":"long"},{"name":"currency","type":"string"}]}}`), "field_added_without_default@/amount/currency", "ok"},
	{"recursive type", `{"type":"record","name":"Node","fields":[{"name":"v","type":"int"},{"name":"next","type":["null","Node"]}]}`, `{"type":"record","name":"Node","fields":[{"name":"v","type":"long"},{"name":"next","type":["null","Node"]}]}`, "ok", "type_widened@/v"},
}

func TestRules(t *testing.T) {
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m := &memRegistry{}
			m.add("s", tc.old)
			m.add("s", tc.new)
			for _, d := range []struct {
				level compat.Level
				want  string
			}{{compat.Backward, tc.back}, {compat.Forward, tc.fwd}} {
				r, err := (&compat.Checker{Registry: m, Engines: map[sr.SchemaType]compat.Engine{sr.TypeAvro: Engine{}}}).Compare(context.Background(), "s", 1, 2, d.level)
				if err != nil {
					t.Fatal(err)
				}
				// hamba/avro's own verdict agrees.
				o, _ := havro.Parse(tc.old)
				n, _ := havro.Parse(tc.new)
				writer, reader := o, n
				if d.level == compat.Forward {
					writer, reader = n, o
				}
				if hamba := havro.NewSchemaCompatibility().Compatible(reader, writer) == nil; hamba != r.Compatible {
					t.Errorf("%s: eventguard compatible=%v, hamba/avro compatible=%v", d.level, r.Compatible, hamba)
				}
				if d.want == "ok" {
					if !r.Compatible {
						t.Errorf("%s: want compatible, got %+v", d.level, r.Findings)
					}
					continue
				}
				code, path, _ := strings.Cut(d.want, "@")
				var got *compat.Finding
				for i, f := range r.Findings {
					if f.Code == code && f.Path == path {
						got = &r.Findings[i]
					}
				}
				if got == nil {
					t.Errorf("%s: want %s, got %+v", d.level, d.want, r.Findings)
					continue
				}
				if got.Example == nil && code != CodeNameChanged {
					t.Errorf("%s: %s has no proven example (%s)", d.level, d.want, got.Note)
				}
				if got.Example != nil && got.AcceptedBy == got.RefusedBy {
					t.Errorf("%s: example %s accepted and refused by the same version", d.level, got.Example)
				}
			}
			// The proof: a writer document the reader cannot read exists
			// exactly when the pair is incompatible.
			o, _ := havro.Parse(tc.old)
			n, _ := havro.Parse(tc.new)
			c := &checker{wholeWriter: o, wholeReader: n}
			if c.proves(samples(o, 0)[0]) != (tc.back != "ok") {
				t.Errorf("BACKWARD proof of a sample document disagrees with the verdict")
			}
		})
	}
}

// TestReferences: named types defined in a referenced subject resolve.
func TestReferences(t *testing.T) {
	m := &memRegistry{}
	m.add("money", `{"type":"record","name":"Money","namespace":"pos","fields":[{"name":"units","type":"long"}]}`)
	ref := sr.SchemaReference{Name: "pos.Money", Subject: "money", Version: 1}
	m.add("s", rec(`{"name":"amount","type":"pos.Money"}`), ref)
	m.add("s", rec(`{"name":"amount","type":"pos.Money"},{"name":"tip","type":"pos.Money"}`), ref)
	r, err := (&compat.Checker{Registry: m, Engines: map[sr.SchemaType]compat.Engine{sr.TypeAvro: Engine{}}}).Compare(context.Background(), "s", 1, 2, compat.Backward)
	if err != nil {
		t.Fatal(err)
	}
	if r.Compatible || len(r.Findings) != 1 || r.Findings[0].Code != CodeFieldAddedNoDefault || r.Findings[0].Path != "/tip" {
		t.Fatalf("%+v", r)
	}
}
