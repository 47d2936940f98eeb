package jsonvalue

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// petWeightSchema exercises the keywords whose results depend on the decoded
// value's exact shape: type, required, enum, minimum/maximum, pattern,
// additionalProperties and nested object and array schemas.
const petWeightSchema = `{
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "type": "object",
  "required": ["event_type", "pet_id", "weight_grams", "measured_at"],
  "additionalProperties": false,
  "properties": {
    "event_type": {"const": "pet.weight.updated.v1"},
    "pet_id": {"type": "string", "pattern": "^pet-[0-9]+$"},
    "device_id": {"type": "string", "minLength": 1},
    "weight_grams": {"type": "integer", "minimum": 1, "maximum": 200000},
    "measured_at": {"type": "string"},
    "source": {"enum": ["sensor", "manual", "import"]},
    "location_hint": {"type": ["string", "null"]},
    "attributes": {
      "type": "object",
      "additionalProperties": {"type": ["string", "number", "boolean"]},
      "properties": {
        "battery_pct": {"type": "integer", "minimum": 0, "maximum": 100},
        "confidence": {"type": "number", "exclusiveMinimum": 0, "maximum": 1, "multipleOf": 0.001}
      }
    },
    "readings": {
      "type": "array",
      "minItems": 1,
      "uniqueItems": true,
      "items": {"type": "object", "required": ["g"], "properties": {"g": {"type": "number", "minimum": 0}}}
    }
  }
}`

// TestValidatesLikeJSONSchemaUnmarshal checks that a value from Parse
// validates exactly like the value from jsonschema.UnmarshalJSON: same
// verdict, same violations.
func TestValidatesLikeJSONSchemaUnmarshal(t *testing.T) {
	sch := compileSchema(t, "pet-weight.json", petWeightSchema)
	const ok = `{"event_type":"pet.weight.updated.v1","pet_id":"pet-42","device_id":"bowl-7f3a","weight_grams":4210,"measured_at":"2026-11-02T08:15:00Z","source":"sensor","location_hint":"kitchen bowl"}`
	for _, tc := range []struct {
		name  string
		doc   string
		valid bool
	}{
		{"example event", ok, true},
		{"padded example event", string(mustRead(t, "testdata/valid/pet_weight_updated_padded.json")), true},
		{"integer written as float", strings.Replace(ok, "4210", "4210.0", 1), true},
		{"integer with exponent", strings.Replace(ok, "4210", "4.21e3", 1), true},
		{"null location", strings.Replace(ok, `"kitchen bowl"`, "null", 1), true},
		{"readings", strings.Replace(ok, `"source"`, `"readings":[{"g":1},{"g":1.5}],"source"`, 1), true},
		{"weight as string", strings.Replace(ok, "4210", `"4210"`, 1), false},
		{"weight fractional", strings.Replace(ok, "4210", "4210.5", 1), false},
		{"weight zero", strings.Replace(ok, "4210", "0", 1), false},
		{"weight huge", strings.Replace(ok, "4210", "1e300", 1), false},
		{"bad pet id", strings.Replace(ok, "pet-42", "cat-42", 1), false},
		{"bad enum", strings.Replace(ok, `"sensor"`, `"guess"`, 1), false},
		{"missing required", strings.Replace(ok, `"pet_id":"pet-42",`, "", 1), false},
		{"extra property", strings.Replace(ok, `"source"`, `"colour":"tabby","source"`, 1), false},
		{"wrong event type", strings.Replace(ok, "updated", "deleted", 1), false},
		{"bad nested attribute", strings.Replace(ok, `"source"`, `"attributes":{"battery_pct":101,"confidence":0.0005,"x":[]},"source"`, 1), false},
		{"readings equal as numbers", strings.Replace(ok, `"source"`, `"readings":[{"g":1},{"g":1.0}],"source"`, 1), false},
		{"duplicate readings exact", strings.Replace(ok, `"source"`, `"readings":[{"g":1},{"g":1}],"source"`, 1), false},
		{"empty readings", strings.Replace(ok, `"source"`, `"readings":[],"source"`, 1), false},
		{"not an object", `["pet.weight.updated.v1"]`, false},
		{"escaped strings", `{"event_type":"pet.weight.updated.v1","pet_id":"pet-\u0034\u0032","weight_grams":1,"measured_at":"\u2603"}`, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ref, err := jsonschema.UnmarshalJSON(strings.NewReader(tc.doc))
			if err != nil {
				t.Fatalf("jsonschema.UnmarshalJSON: %v", err)
			}
			got, err := Parse([]byte(tc.doc), Limits{})
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			refErr, gotErr := sch.Validate(ref), sch.Validate(got)
			if (gotErr == nil) != tc.valid {
				t.Errorf("Validate(Parse value) = %v, want valid=%v", gotErr, tc.valid)
			}
			// jsonschema reports violations in map iteration order, which
			// is random: compare them as sets.
			if a, b := violations(refErr), violations(gotErr); !slices.Equal(a, b) {
				t.Errorf("validation differs\nParse value: %q\nreference:   %q", b, a)
			}
		})
	}
}

// violations lists a validation error's output units, sorted.
func violations(err error) []string {
	if err == nil {
		return nil
	}
	var out []string
	for _, u := range err.(*jsonschema.ValidationError).BasicOutput().Errors {
		b, _ := json.Marshal(u)
		out = append(out, string(b))
	}
	slices.Sort(out)
	return out
}

func mustRead(t *testing.T, name string) []byte {
	t.Helper()
	b, err := readFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestNumberLimitsGuardJSONSchema pins why the number limits exist: the
// literal below makes jsonschema v6 panic under a numeric keyword, and Parse
// rejects it, while the largest literals Parse accepts validate normally.
func TestNumberLimitsGuardJSONSchema(t *testing.T) {
	numeric := compileSchema(t, "numeric.json", numericSchema)
	const bomb = `[1e1000001]`
	ref, err := jsonschema.UnmarshalJSON(strings.NewReader(bomb))
	if err != nil {
		t.Fatal(err)
	}
	panicked := func() (p bool) {
		defer func() { p = recover() != nil }()
		_ = numeric.Validate(ref)
		return false
	}()
	if !panicked {
		t.Log("jsonschema no longer panics on 1e1000001; the exponent limit is still worth keeping for CPU cost")
	}
	if _, err := Parse([]byte(bomb), Limits{}); err == nil || err.(*Error).Code != CodeNumberRange {
		t.Fatalf("Parse(%s) = %v, want a %s error", bomb, err, CodeNumberRange)
	}
	edge := `[1e400,-1e-400,` + strings.Repeat("9", DefaultMaxNumberLen) + `,0.` + strings.Repeat("0", DefaultMaxNumberLen-3) + `1]`
	v, err := Parse([]byte(edge), Limits{BeyondFloat64: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := numeric.Validate(v); err == nil {
		t.Fatal("want violations for the edge numbers, got none")
	}
}
