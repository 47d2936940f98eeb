package check

import (
	"github.com/eventguard/eventguard/rules"
	"github.com/eventguard/eventguard/validate"
)

// Failure codes of a produce Verdict. They appear in HTTP and gRPC error
// bodies, so they never change silently. (Consume verdicts use the dlq
// reason codes, which are the eventguard.dlq.reason header's values.)
const (
	// CodeTypeRequired: the topic's strategy needs a record type and the
	// record has none.
	CodeTypeRequired = "type_required"
	// CodeInvalidType: the record type (given, or read at the topic's
	// type pointer) is over MaxTypeLen bytes or cannot travel as a
	// header value.
	CodeInvalidType = "invalid_type"
	// CodeSchemaNotFound: no such subject, version or schema id, or the
	// pinned id is registered under another subject.
	CodeSchemaNotFound = "schema_not_found"
	// CodeUnusableSchema: the registered schema cannot validate.
	CodeUnusableSchema = "unusable_schema"
	// CodeRegistryRejected: the registry refused the lookup itself (an
	// HTTP 4xx other than not found): the subject or pin cannot be asked
	// for, so retrying cannot help.
	CodeRegistryRejected = "registry_rejected"
	// CodeMalformedJSON: the value is not one strict JSON text (also a
	// dead-letter reason).
	CodeMalformedJSON = validate.CodeMalformedJSON
	// CodeSchemaViolation: the value breaks its schema (also a
	// dead-letter reason).
	CodeSchemaViolation = validate.CodeSchemaViolation
	// CodeDeprecated: the version's sunset passed and its deprecation says
	// after_sunset: reject.
	CodeDeprecated = "deprecated_version_sunset"
)

// MaxTypeLen bounds a record type, in bytes (a subject name is built from
// it, and the registry is asked by it).
const MaxTypeLen = 255

// Verdict is the contract check's answer for one record: data, for the
// caller to map onto its own answer (an HTTP status, a gRPC code, a
// dead-letter reason).
type Verdict struct {
	// Code is "" when the record meets its contract, else why not: a
	// produce failure code (above) or, on consume and replay, a dlq
	// reason code.
	Code string
	// Message says why the record failed, in English.
	Message string
	// Violations are the schema violations or the JSON parse problem.
	Violations []validate.Violation
	// Schema is the schema the record was checked against; nil when none
	// was found.
	Schema *validate.Schema
	// Deprecation is set when Schema's version is deprecated.
	Deprecation *Notice
	// Rules are the results of the domain rules that ran on the record
	// (package rules), in declared order; nil when none ran.
	Rules []rules.Result
	// Effect is what the rules ask of the path, the most severe of their
	// results: none, warn (let it through and tell), dead_letter (write it
	// to the dead-letter topic instead: on produce a record that passes
	// its check may still be diverted, Code stays ""), refuse (Code is
	// CodeRuleViolation).
	Effect rules.Effect
	// Cause indexes the result in Rules that decided Effect; -1 when
	// Effect is none.
	Cause int
	// Payload is what follows the wire-format header. On produce: nil
	// for a JSON Schema subject (the value as sent is framed), the Avro or
	// Protobuf encoding of the value otherwise. On consume: the JSON to
	// deliver (the payload itself for JSON Schema, the JSON rendering of
	// an Avro or Protobuf one).
	Payload []byte
}

// CauseRule returns the rule result that decided the verdict's Effect, or
// nil.
func (v *Verdict) CauseRule() *rules.Result {
	if v.Cause < 0 || v.Cause >= len(v.Rules) || v.Effect == rules.EffectNone {
		return nil
	}
	return &v.Rules[v.Cause]
}

// Passed reports whether the record meets its contract.
func (v *Verdict) Passed() bool { return v.Code == "" }
