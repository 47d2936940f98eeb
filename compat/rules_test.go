package compat

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/sr"
)

// A rule case: old and new, the verdict under BACKWARD and under FORWARD, and
// for a breaking verdict the code and payload path of the first finding.
type ruleCase struct {
	name     string
	old, new string
	// back and fwd are "ok", or "code@path" of the expected finding.
	back, fwd string
	lenient   bool
}

const d7 = `"$schema":"http://json-schema.org/draft-07/schema#",`

func obj(props, required string, extra ...string) string {
	s := `{` + d7 + `"type":"object","properties":{` + props + `}`
	if required != "" {
		s += `,"required":[` + required + `]`
	}
	for _, e := range extra {
		s += "," + e
	}
	return s + "}"
}

var ruleCases = []ruleCase{
	// identical
	{name: "unchanged", old: obj(`"a":{"type":"string"}`, `"a"`), new: obj(`"a":{"type":"string"}`, `"a"`), back: "ok", fwd: "ok"},
	// types
	{name: "type narrowed number to integer", old: obj(`"a":{"type":"number"}`, ""), new: obj(`"a":{"type":"integer"}`, ""), back: "type_narrowed@/a", fwd: "ok"},
	{name: "type widened integer to number", old: obj(`"a":{"type":"integer"}`, ""), new: obj(`"a":{"type":"number"}`, ""), back: "ok", fwd: "type_widened@/a"},
	{name: "type changed string to integer", old: obj(`"a":{"type":"string"}`, ""), new: obj(`"a":{"type":"integer"}`, ""), back: "type_narrowed@/a", fwd: "type_widened@/a"},
	{name: "type null added", old: obj(`"a":{"type":"string"}`, ""), new: obj(`"a":{"type":["string","null"]}`, ""), back: "ok", fwd: "type_widened@/a"},
	// required
	{name: "required added", old: obj(`"a":{"type":"string"}`, ""), new: obj(`"a":{"type":"string"}`, `"a"`), back: "required_added@", fwd: "ok"},
	{name: "required removed", old: obj(`"a":{"type":"string"}`, `"a"`), new: obj(`"a":{"type":"string"}`, ""), back: "ok", fwd: "required_removed@"},
	// content models
	{name: "property added to open model", old: obj(`"a":{"type":"string"}`, ""), new: obj(`"a":{"type":"string"},"b":{"type":"string"}`, ""), back: "property_added_open_model@/b", fwd: "ok"},
	{name: "property added to open model, lenient", old: obj(`"a":{"type":"string"}`, ""), new: obj(`"a":{"type":"string"},"b":{"type":"string"}`, ""), back: "ok", fwd: "ok", lenient: true},
	{name: "property removed from open model", old: obj(`"a":{"type":"string"},"b":{"type":"string"}`, ""), new: obj(`"a":{"type":"string"}`, ""), back: "ok", fwd: "property_removed_open_model@/b"},
	{name: "property removed from closed model", old: obj(`"a":{"type":"string"},"b":{"type":"string"}`, "", `"additionalProperties":false`), new: obj(`"a":{"type":"string"}`, "", `"additionalProperties":false`), back: "property_removed_closed_model@/b", fwd: "ok"},
	{name: "property added to closed model", old: obj(`"a":{"type":"string"}`, "", `"additionalProperties":false`), new: obj(`"a":{"type":"string"},"b":{"type":"string"}`, "", `"additionalProperties":false`), back: "ok", fwd: "property_added_closed_model@/b"},
	{name: "model closed", old: obj(`"a":{"type":"string"}`, ""), new: obj(`"a":{"type":"string"}`, "", `"additionalProperties":false`), back: "additional_properties_closed@/x_extra", fwd: "ok"},
	{name: "model closed by unevaluatedProperties", old: `{"$schema":"https://json-schema.org/draft/2020-12/schema","type":"object","properties":{"a":{"type":"string"}}}`, new: `{"$schema":"https://json-schema.org/draft/2020-12/schema","type":"object","properties":{"a":{"type":"string"}},"unevaluatedProperties":false}`, back: "additional_properties_closed@/x_extra", fwd: "ok"},
	{name: "additionalProperties narrowed to a schema", old: obj(`"a":{"type":"string"}`, ""), new: obj(`"a":{"type":"string"}`, "", `"additionalProperties":{"type":"string"}`), back: "additional_properties_narrowed@/x_extra", fwd: "ok"},
	{name: "patternProperties narrowed", old: obj(``, "", `"patternProperties":{"^s_":{"type":"string"}}`), new: obj(``, "", `"patternProperties":{"^s_":{"type":"string","maxLength":3}}`), back: "max_length_lowered@/s_", fwd: "ok"},
	// enum and const
	{name: "enum value removed", old: obj(`"a":{"enum":["x","y"]}`, ""), new: obj(`"a":{"enum":["x"]}`, ""), back: "enum_value_removed@/a", fwd: "ok"},
	{name: "enum value added", old: obj(`"a":{"enum":["x"]}`, ""), new: obj(`"a":{"enum":["x","y"]}`, ""), back: "ok", fwd: "enum_value_added@/a"},
	{name: "enum added", old: obj(`"a":{"type":"string"}`, ""), new: obj(`"a":{"type":"string","enum":["x"]}`, ""), back: "enum_added@/a", fwd: "ok"},
	{name: "const changed", old: obj(`"a":{"const":"v1"}`, ""), new: obj(`"a":{"const":"v2"}`, ""), back: "enum_value_removed@/a", fwd: "enum_value_added@/a"},
	// numbers
	{name: "maximum lowered", old: obj(`"a":{"type":"integer","maximum":10}`, ""), new: obj(`"a":{"type":"integer","maximum":5}`, ""), back: "maximum_lowered@/a", fwd: "ok"},
	{name: "minimum raised", old: obj(`"a":{"type":"number","minimum":0}`, ""), new: obj(`"a":{"type":"number","exclusiveMinimum":0}`, ""), back: "minimum_raised@/a", fwd: "ok"},
	{name: "integer bounds equal in another form", old: obj(`"a":{"type":"integer","minimum":1}`, ""), new: obj(`"a":{"type":"integer","exclusiveMinimum":0}`, ""), back: "ok", fwd: "ok"},
	{name: "draft 4 exclusive minimum", old: `{"$schema":"http://json-schema.org/draft-04/schema#","type":"number","minimum":0}`, new: `{"$schema":"http://json-schema.org/draft-04/schema#","type":"number","minimum":0,"exclusiveMinimum":true}`, back: "minimum_raised@", fwd: "ok"},
	{name: "multipleOf changed", old: obj(`"a":{"type":"integer","multipleOf":2}`, ""), new: obj(`"a":{"type":"integer","multipleOf":4}`, ""), back: "multiple_of_changed@/a", fwd: "ok"},
	// strings
	{name: "maxLength lowered", old: obj(`"a":{"type":"string","maxLength":10}`, ""), new: obj(`"a":{"type":"string","maxLength":3}`, ""), back: "max_length_lowered@/a", fwd: "ok"},
	{name: "minLength raised", old: obj(`"a":{"type":"string"}`, ""), new: obj(`"a":{"type":"string","minLength":2}`, ""), back: "min_length_raised@/a", fwd: "ok"},
	{name: "pattern added", old: obj(`"a":{"type":"string"}`, ""), new: obj(`"a":{"type":"string","pattern":"^[0-9]+$"}`, ""), back: "pattern_added@/a", fwd: "ok"},
	{name: "pattern changed", old: obj(`"a":{"type":"string","pattern":"^[a-z]+$"}`, ""), new: obj(`"a":{"type":"string","pattern":"^[0-9]+$"}`, ""), back: "pattern_changed@/a", fwd: "pattern_changed@/a"},
	{name: "format added", old: obj(`"a":{"type":"string"}`, ""), new: obj(`"a":{"type":"string","format":"date-time"}`, ""), back: "format_added@/a", fwd: "ok"},
	// arrays
	{name: "items narrowed", old: obj(`"a":{"type":"array","items":{"type":"number"}}`, ""), new: obj(`"a":{"type":"array","items":{"type":"integer"}}`, ""), back: "type_narrowed@/a/0", fwd: "ok"},
	{name: "minItems raised", old: obj(`"a":{"type":"array"}`, ""), new: obj(`"a":{"type":"array","minItems":1}`, ""), back: "min_items_raised@/a", fwd: "ok"},
	{name: "maxItems lowered", old: obj(`"a":{"type":"array","maxItems":3}`, ""), new: obj(`"a":{"type":"array","maxItems":1}`, ""), back: "max_items_lowered@/a", fwd: "ok"},
	{name: "uniqueItems added", old: obj(`"a":{"type":"array","items":{"type":"string"}}`, ""), new: obj(`"a":{"type":"array","items":{"type":"string"},"uniqueItems":true}`, ""), back: "unique_items_added@/a", fwd: "ok"},
	{name: "contains added", old: obj(`"a":{"type":"array"}`, ""), new: obj(`"a":{"type":"array","contains":{"const":"x"}}`, ""), back: "contains_added@/a", fwd: "ok"},
	{name: "prefixItems tuple shortened", old: `{"$schema":"https://json-schema.org/draft/2020-12/schema","type":"array","prefixItems":[{"type":"string"},{"type":"integer"}]}`, new: `{"$schema":"https://json-schema.org/draft/2020-12/schema","type":"array","prefixItems":[{"type":"string"}],"items":false}`, back: "additional_items_closed@/1", fwd: "ok"},
	{name: "draft 7 tuple item narrowed", old: obj(`"a":{"type":"array","items":[{"type":"string"},{"type":"number"}]}`, ""), new: obj(`"a":{"type":"array","items":[{"type":"string"},{"type":"integer"}]}`, ""), back: "type_narrowed@/a/1", fwd: "ok"},
	// references
	{name: "$ref target narrowed", old: `{` + d7 + `"definitions":{"id":{"type":"string"}},"type":"object","properties":{"a":{"$ref":"#/definitions/id"}}}`, new: `{` + d7 + `"definitions":{"id":{"type":"string","maxLength":4}},"type":"object","properties":{"a":{"$ref":"#/definitions/id"}}}`, back: "max_length_lowered@/a", fwd: "ok"},
	{name: "recursive $defs unchanged", old: `{"$schema":"https://json-schema.org/draft/2020-12/schema","$defs":{"node":{"type":"object","properties":{"v":{"type":"integer"},"next":{"$ref":"#/$defs/node"}}}},"$ref":"#/$defs/node"}`, new: `{"$schema":"https://json-schema.org/draft/2020-12/schema","$defs":{"node":{"type":"object","properties":{"v":{"type":"integer"},"next":{"$ref":"#/$defs/node"}}}},"$ref":"#/$defs/node"}`, back: "ok", fwd: "ok"},
	{name: "recursive $defs narrowed deep", old: `{"$schema":"https://json-schema.org/draft/2020-12/schema","$defs":{"node":{"type":"object","properties":{"v":{"type":"number"},"next":{"$ref":"#/$defs/node"}}}},"$ref":"#/$defs/node"}`, new: `{"$schema":"https://json-schema.org/draft/2020-12/schema","$defs":{"node":{"type":"object","properties":{"v":{"type":"integer"},"next":{"$ref":"#/$defs/node"}}}},"$ref":"#/$defs/node"}`, back: "type_narrowed@/v", fwd: "ok"},
	// combinators
	{name: "anyOf branch removed", old: obj(`"a":{"anyOf":[{"type":"string"},{"type":"integer"}]}`, ""), new: obj(`"a":{"anyOf":[{"type":"string"}]}`, ""), back: "branches_narrowed@/a", fwd: "ok"},
	{name: "anyOf branch added", old: obj(`"a":{"anyOf":[{"type":"string"}]}`, ""), new: obj(`"a":{"anyOf":[{"type":"string"},{"type":"integer"}]}`, ""), back: "ok", fwd: "branches_widened@/a"},
	{name: "oneOf with discriminator unchanged", old: obj(`"p":{"oneOf":[{"type":"object","properties":{"k":{"const":"a"},"x":{"type":"string"}},"required":["k"]},{"type":"object","properties":{"k":{"const":"b"}},"required":["k"]}]}`, ""), new: obj(`"p":{"oneOf":[{"type":"object","properties":{"k":{"const":"a"},"x":{"type":"string"}},"required":["k"]},{"type":"object","properties":{"k":{"const":"b"}},"required":["k"]}]}`, ""), back: "ok", fwd: "ok"},
	{name: "oneOf branches may overlap", old: obj(`"a":{"type":"integer"}`, ""), new: obj(`"a":{"oneOf":[{"type":"integer"},{"type":"number"}]}`, ""), back: "one_of_overlap@/a", fwd: "type_widened@/a"},
	{name: "oneOf branches overlap, unproven", old: obj(`"a":{"type":"string","maxLength":3}`, ""), new: obj(`"a":{"oneOf":[{"type":"string","pattern":"^a"},{"type":"string","pattern":"b$"}]}`, ""), back: "branches_narrowed@/a", fwd: "max_length_raised@/a"},
	{name: "allOf constraint added", old: obj(`"a":{"type":"string"}`, ""), new: obj(`"a":{"allOf":[{"type":"string"},{"maxLength":2}]}`, ""), back: "max_length_lowered@/a", fwd: "ok"},
	{name: "not added", old: obj(`"a":{"type":"string"}`, ""), new: obj(`"a":{"type":"string","not":{"const":"x"}}`, ""), back: "not_added@/a", fwd: "ok"},
	{name: "not kept", old: obj(`"a":{"type":"string","not":{"const":"x"}}`, ""), new: obj(`"a":{"type":"string","not":{"const":"x"}}`, ""), back: "ok", fwd: "ok"},
	{name: "if-then-else added", old: obj(`"k":{"type":"string"},"v":{"type":"string"}`, ""), new: obj(`"k":{"type":"string"},"v":{"type":"string"}`, "", `"if":{"properties":{"k":{"const":"x"}},"required":["k"]},"then":{"required":["v"]}`), back: "condition_added@", fwd: "ok"},
	// objects: counts and dependencies
	{name: "maxProperties lowered", old: obj(`"a":{"type":"string"},"b":{"type":"string"}`, ""), new: obj(`"a":{"type":"string"},"b":{"type":"string"}`, "", `"maxProperties":1`), back: "max_properties_lowered@", fwd: "ok"},
	{name: "dependentRequired added", old: obj(`"a":{"type":"string"},"b":{"type":"string"}`, ""), new: obj(`"a":{"type":"string"},"b":{"type":"string"}`, "", `"dependencies":{"a":["b"]}`), back: "dependent_required_added@", fwd: "ok"},
	{name: "propertyNames restricted", old: obj(``, ""), new: obj(``, "", `"propertyNames":{"pattern":"^[a-z]+$"}`), back: "property_names_restricted@", fwd: "ok"},
	// false schemas
	{name: "property forbidden", old: obj(`"a":{"type":"string"}`, ""), new: obj(`"a":false`, ""), back: "property_removed_closed_model@/a", fwd: "ok"},
}

func findingAt(r *Result, want string) (Finding, bool) {
	code, path, _ := strings.Cut(want, "@")
	for _, f := range r.Findings {
		if f.Code == code && f.Path == path {
			return f, true
		}
	}
	return Finding{}, false
}

func TestRules(t *testing.T) {
	for _, tc := range ruleCases {
		t.Run(tc.name, func(t *testing.T) {
			for _, dir := range []struct {
				level Level
				want  string
			}{{Backward, tc.back}, {Forward, tc.fwd}} {
				r := compare(t, tc.old, tc.new, dir.level, tc.lenient)
				if dir.want == "ok" {
					if !r.Compatible {
						b, _ := json.MarshalIndent(r.Findings, "", " ")
						t.Errorf("%s: want compatible, got %s", dir.level, b)
					}
					continue
				}
				if r.Compatible {
					t.Errorf("%s: want %s, got compatible", dir.level, dir.want)
					continue
				}
				f, ok := findingAt(r, dir.want)
				if !ok {
					b, _ := json.MarshalIndent(r.Findings, "", " ")
					t.Errorf("%s: want a finding %s, got %s", dir.level, dir.want, b)
					continue
				}
				// compare() already proved every example against both
				// versions; a finding other than cannot_prove must have one.
				if f.Code != CodeCannotProve && f.Example == nil {
					t.Errorf("%s: finding %s has no proven example (%s)", dir.level, dir.want, f.Note)
				}
				if f.Message == "" || f.Fix == "" || f.Breaks == "" {
					t.Errorf("%s: finding %s lacks message, fix or breaks: %+v", dir.level, dir.want, f)
				}
			}
		})
	}
}

// TestRegistryReferences: a change inside a referenced subject breaks the
// subject that references it, and the finding names the referenced schema.
func TestRegistryReferences(t *testing.T) {
	m := newMem()
	m.add("money", `{"type":"object","properties":{"amount":{"type":"number"}},"required":["amount"]}`)
	m.add("money", `{"type":"object","properties":{"amount":{"type":"integer"}},"required":["amount"]}`)
	m.add("pay", `{"type":"object","properties":{"total":{"$ref":"money.json"}},"required":["total"]}`, sr.SchemaReference{Name: "money.json", Subject: "money", Version: 1})
	m.add("pay", `{"type":"object","properties":{"total":{"$ref":"money.json"}},"required":["total"]}`, sr.SchemaReference{Name: "money.json", Subject: "money", Version: 2})
	r, err := (&Checker{Registry: m}).Compare(context.Background(), "pay", 1, 2, Backward)
	if err != nil {
		t.Fatal(err)
	}
	f, ok := findingAt(r, "type_narrowed@/total/amount")
	if !ok || r.Compatible {
		t.Fatalf("want type_narrowed at /total/amount, got %+v", r)
	}
	if f.SchemaSubject != "money" || f.SchemaVersion != 2 || f.SchemaPath != "/properties/amount" {
		t.Errorf("schema location: %s version %d %s, want money version 2 /properties/amount", f.SchemaSubject, f.SchemaVersion, f.SchemaPath)
	}
	if string(f.Example) != `{"total":{"amount":0.5}}` {
		t.Errorf("example %s", f.Example)
	}
}

// TestNoneLevel: NONE accepts anything.
func TestNoneLevel(t *testing.T) {
	r := compare(t, obj(`"a":{"type":"string"}`, `"a"`), obj(`"a":{"type":"integer"}`, `"a"`), None, false)
	if !r.Compatible || len(r.Findings) != 0 {
		t.Fatalf("NONE: %+v", r)
	}
}

func TestPlan(t *testing.T) {
	if got := Plan(Backward, 3); len(got) != 1 || got[0] != [2]int{2, 3} {
		t.Errorf("BACKWARD: %v", got)
	}
	if got := Plan(FullTransitive, 3); len(got) != 2 || got[0] != [2]int{1, 3} || got[1] != [2]int{2, 3} {
		t.Errorf("FULL_TRANSITIVE: %v", got)
	}
	if got := Plan(Backward, 1); got != nil {
		t.Errorf("one version: %v", got)
	}
}
