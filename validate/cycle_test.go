package validate_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/eventguard/eventguard/internal/testutil"
	"github.com/eventguard/eventguard/validate"
)

// TestReferenceCycleIsTheSchemasFault: a schema whose references loop back
// to the same value without reading into it ({"$ref":"#"}) cannot validate
// anything: it is refused at compile time as ErrBadSchema (unusable_schema
// on produce), not reported as each value's schema_violation "reference
// cycle" (issue 10, item 12). Recursion that reads into the value (a
// property, an item) is a schema like any other.
func TestReferenceCycleIsTheSchemasFault(t *testing.T) {
	t.Parallel()
	st := testutil.Start(t)
	res := st.Resolver(t, validate.Options{})
	for i, c := range []struct {
		schema string
		cycle  string // a part of the reported cycle; "" when the schema is fine
		valid  string // with cycle "": a value that passes
	}{
		{schema: `{"$ref":"#"}`, cycle: ".json# -> "},
		{schema: `{"anyOf":[{"type":"string"},{"$ref":"#"}]}`, cycle: "#/anyOf/1"},
		{schema: `{"if":{"type":"string"},"then":true,"else":{"allOf":[{"$ref":"#"}]}}`, cycle: "#/else/allOf/0"},
		{schema: `{"definitions":{"a":{"$ref":"#/definitions/b"},"b":{"not":{"$ref":"#/definitions/a"}}},"properties":{"x":{"$ref":"#/definitions/a"}}}`, cycle: "#/definitions/b/not"},
		{schema: `{"$schema":"https://json-schema.org/draft/2020-12/schema","dependentSchemas":{"k":{"$ref":"#"}}}`, cycle: "#/dependentSchemas/k"},
		{schema: `{"anyOf":[{"type":"string"},{"type":"array","items":{"$ref":"#"}}]}`, valid: `["a",["b"]]`},
		{schema: `{"type":"object","properties":{"child":{"$ref":"#"},"name":{"type":"string"}}}`, valid: `{"name":"a","child":{"child":{}}}`},
		{schema: `{"$schema":"https://json-schema.org/draft/2020-12/schema","$dynamicAnchor":"node","type":"object","properties":{"kids":{"type":"array","items":{"$dynamicRef":"#node"}}}}`, valid: `{"kids":[{"kids":[]}]}`},
		{schema: `{"$schema":"https://json-schema.org/draft/2020-12/schema","$defs":{"a":{"$ref":"#/$defs/b"},"b":{"type":"integer"}},"allOf":[{"$ref":"#/$defs/a"},{"$ref":"#/$defs/a"}]}`, valid: `7`},
	} {
		subject := fmt.Sprintf("cycle%d-value", i)
		st.Register(t, subject, c.schema)
		s, err := res.Latest(ctx, subject)
		if c.cycle != "" {
			if !errors.Is(err, validate.ErrBadSchema) || !strings.Contains(err.Error(), "reference cycle") || !strings.Contains(err.Error(), c.cycle) {
				t.Errorf("%s: err = %v, want ErrBadSchema naming the cycle through %s", c.schema, err, c.cycle)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", c.schema, err)
			continue
		}
		if f := s.Validate([]byte(c.valid)); f != nil {
			t.Errorf("%s: %s fails: %v", c.schema, c.valid, f)
		}
	}
}
