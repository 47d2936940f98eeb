// Package compat decides whether one version of a JSON Schema contract may
// follow another under a registry compatibility level, and explains every
// break with a finding: where it is (a JSON pointer into the schema and into
// the payload), a stable code, who it breaks, a fix in words, and a
// counterexample document that one version accepts and the other refuses.
//
// The checker reasons about the sets of documents each version accepts, not
// about text diffs: version A is backward compatible with version B when
// every document A accepts, B accepts too. It walks both schemas together
// ($ref, $defs and registry references followed, cycles cut), splits
// disjunctions (anyOf, oneOf, if/then/else) into cases, and compares each
// keyword's constraint per JSON type. Where it cannot prove inclusion it
// says so with the code cannot_prove and a reason, and counts that as
// breaking: it never passes a change silently.
//
// Counterexamples are generated from the schemas and then proven: each is
// run through eventguard's own validator (package validate) against both
// versions, and only one that the first version accepts and the second
// refuses is printed. A finding whose counterexample does not prove out
// says so; a finding that rests on an approximation and has no proven
// counterexample is reported as cannot_prove.
//
// Formats: JSON Schema drafts 4, 6, 7, 2019-09 and 2020-12 here; Avro
// (compat/avro) and Protobuf (compat/protobuf) plug in behind Engine.
package compat
