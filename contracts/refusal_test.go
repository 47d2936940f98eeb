package contracts_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/twmb/franz-go/pkg/sr"

	"github.com/eventguard/eventguard/contracts"
)

// refusingClient answers every registration with err.
type refusingClient struct{ err error }

func (c refusingClient) CreateSchema(context.Context, string, sr.Schema) (sr.SubjectSchema, error) {
	return sr.SubjectSchema{}, c.err
}

func (refusingClient) SetCompatibility(context.Context, sr.SetCompatibility, ...string) []sr.CompatibilityResult {
	return nil
}

// TestRegisterReportsRefusal checks that a registry's refusal names the
// subject version, the HTTP status and the registry's error code, keeps the
// registry's message and error, and adds what to change only for a schema
// the registry did not take as a JSON Schema because it declares neither
// "$schema" nor "properties" (Apicurio Registry's 422 42201).
func TestRegisterReportsRefusal(t *testing.T) {
	const hint = `declare its draft at the top level`
	notJSONSchema := &sr.ResponseError{StatusCode: 422, ErrorCode: 42201, Message: "Failed to discover artifact type from content."}
	incompatible := &sr.ResponseError{StatusCode: 409, ErrorCode: 409, Message: "Incompatible artifact: bare [JSON], num of incompatible diffs: {1}"}
	down := errors.New("dial tcp 127.0.0.1:1: connect: connection refused")
	for _, tc := range []struct {
		name     string
		schema   string
		err      error
		want     []string
		wantHint bool
	}{
		{"bare object schema refused as not JSON Schema", `{"type":"object","required":["id"]}`, notJSONSchema,
			[]string{`register subject "bare" version 1`, "HTTP 422, error code 42201", "Failed to discover artifact type from content."}, true},
		{"array schema refused as not JSON Schema", `{"type":"array","items":{"type":"string"}}`, notJSONSchema,
			[]string{"HTTP 422, error code 42201"}, true},
		{"schema with $schema refused for another reason", `{"$schema":"http://json-schema.org/draft-07/schema#","type":"object"}`, notJSONSchema,
			[]string{"HTTP 422, error code 42201"}, false},
		{"schema with properties refused for another reason", `{"properties":{"id":{"type":"string"}}}`, notJSONSchema,
			[]string{"HTTP 422, error code 42201"}, false},
		{"incompatible version", `{"$schema":"http://json-schema.org/draft-07/schema#","type":"object"}`, incompatible,
			[]string{`register subject "bare" version 1`, "HTTP 409, error code 409", "Incompatible artifact"}, false},
		{"registry unreachable", `{"type":"object"}`, down,
			[]string{`register subject "bare" version 1`, "connection refused"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			set, err := contracts.Load(fstest.MapFS{"bare/1/schema.json": {Data: []byte(tc.schema)}})
			if err != nil {
				t.Fatal(err)
			}
			regs, err := set.Register(context.Background(), refusingClient{tc.err})
			if err == nil || len(regs) != 0 {
				t.Fatalf("Register = %v, %v; want the refusal and nothing registered", regs, err)
			}
			if !errors.Is(err, tc.err) {
				t.Errorf("the error %q does not wrap the client's %q", err, tc.err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
			if got := strings.Contains(err.Error(), hint); got != tc.wantHint {
				t.Errorf("hint present = %v, want %v: %q", got, tc.wantHint, err)
			}
		})
	}
}
