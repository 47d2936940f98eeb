package validate_test

import (
	"context"
	"errors"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/sr"
	"github.com/twmb/franz-go/pkg/sr/srfake"

	"github.com/eventguard/eventguard/validate"
)

// listingRegistry counts SchemaVersionsByID calls and can be taken down.
type listingRegistry struct {
	validate.Registry
	lists atomic.Int32
	down  atomic.Bool
}

var errDown = errors.New("dial tcp 127.0.0.1:8081: connect: connection refused")

func (l *listingRegistry) SchemaVersionsByID(ctx context.Context, id int) ([]sr.SubjectVersion, error) {
	if l.down.Load() {
		return nil, errDown
	}
	l.lists.Add(1)
	return l.Registry.SchemaVersionsByID(ctx, id)
}

func (l *listingRegistry) SchemaByID(ctx context.Context, id int) (sr.Schema, error) {
	if l.down.Load() {
		return sr.Schema{}, errDown
	}
	return l.Registry.SchemaByID(ctx, id)
}

// A real registry (Confluent's, Apicurio, srfake alike) gives an identical
// schema registered under another subject the id it already has. A
// resolver that cached the id before that registration must still find it
// under the new subject: ByID with that subject preferred asks the registry
// again (at most once a second per id), RefreshRegistrations lists it, and
// while the registry is down the answer is ErrUnavailable (wait), never a
// label of another subject (which consume dead-letters as wrong_subject
// and produce refuses as schema_not_found).
func TestByIDFindsARegistrationMadeAfterTheIDWasCached(t *testing.T) {
	ctx := context.Background()
	reg := srfake.New()
	defer reg.Close()
	cl, err := sr.NewClient(sr.URLs(reg.URL()))
	if err != nil {
		t.Fatal(err)
	}
	schema := sr.Schema{Type: sr.TypeJSON, Schema: `{"$schema":"http://json-schema.org/draft-07/schema#","type":"object","properties":{"a":{"type":"string"}}}`}
	a, err := cl.CreateSchema(ctx, "a-value", schema)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	lr := &listingRegistry{Registry: cl}
	res := validate.NewResolver(lr, validate.Options{Now: func() time.Time { return now }})

	s, err := res.ByID(ctx, a.ID, "a-value")
	if err != nil || s.Subject != "a-value" {
		t.Fatalf("ByID(%d, a-value) = %v, %v", a.ID, s, err)
	}
	b, err := cl.CreateSchema(ctx, "b-value", schema)
	if err != nil {
		t.Fatal(err)
	}
	if b.ID != a.ID {
		t.Fatalf("the registry gave the same schema under b-value id %d, not %d: this test needs it to reuse the id", b.ID, a.ID)
	}

	// Within a second of the load: the list is fresh, not asked again.
	if s, err := res.ByID(ctx, a.ID, "b-value"); err != nil || s.Subject != "a-value" {
		t.Errorf("ByID(b-value) within a second of the load = %v, %v; want the cached a-value label", s, err)
	}
	if n := lr.lists.Load(); n != 1 {
		t.Errorf("the registry was asked %d times for the id's registrations, want once", n)
	}

	now = now.Add(2 * time.Second)
	s, err = res.ByID(ctx, a.ID, "b-value")
	if err != nil || s.Subject != "b-value" || s.Version != 1 || s.ID != a.ID {
		t.Fatalf("ByID(%d, b-value) after b-value was registered = %+v, %v; want b-value version 1", a.ID, s, err)
	}
	if got := res.Registrations(a.ID); !slices.Contains(got, validate.SubjectVersion{Subject: "b-value", Version: 1}) {
		t.Errorf("Registrations = %v, want b-value listed", got)
	}
	if s, err := res.ByID(ctx, a.ID, "b-value"); err != nil || s.Subject != "b-value" {
		t.Errorf("ByID(b-value) again = %v, %v", s, err)
	}

	// A subject it is not registered under: asked at most once a second.
	now = now.Add(2 * time.Second)
	calls := lr.lists.Load()
	for range 50 {
		if s, err := res.ByID(ctx, a.ID, "c-value"); err != nil || s.Subject == "c-value" {
			t.Fatalf("ByID(c-value) = %v, %v; want a label of a real registration", s, err)
		}
	}
	if n := lr.lists.Load() - calls; n != 1 {
		t.Errorf("50 lookups under a subject that does not hold the id asked the registry %d times, want 1", n)
	}
	now = now.Add(2 * time.Second)
	if regs, err := res.RefreshRegistrations(ctx, a.ID); err != nil || len(regs) != 2 {
		t.Errorf("RefreshRegistrations = %v, %v; want a-value and b-value", regs, err)
	}

	// The registry down: a known label keeps serving; an unknown one is
	// an outage, not a verdict.
	lr.down.Store(true)
	now = now.Add(2 * time.Second)
	if s, err := res.ByID(ctx, a.ID, "b-value"); err != nil || s.Subject != "b-value" {
		t.Errorf("ByID(b-value), registry down = %v, %v; want the cached label", s, err)
	}
	if _, err := res.ByID(ctx, a.ID, "d-value"); !errors.Is(err, validate.ErrUnavailable) {
		t.Errorf("ByID(d-value), registry down: %v, want ErrUnavailable", err)
	}
	if _, err := res.RefreshRegistrations(ctx, a.ID); !errors.Is(err, validate.ErrUnavailable) {
		t.Errorf("RefreshRegistrations, registry down: %v, want ErrUnavailable", err)
	}
	// Never loaded by id: RefreshRegistrations loads it.
	lr.down.Store(false)
	other, err := cl.CreateSchema(ctx, "e-value", sr.Schema{Type: sr.TypeJSON, Schema: `{"$schema":"http://json-schema.org/draft-07/schema#","type":"string"}`})
	if err != nil {
		t.Fatal(err)
	}
	if regs, err := res.RefreshRegistrations(ctx, other.ID); err != nil || !slices.Equal(regs, []validate.SubjectVersion{{Subject: "e-value", Version: 1}}) {
		t.Errorf("RefreshRegistrations of an id never loaded = %v, %v", regs, err)
	}
}
