package compat

import (
	"context"
	"fmt"
	"testing"

	"github.com/twmb/franz-go/pkg/sr"

	"github.com/eventguard/eventguard/validate"
)

// memRegistry serves subjects from memory, numbering ids in order of adding.
type memRegistry struct {
	byID  map[int]sr.SubjectSchema
	bySub map[string][]sr.SubjectSchema
}

var _ validate.Registry = (*memRegistry)(nil)

func newMem() *memRegistry {
	return &memRegistry{byID: map[int]sr.SubjectSchema{}, bySub: map[string][]sr.SubjectSchema{}}
}

// add registers schema as the next version of subject.
func (m *memRegistry) add(subject, schema string, refs ...sr.SchemaReference) int {
	id := len(m.byID) + 1
	ss := sr.SubjectSchema{Subject: subject, Version: len(m.bySub[subject]) + 1, ID: id, Schema: sr.Schema{Schema: schema, Type: sr.TypeJSON, References: refs}}
	m.byID[id] = ss
	m.bySub[subject] = append(m.bySub[subject], ss)
	return ss.Version
}

func (m *memRegistry) SchemaByID(_ context.Context, id int) (sr.Schema, error) {
	ss, ok := m.byID[id]
	if !ok {
		return sr.Schema{}, &sr.ResponseError{StatusCode: 404, ErrorCode: 40403, Message: "no schema"}
	}
	return ss.Schema, nil
}

func (m *memRegistry) SchemaByVersion(_ context.Context, subject string, version int) (sr.SubjectSchema, error) {
	vs := m.bySub[subject]
	if version == -1 {
		version = len(vs)
	}
	if version < 1 || version > len(vs) {
		return sr.SubjectSchema{}, &sr.ResponseError{StatusCode: 404, ErrorCode: 40402, Message: fmt.Sprintf("no version %d of %s", version, subject)}
	}
	return vs[version-1], nil
}

func (m *memRegistry) SchemaVersionsByID(_ context.Context, id int) ([]sr.SubjectVersion, error) {
	ss, ok := m.byID[id]
	if !ok {
		return nil, &sr.ResponseError{StatusCode: 404, ErrorCode: 40403, Message: "no schema"}
	}
	return []sr.SubjectVersion{{Subject: ss.Subject, Version: ss.Version}}, nil
}

// compare registers old and new as versions 1 and 2 of subject "s" and
// compares them under level.
func compare(t testing.TB, old, new string, level Level, lenient bool) *Result {
	t.Helper()
	m := newMem()
	m.add("s", old)
	m.add("s", new)
	c := &Checker{Registry: m, Lenient: lenient}
	r, err := c.Compare(context.Background(), "s", 1, 2, level)
	if err != nil {
		t.Fatalf("compare: %v", err)
	}
	// Every printed example is accepted by exactly the version it names.
	res := validate.NewResolver(m, validate.Options{})
	for _, f := range r.Findings {
		if f.Example == nil {
			continue
		}
		acc, err := res.ByVersion(context.Background(), "s", f.AcceptedBy)
		if err != nil {
			t.Fatal(err)
		}
		ref, err := res.ByVersion(context.Background(), "s", f.RefusedBy)
		if err != nil {
			t.Fatal(err)
		}
		if acc.Validate(f.Example) != nil || ref.Validate(f.Example) == nil || f.AcceptedBy == f.RefusedBy {
			t.Errorf("finding %s at %q: example %s is not accepted by version %d and refused by version %d", f.Code, f.Path, f.Example, f.AcceptedBy, f.RefusedBy)
		}
	}
	return r
}
