package validate

import (
	"fmt"
	"sync/atomic"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/twmb/franz-go/pkg/sr"

	"github.com/eventguard/eventguard/internal/jsonvalue"
	"github.com/eventguard/eventguard/validate/avro"
	"github.com/eventguard/eventguard/validate/fastpath"
	"github.com/eventguard/eventguard/validate/protobuf"
)

// SubjectVersion is one place a schema is registered.
type SubjectVersion struct {
	Subject string `json:"subject"`
	Version int    `json:"version"`
}

// Schema is a compiled schema as registered (JSON Schema, Avro or
// Protobuf: see Format): immutable and safe for concurrent use.
type Schema struct {
	// ID is the registry's global schema id, the one in the wire format.
	ID int
	// Subject and Version say where this schema was found: the subject and
	// version asked for on produce; on consume, the usage matching the
	// topic's subject when there is one, else the first usage.
	Subject string
	Version int
	// Metadata is the registry's schema metadata, if any.
	Metadata *sr.SchemaMetadata
	// RuleSet is the registry's ruleSet of the schema (its domain rules
	// are run by package check), if any. Registries that drop ruleSets
	// (Apicurio) leave it nil.
	RuleSet *sr.SchemaRuleSet

	// format is the schema's type; compiled and fast are set for JSON
	// Schema, avro for Avro, proto for Protobuf.
	format   sr.SchemaType
	avro     *avro.Schema
	proto    *protobuf.Schema
	compiled *jsonschema.Schema
	// fast, when not nil, is the fast engine for this schema (see
	// validate/fastpath and docs/decisions/0008-fast-validation-engine.md):
	// nil when the schema uses something it does not implement.
	fast   *fastpath.Validator
	limits jsonvalue.Limits
}

// at returns a copy of s labelled with a subject and version.
func (s *Schema) at(subject string, version int) *Schema {
	if s.Subject == subject && s.Version == version {
		return s
	}
	c := *s
	c.Subject, c.Version = subject, version
	return &c
}

// FastPath reports whether the fast engine (validate/fastpath) validates s
// first; false means jsonschema v6 alone (a keyword outside the fast
// engine's subset, or Options.ReferenceOnly).
func (s *Schema) FastPath() bool { return s.fast != nil }

// Panics counts validator panics recovered since start; a non-zero value is a
// bug in the JSON Schema engine that the strict decoder failed to prevent.
var Panics atomic.Int64

// Validate checks value (JSON text, without the wire-format header) and
// returns nil when it passes, or a *Failure saying why not. For Avro and
// Protobuf schemas the JSON is the form EncodeDoc accepts (the first
// message for Protobuf); nothing is encoded.
func (s *Schema) Validate(value []byte) *Failure {
	doc := jsonvalue.GetDoc()
	defer jsonvalue.PutDoc(doc)
	if err := doc.Parse(value, s.limits); err != nil {
		return Malformed(err)
	}
	if s.format != sr.TypeJSON {
		return s.validateOther(doc, value)
	}
	return s.ValidateDoc(doc)
}

// ParseAndValidate decodes value (JSON text, without the wire-format
// header) into doc with the schema's limits and validates it, as Validate
// does, leaving the decoded value in doc for whatever reads it next (the
// contract's rules).
func (s *Schema) ParseAndValidate(value []byte, doc *jsonvalue.Doc) *Failure {
	if err := doc.Parse(value, s.limits); err != nil {
		return Malformed(err)
	}
	return s.ValidateDoc(doc)
}

// ValidateDoc checks an already decoded value (jsonvalue.Doc.Parse, which
// produce uses to read the record type before it picks the schema). For
// Avro and Protobuf schemas it is EncodeDoc with the output dropped.
func (s *Schema) ValidateDoc(doc *jsonvalue.Doc) (f *Failure) {
	if s.format != sr.TypeJSON {
		return s.validateOther(doc, nil)
	}
	defer func() {
		if r := recover(); r != nil {
			Panics.Add(1)
			f = &Failure{
				Code:       CodeSchemaViolation,
				Message:    fmt.Sprintf("value could not be validated against %s version %d: the validator failed (%v)", s.Subject, s.Version, r),
				Violations: []Violation{{Keyword: "validator", Message: fmt.Sprint(r)}},
			}
		}
	}()
	// Fast engine first: a verdict only, proven identical to jsonschema v6
	// by differential tests (validate/fastpath). "Valid" ends the hot
	// path. "Invalid" or "undecided" runs the reference below, which alone
	// says why: violations and messages never come from the fast engine.
	if s.fast != nil && s.fast.Valid(doc) {
		return nil
	}
	err := s.compiled.Validate(doc.Value(0))
	if err == nil {
		return nil
	}
	ve, ok := err.(*jsonschema.ValidationError)
	if !ok {
		return &Failure{Code: CodeSchemaViolation, Message: err.Error()}
	}
	return violations(s.Subject, s.Version, ve)
}
