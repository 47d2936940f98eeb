// Package fastpath is eventguard's fast JSON Schema engine: a verdict
// (valid, invalid, or undecided) for values as internal/jsonvalue decodes
// them, identical to the reference engine's, jsonschema v6, at a fraction
// of its cost and without allocating on the valid path.
//
// It is not a second JSON Schema implementation. Compile takes the schema
// jsonschema v6 compiled (so drafts, $id/$ref/$anchor resolution, registry
// references, vocabularies, format assertion and pattern compilation are
// the reference's own) and builds a tree of small validators from its
// exported fields; evaluation mirrors jsonschema v6.0.3's validator.go
// keyword by keyword, with the same draft switches. What differs is how:
// numbers are compared exactly in 64/128-bit decimal arithmetic (big.Rat
// only for literals that do not fit), unevaluatedProperties/Items use a
// stack of annotations instead of per-schema sets, a few built-in formats
// and simple anchored patterns run allocation-free replicas, and the
// first failing keyword ends the evaluation.
//
// validate.Schema asks this engine first; on anything but Valid it runs
// the reference, which alone produces violations and messages. A false
// "valid" would let a bad event through, so:
//
//   - whatever the engine cannot decide exactly makes it answer Unknown,
//     never a guess (a sticky flag, so that a "false" under not, anyOf,
//     oneOf or if cannot turn into a "valid");
//   - schemas using what it does not implement are refused at compile time
//     (ErrUnsupported): $recursiveRef, $dynamicRef, vocabulary extensions,
//     content assertions, in-place reference cycles;
//   - the tests compare it with the reference on the example contracts'
//     goldens, a table of per-keyword edge cases, the draft-04/06/07
//     metaschemas, jsonschema's Extra-Test-Suite, the JSON-Schema-Test-Suite
//     when given, through validate itself (identical Failures), and by
//     fuzzing (FuzzDifferential, and the replicas against their originals).
//
// See docs/decisions/0008-fast-validation-engine.md.
package fastpath
