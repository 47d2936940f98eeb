// Package avro is eventguard's Avro engine: it compiles a registry's Avro
// schema (with Confluent references: the referenced subjects' schemas
// define named types the schema uses), encodes a JSON value (a
// jsonvalue.Doc, the JSON an app sent) as Avro binary while reporting every
// way it breaks the schema with a JSON pointer, and decodes Avro binary
// back to that same JSON form.
//
// Schemas are parsed by github.com/hamba/avro/v2 (names, namespaces,
// aliases, defaults, logical types); the walk over the JSON value and the
// binary codec are this package's, so that a violation names the JSON
// pointer the app wrote, all violations are reported at once, and decoding
// is bounded (MaxDepth, MaxItems, MaxJSON; a length is checked against the
// bytes left before anything is read).
//
// # The JSON form
//
// Encode accepts, and Decode writes, this JSON for each Avro type (Decode
// writes the first form listed; Encode accepts all):
//
//   - null, boolean, string: null, true/false, a string.
//   - int, long: a number whose value is an integer in range (1, 1.0, 1e3).
//   - float, double: a number, or the strings "NaN", "Infinity",
//     "-Infinity" (JSON has no such numbers).
//   - bytes, fixed: a string of code points U+0000 to U+00FF, one per byte:
//     the Avro specification's JSON encoding (what Avro's tools and
//     Confluent's REST Proxy use). Base64 is not accepted: every base64
//     text is also a valid code-point string, so it would be ambiguous.
//   - enum: the symbol, a string.
//   - array: an array; map: an object.
//   - record: an object of its fields, by name or by a field alias; a
//     missing field takes its default, a missing field without one is a
//     violation, a member naming no field is a violation.
//   - union: null for the null branch; the Avro JSON encoding
//     {"branch": value}, where branch is a type name ("string", "long",
//     "array", "map"; the underlying type for a logical type) or a named
//     type's full name or alias; or the plain value when exactly one
//     branch takes its JSON kind. An object of one member named like a
//     branch is always the wrapped form. Decode writes the plain form when
//     it reads back as the same branch, the wrapped form otherwise.
//   - decimal (bytes or fixed): a JSON number or a string holding a
//     decimal ("18.50"), with at most scale fractional digits (trailing
//     zeros aside) and precision digits; Decode writes a string with
//     exactly scale fractional digits, so no precision is lost to a
//     consumer's float.
//   - uuid: a string in the 8-4-4-4-12 hexadecimal form.
//   - date: "2026-11-02" or the number of days since 1970-01-01.
//   - time-millis, time-micros: "12:31:00.125" or the number of
//     milliseconds/microseconds after midnight.
//   - timestamp-millis, timestamp-micros: an RFC 3339 timestamp with an
//     offset ("2026-11-02T12:31:00.125+01:00"; Decode writes UTC, "Z") or
//     the number since the epoch; more precision than the type holds is a
//     violation, not rounded.
//   - local-timestamp-millis, local-timestamp-micros: "2026-11-02T12:31:00"
//     (no offset) or the number.
//
// Dates and timestamps outside the years 0000-9999 are written as numbers.
package avro
