package contracts

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/twmb/franz-go/pkg/sr"
)

// registerError wraps the registry's refusal of version v with what was
// being registered, the HTTP status and the registry's error code (the
// client's error carries only the registry's message), and, for a schema
// the registry does not take as a JSON Schema, what to change.
func registerError(v *Version, err error) error {
	var re *sr.ResponseError
	if !errors.As(err, &re) {
		return fmt.Errorf("register subject %q version %d: %w", v.Subject, v.Version, err)
	}
	hint := ""
	if re.StatusCode == 422 && re.ErrorCode == 42201 && !declaresJSONSchema(v.Schema) {
		// Apicurio Registry takes a document as a JSON Schema only when its
		// top level has "$schema" or "properties"; Confluent's registry
		// and srfake take any JSON object.
		hint = ` (the registry does not take it for a JSON Schema: declare its draft at the top level, e.g. "$schema": "http://json-schema.org/draft-07/schema#"; Apicurio Registry accepts a JSON Schema only with "$schema" or "properties" there)`
	}
	return fmt.Errorf("register subject %q version %d: registry answered HTTP %d, error code %d: %w%s", v.Subject, v.Version, re.StatusCode, re.ErrorCode, err, hint)
}

// declaresJSONSchema reports whether schema is a JSON object with "$schema"
// or "properties" at its top level.
func declaresJSONSchema(schema string) bool {
	var top map[string]json.RawMessage
	if json.Unmarshal([]byte(schema), &top) != nil {
		return false
	}
	_, hasSchema := top["$schema"]
	_, hasProps := top["properties"]
	return hasSchema || hasProps
}
