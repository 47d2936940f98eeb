// Package validate resolves JSON Schemas from a Confluent-compatible schema
// registry, compiles them once, and validates event values against them.
//
// The hot path is: a Schema found in a cache by id, subject/version or
// subject/latest; the value parsed once with a strict decoder (duplicate keys,
// invalid UTF-8 and absurd number literals are refused); the compiled schema
// run over it. No registry call and no compile happen on a warm cache.
//
// Failures are data: a *Failure carries a code and the violations (JSON
// pointer, keyword, message), ready for an HTTP 422 body or a dead-letter
// header.
//
// A schema's $ref resolves only through the registry's references. A $ref to
// any other URL fails the compile: eventguard never fetches a URL named in a
// schema.
package validate
