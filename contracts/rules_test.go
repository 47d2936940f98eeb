package contracts

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/twmb/franz-go/pkg/sr"

	"github.com/eventguard/eventguard/rules"
)

// recordingClient keeps what Register sends.
type recordingClient struct{ got []sr.Schema }

func (c *recordingClient) CreateSchema(_ context.Context, subject string, s sr.Schema) (sr.SubjectSchema, error) {
	c.got = append(c.got, s)
	return sr.SubjectSchema{Subject: subject, Version: len(c.got), ID: len(c.got), Schema: s}, nil
}

func (c *recordingClient) SetCompatibility(context.Context, sr.SetCompatibility, ...string) []sr.CompatibilityResult {
	return nil
}

// TestRegisterRules: a folder's rules reach the registry as Confluent's
// clients expect them — CEL rules in ruleSet.domainRules (with the mode
// written out), KEY and TRANSITION rules, which those clients cannot run,
// in the metadata property rules.MetadataProperty; a version's rules.yaml
// replaces the subject's rule of the same name; a rule that does not
// compile fails the load, named.
func TestRegisterRules(t *testing.T) {
	t.Parallel()
	fsys := fstest.MapFS{
		"orders-value/subject.yaml": {Data: []byte(`rules:
  - {name: key-is-order, kind: CONDITION, type: KEY, mode: WRITE, expr: /order_id}
  - {name: positive, kind: CONDITION, type: CEL, expr: "message.total > 0", params: {eventguard.mode: warn}}
`)},
		"orders-value/1/schema.json": {Data: []byte(`{"type":"object","properties":{"order_id":{"type":"string"},"total":{"type":"number"}}}`)},
		"orders-value/2/schema.json": {Data: []byte(`{"type":"object","properties":{"order_id":{"type":"string"},"total":{"type":"number"},"status":{"type":"string"}}}`)},
		"orders-value/2/rules.yaml": {Data: []byte(`- {name: positive, kind: CONDITION, type: CEL, expr: "message.total >= 1"}
- {name: status-flow, kind: CONDITION, type: TRANSITION, mode: READ, expr: /status, params: {transitions: "new -> paid"}}
`)},
	}
	set, err := Load(fsys)
	if err != nil {
		t.Fatal(err)
	}
	cl := &recordingClient{}
	if _, err := set.Register(context.Background(), cl); err != nil {
		t.Fatal(err)
	}
	if len(cl.got) != 2 {
		t.Fatalf("registered %d schemas", len(cl.got))
	}
	for i, want := range []struct {
		cel, own []string
		expr     string
	}{
		{[]string{"positive"}, []string{"key-is-order"}, "message.total > 0"},
		{[]string{"positive"}, []string{"key-is-order", "status-flow"}, "message.total >= 1"},
	} {
		s := cl.got[i]
		if s.SchemaRuleSet == nil || len(s.SchemaRuleSet.DomainRules) != len(want.cel) {
			t.Fatalf("version %d: ruleSet %+v", i+1, s.SchemaRuleSet)
		}
		d := s.SchemaRuleSet.DomainRules[0]
		if d.Name != "positive" || d.Expr != want.expr || d.Mode.String() != "WRITEREAD" || d.Kind.String() != "CONDITION" {
			t.Errorf("version %d: domain rule %+v", i+1, d)
		}
		var own []rules.Rule
		if s.SchemaMetadata == nil || json.Unmarshal([]byte(s.SchemaMetadata.Properties[rules.MetadataProperty]), &own) != nil {
			t.Fatalf("version %d: metadata %+v", i+1, s.SchemaMetadata)
		}
		var names []string
		for _, r := range own {
			names = append(names, r.Name)
		}
		if strings.Join(names, ",") != strings.Join(want.own, ",") {
			t.Errorf("version %d: eventguard's own rules %v, want %v", i+1, names, want.own)
		}
	}

	fsys["orders-value/2/rules.yaml"] = &fstest.MapFile{Data: []byte(`- {name: broken, kind: CONDITION, type: CEL, expr: "message.total >"}`)}
	if _, err := Load(fsys); err == nil || !strings.Contains(err.Error(), "broken") || !strings.Contains(err.Error(), "orders-value") {
		t.Errorf("a rule that does not compile: %v", err)
	}
}
