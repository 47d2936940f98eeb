// Package rules runs the domain rules of a data contract on one record at
// a time: CEL conditions over the event, its key, headers and topic; KEY
// rules tying the Kafka key to values of the event; and TRANSITION rules
// following each key's moves on consume.
//
// Rules are written in the shape of Confluent's data-contract domain rules
// (a schema's ruleSet.domainRules, or a subject.yaml `rules:` list), so a
// contract written for Confluent's clients reads unchanged:
//
//	{"name": "positive-total", "kind": "CONDITION", "type": "CEL", "mode": "WRITE",
//	 "expr": "double(message.total_amount) > 0.0", "onFailure": "ERROR",
//	 "params": {"eventguard.mode": "warn"}}
//
// [Compile] checks and compiles a list once per schema version into a
// [Set]; what eventguard does not run (TRANSFORM rules, migration modes,
// CEL_FIELD) is refused by name, and a rule that does not compile is an
// error naming it, never a silent pass. [Set.Eval] runs the rules of one
// direction (WRITE on produce, READ on consume) on one record and returns
// a [Result] per rule, as data; [Fold] turns them into a [Verdict] (the
// most severe [Effect]: none, warn, dead-letter or refuse) that produce
// and consume map to their own answers.
//
// CEL rules read the event where the decoder left it (a jsonvalue.Doc
// tape) without building a map per record, are bounded in cost at compile
// time (an estimate) and at run time (an abort), and in length. TRANSITION
// rules keep a bounded [State] per subscription.
//
// docs/rules.md is the user's guide: every rule type with an example,
// rollout, state and memory bounds, and the measured cost.
package rules
