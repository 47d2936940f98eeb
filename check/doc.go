// Package check is the contract check: the one place that answers "does
// this record meet its contract?" for every path through eventguard —
// produce before sending, consume before delivering, `dlq replay` before
// re-producing, and `contracts check` for golden payloads.
//
// For a record it derives the subject (the topic's subject name strategy),
// resolves the schema (registry and caches, through validate), decodes the
// value once, validates it, and looks up the version's deprecation. Its
// answer is a Verdict: data (code, message, violations, schema, notices),
// never an HTTP status or a gRPC code; the transports and loops map
// verdicts to their own answers. An error from a Check method means no
// verdict could be reached (the registry could not be asked), so the caller
// waits or answers 503, never passes the record.
//
// Imports go down only: check uses validate, config and dlq (the
// dead-letter vocabulary), and never a transport, produce, consume or
// telemetry.
package check
