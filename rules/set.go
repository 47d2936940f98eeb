package rules

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"unicode/utf8"

	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"
	"cel.dev/cel-go/interpreter"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eventguard/eventguard/internal/jsonvalue"
	"github.com/eventguard/eventguard/internal/quote"
)

// Defaults of [Options].
const (
	// DefaultMaxExprBytes bounds a rule's expr.
	DefaultMaxExprBytes = 4096
	// DefaultSizeHint is the number of items (or bytes) the cost estimate
	// assumes for every list, map and string of an event.
	DefaultSizeHint = 1000
	// DefaultMaxEstimatedCost refuses, at compile time, a CEL expression
	// whose estimated cost may exceed it: a walk over a list passes, a
	// walk over a list inside a walk over a list does not.
	DefaultMaxEstimatedCost = 1_000_000
	// DefaultMaxCost aborts one evaluation of one CEL rule past this
	// runtime cost: about one walk over a list of 30,000 items, the most
	// a 1 MB event (limits.max_value_bytes) holds of small objects. An
	// evaluation that reaches it has used a few milliseconds of CPU
	// (BenchmarkCostLimitAbort; docs/rules.md).
	DefaultMaxCost = 100_000
)

// Options bound what Compile accepts and what an evaluation may cost. A
// zero field takes its default.
type Options struct {
	// MaxExprBytes bounds each rule's expr, in bytes (default 4096, at
	// most 65536).
	MaxExprBytes int
	// SizeHint is how many items the compile-time cost estimate assumes
	// each list, map or string of the event holds (default 1000).
	SizeHint uint64
	// MaxEstimatedCost refuses a CEL rule whose estimated worst-case cost
	// is over it (default 1,000,000).
	MaxEstimatedCost uint64
	// MaxCost aborts a CEL evaluation whose actual cost goes over it; the
	// rule's outcome is then OutcomeError with Result.Aborted set
	// (default 100,000).
	MaxCost uint64
	// MaxMessageBytes bounds Result.Message (default 256).
	MaxMessageBytes int
}

func (o Options) withDefaults() Options {
	if o.MaxExprBytes <= 0 {
		o.MaxExprBytes = DefaultMaxExprBytes
	}
	o.MaxExprBytes = min(o.MaxExprBytes, hardMaxExprBytes)
	if o.SizeHint == 0 {
		o.SizeHint = DefaultSizeHint
	}
	if o.MaxEstimatedCost == 0 {
		o.MaxEstimatedCost = DefaultMaxEstimatedCost
	}
	if o.MaxCost == 0 {
		o.MaxCost = DefaultMaxCost
	}
	if o.MaxMessageBytes <= 0 {
		o.MaxMessageBytes = DefaultMaxMessageBytes
	}
	o.MaxMessageBytes = max(o.MaxMessageBytes, 16)
	return o
}

// CompileError is one rule that did not compile. Compile joins one per
// bad rule (errors.Join); errors.As finds the first.
type CompileError struct {
	// Index is the rule's position in the list given to Compile.
	Index int
	// Name is the rule's name as written.
	Name string
	// Err says what is wrong.
	Err error
}

// Error renders `rule "positive-total" (#2): …`.
func (e *CompileError) Error() string {
	return fmt.Sprintf("rule %s (#%d): %v", quote.String(e.Name), e.Index, e.Err)
}

// Unwrap returns the cause.
func (e *CompileError) Unwrap() error { return e.Err }

// compiled is one rule ready to run.
type compiled struct {
	def     *Rule
	mode    Mode
	rollout Rollout
	actions [3]Action // by Direction
	cel     *celRule
	key     *keyTemplate
	trans   *transitionTable
}

// Set is the compiled rules of one schema version. It is immutable and
// safe for concurrent use; a nil *Set has no rules.
type Set struct {
	defs     []Rule
	rules    []compiled
	modes    Mode
	stateful bool
	maxMsg   int
}

// Compile checks and compiles rules, once per schema version. Every rule
// that does not compile is reported, named, with why (a *CompileError
// each, joined); nothing is silently dropped. Disabled rules are only
// checked for their name (they may use what eventguard does not run).
func Compile(rules []Rule, opts Options) (*Set, error) {
	o := opts.withDefaults()
	s := &Set{defs: make([]Rule, len(rules)), rules: make([]compiled, 0, len(rules)), maxMsg: o.MaxMessageBytes}
	copy(s.defs, rules)
	var errs []error
	seen := make(map[string]int, len(rules))
	for i := range s.defs {
		def := &s.defs[i]
		fail := func(err error) { errs = append(errs, &CompileError{Index: i, Name: def.Name, Err: err}) }
		if err := checkName(def.Name); err != nil {
			fail(err)
			continue
		}
		if j, dup := seen[def.Name]; dup {
			fail(fmt.Errorf("name is also rule #%d's: names are unique in a rule set", j))
			continue
		}
		seen[def.Name] = i
		c, err := compileRule(def, &o)
		if err != nil {
			fail(err)
			continue
		}
		s.rules = append(s.rules, c)
		s.modes |= c.mode
		s.stateful = s.stateful || c.trans != nil
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return s, nil
}

func compileRule(def *Rule, o *Options) (compiled, error) {
	c := compiled{def: def}
	if def.Disabled {
		// Only named: the rest is read where it can be, for the labels of
		// its skipped results.
		m, err := parseMode(def.Mode, def.Type)
		if err != nil {
			m = ModeWriteRead
		}
		c.mode = m
		c.actions, _ = parseActions(def.OnFailure, def.Mode)
		c.rollout, _ = parseRollout(def.Params)
		return c, nil
	}
	switch def.Kind {
	case "CONDITION":
	case "":
		return c, errors.New("kind is missing: want CONDITION (Confluent reads a rule without kind as TRANSFORM)")
	case "TRANSFORM":
		return c, errors.New("kind TRANSFORM: eventguard checks records and never rewrites them; want CONDITION")
	default:
		return c, fmt.Errorf("kind %s: want CONDITION", quote.String(def.Kind))
	}
	var err error
	if c.mode, err = parseMode(def.Mode, def.Type); err != nil {
		return c, err
	}
	if c.actions, err = parseActions(def.OnFailure, def.Mode); err != nil {
		return c, err
	}
	if err := checkOnSuccess(def.OnSuccess); err != nil {
		return c, err
	}
	if c.rollout, err = parseRollout(def.Params); err != nil {
		return c, err
	}
	if len(def.Expr) > o.MaxExprBytes {
		return c, fmt.Errorf("expr has %d bytes, more than the %d accepted", len(def.Expr), o.MaxExprBytes)
	}
	if !utf8.ValidString(def.Expr) {
		return c, errors.New("expr is not valid UTF-8")
	}
	if def.Type != TypeTransition {
		for k := range def.Params {
			if k == ParamTransitions || k == ParamTransitionsSelf {
				return c, fmt.Errorf("params: %s applies to TRANSITION rules only", k)
			}
		}
	}
	switch def.Type {
	case TypeCEL:
		c.cel, err = compileCEL(def.Expr, o)
	case TypeKey:
		c.key, err = parseKeyTemplate(def.Expr)
	case TypeTransition:
		c.trans, err = parseTransitions(def.Expr, def.Params)
	case "":
		err = errors.New("type is missing: want CEL, KEY or TRANSITION")
	case "CEL_FIELD":
		err = errors.New("type CEL_FIELD (a CEL expression per tagged field) is not run by eventguard: write a CEL rule over message instead")
	default:
		err = fmt.Errorf("type %s: want CEL, KEY or TRANSITION", quote.String(def.Type))
	}
	if err != nil {
		return c, fmt.Errorf("%s: %w", def.Type, err)
	}
	return c, nil
}

// Len returns the number of rules, disabled ones included.
func (s *Set) Len() int {
	if s == nil {
		return 0
	}
	return len(s.rules)
}

// Rules returns the rule definitions as given to Compile. The caller must
// not modify them.
func (s *Set) Rules() []Rule {
	if s == nil {
		return nil
	}
	return s.defs
}

// Runs reports whether any rule runs in direction d.
func (s *Set) Runs(d Direction) bool { return s != nil && s.modes.Has(d) }

// Stateful reports whether the set has TRANSITION rules, which need
// Input.State on consume.
func (s *Set) Stateful() bool { return s != nil && s.stateful }

// Input is one record as the rules see it.
type Input struct {
	// Direction selects the rules: WRITE ones on produce, READ ones on
	// consume.
	Direction Direction
	// Topic is the record's topic.
	Topic string
	// Partition is the record's partition (consume; TRANSITION state is
	// per topic and partition).
	Partition int32
	// Key is the Kafka key; nil when the record has none (an empty,
	// non-nil key is the empty string).
	Key []byte
	// Headers are the record's headers.
	Headers []kgo.RecordHeader
	// Value is the decoded event (an Avro or Protobuf event in its JSON
	// form); nil reads as null.
	Value *jsonvalue.Doc
	// State is the subscription's TRANSITION memory; required on consume
	// when Stateful.
	State *State
}

// Outcome is what one rule found. Its String is the metric label value.
type Outcome uint8

// The outcomes.
const (
	// OutcomePass: the record meets the rule (a CEL guard that is false
	// or fails passes too, as in Confluent's clients).
	OutcomePass Outcome = iota
	// OutcomeFail: the record breaks the rule.
	OutcomeFail
	// OutcomeError: the rule could not be evaluated on this record (a
	// missing field, a type error, the runtime cost limit). It counts as
	// a failure: its rollout and onFailure apply.
	OutcomeError
	// OutcomeSkipped: the rule is disabled.
	OutcomeSkipped
)

// String returns pass, fail, error or skipped.
func (o Outcome) String() string {
	switch o {
	case OutcomePass:
		return "pass"
	case OutcomeFail:
		return "fail"
	case OutcomeError:
		return "error"
	case OutcomeSkipped:
		return "skipped"
	}
	return "unknown"
}

// Effect is what a result asks of the path carrying the record, from
// least to most severe.
type Effect uint8

// The effects.
const (
	// EffectNone: nothing (a pass, a skip, an observed failure or one
	// whose onFailure is NONE; failures are still counted).
	EffectNone Effect = iota
	// EffectWarn: let the record through and tell the producer (HTTP
	// Warning header, gRPC trailer) and the log.
	EffectWarn
	// EffectDeadLetter: write the record to the dead-letter topic instead
	// (onFailure DLQ, or ERROR on consume).
	EffectDeadLetter
	// EffectRefuse: refuse the record on produce (onFailure ERROR).
	EffectRefuse
)

// String returns none, warn, dead_letter or refuse.
func (e Effect) String() string {
	switch e {
	case EffectNone:
		return "none"
	case EffectWarn:
		return "warn"
	case EffectDeadLetter:
		return "dead_letter"
	case EffectRefuse:
		return "refuse"
	}
	return "unknown"
}

// Result is one rule's finding on one record.
type Result struct {
	// Rule is the rule's definition (name, doc, type, params, tags).
	Rule *Rule
	// Rollout is the rule's eventguard.mode.
	Rollout Rollout
	// Action is the rule's onFailure for this direction.
	Action Action
	// Outcome is what the rule found.
	Outcome Outcome
	// Effect is what the result asks of the path, from Outcome, Rollout,
	// Action and the direction.
	Effect Effect
	// Aborted marks an OutcomeError from the runtime cost limit.
	Aborted bool
	// Message says why the rule failed or errored, at most
	// Options.MaxMessageBytes; empty on a pass.
	Message string
	// From and To are a TRANSITION rule's move: From is empty for a key's
	// first record (the baseline).
	From, To string
}

// Verdict folds the results of one record.
type Verdict struct {
	// Effect is the most severe effect of the results.
	Effect Effect
	// Cause is the index of the first result with that effect, or -1 when
	// Effect is EffectNone.
	Cause int
	// Failures counts the results that failed or errored, whatever their
	// rollout or action.
	Failures int
	// Warnings counts the results whose effect is EffectWarn.
	Warnings int
}

// Fold returns the verdict of results: the worst effect and the first
// result that asks for it. Produce and consume both decide with it.
func Fold(results []Result) Verdict {
	v := Verdict{Cause: -1}
	for i := range results {
		r := &results[i]
		if r.Outcome == OutcomeFail || r.Outcome == OutcomeError {
			v.Failures++
		}
		if r.Effect == EffectWarn {
			v.Warnings++
		}
		if r.Effect > v.Effect {
			v.Effect, v.Cause = r.Effect, i
		}
	}
	return v
}

// effectOf maps a finding to what it asks of the path.
func effectOf(o Outcome, ro Rollout, a Action, d Direction) Effect {
	if o != OutcomeFail && o != OutcomeError {
		return EffectNone
	}
	switch ro {
	case Observe:
		return EffectNone
	case Warn:
		return EffectWarn
	}
	switch a {
	case ActionDLQ:
		return EffectDeadLetter
	case ActionError:
		if d == Write {
			return EffectRefuse
		}
		return EffectDeadLetter
	}
	return EffectNone
}

// Eval runs the rules of in.Direction on one record, in their declared
// order, and returns their results (reusing buf's memory) with the
// verdict. Disabled rules yield OutcomeSkipped. TRANSITION rules update
// the State only when the verdict lets the record through (EffectNone or
// EffectWarn): a refused or dead-lettered record moves nothing, and the
// next record of the key is compared with the last one delivered.
func (s *Set) Eval(in *Input, buf []Result) ([]Result, Verdict) {
	out := buf[:0]
	if !s.Runs(in.Direction) {
		return out, Verdict{Cause: -1}
	}
	ev := getEvalState(in)
	defer putEvalState(ev)
	for i := range s.rules {
		c := &s.rules[i]
		if !c.mode.Has(in.Direction) {
			continue
		}
		r := Result{Rule: c.def, Rollout: c.rollout, Action: c.actions[in.Direction]}
		switch {
		case c.def.Disabled:
			r.Outcome = OutcomeSkipped
		case c.cel != nil:
			r.Outcome, r.Message, r.Aborted = c.cel.eval(ev)
		case c.key != nil:
			r.Outcome, r.Message = c.key.check(in.Value, in.Key)
		case c.trans != nil:
			c.trans.eval(ev, c.def.Name, &r)
		}
		if len(r.Message) > s.maxMsg {
			r.Message = bound(r.Message, s.maxMsg)
		}
		r.Effect = effectOf(r.Outcome, r.Rollout, r.Action, in.Direction)
		out = append(out, r)
	}
	v := Fold(out)
	if len(ev.pending) > 0 && v.Effect <= EffectWarn {
		for _, p := range ev.pending {
			in.State.store(p.rule, in.Topic, in.Partition, in.Key, p.table.intern(p.value))
		}
	}
	return out, v
}

// evalState is one evaluation: the record, the lazily converted CEL
// variables, the arena of tape containers and the pending state moves. It
// is the CEL activation.
type evalState struct {
	in      *Input
	doc     *jsonvalue.Doc
	arena   []tapeNode
	vars    [4]ref.Val // message, key, headers, topic, once read
	headers headerMap
	pending []pendingMove
	sized   bool
	maxSize uint64 // once sized: the largest list, map or string of the record
}

var _ interpreter.Activation = (*evalState)(nil)

// maxPooledArena bounds the arena a pooled evalState keeps.
const maxPooledArena = 16 << 10

var evalPool = sync.Pool{New: func() any { return new(evalState) }}

func getEvalState(in *Input) *evalState {
	ev := evalPool.Get().(*evalState)
	ev.in, ev.doc = in, in.Value
	if in.Value != nil {
		if n := len(in.Value.Nodes); cap(ev.arena) < n {
			ev.arena = make([]tapeNode, n)
		} else {
			ev.arena = ev.arena[:n]
		}
	}
	return ev
}

func putEvalState(ev *evalState) {
	if cap(ev.arena) > maxPooledArena {
		ev.arena = nil
	}
	clear(ev.pending)
	ev.arena, ev.pending = ev.arena[:0], ev.pending[:0]
	ev.in, ev.doc, ev.vars, ev.headers, ev.sized = nil, nil, [4]ref.Val{}, headerMap{}, false
	evalPool.Put(ev)
}

// ResolveName implements interpreter.Activation: the four variables,
// converted the first time an expression reads them.
func (ev *evalState) ResolveName(name string) (any, bool) {
	var i int
	switch name {
	case VarMessage:
		i = 0
	case VarKey:
		i = 1
	case VarHeaders:
		i = 2
	case VarTopic:
		i = 3
	default:
		return nil, false
	}
	if v := ev.vars[i]; v != nil {
		return v, true
	}
	var v ref.Val
	switch i {
	case 0:
		if ev.doc == nil || len(ev.doc.Nodes) == 0 {
			v = types.NullValue
		} else {
			v = ev.nodeValue(0)
		}
	case 1:
		switch k := ev.in.Key; {
		case k == nil:
			v = types.NullValue
		case utf8.Valid(k):
			v = types.String(k)
		default:
			v = types.Bytes(k)
		}
	case 2:
		ev.headers = headerMap{hs: ev.in.Headers}
		v = &ev.headers
	case 3:
		v = types.String(ev.in.Topic)
	}
	ev.vars[i] = v
	return v, true
}

// size returns an upper bound of the size of every list, map and string
// a CEL rule can read from the record (items, members or bytes), computed
// once per record: the tape's node count bounds every container, its
// longest string the strings, and the key and headers count too.
func (ev *evalState) size() uint64 {
	if ev.sized {
		return ev.maxSize
	}
	n := len(ev.in.Key)
	if ev.doc != nil {
		n = max(n, len(ev.doc.Nodes))
		for i := range ev.doc.Nodes {
			n = max(n, len(ev.doc.Nodes[i].Str))
		}
	}
	n = max(n, len(ev.in.Headers))
	for i := range ev.in.Headers {
		n = max(n, len(ev.in.Headers[i].Key), len(ev.in.Headers[i].Value))
	}
	ev.sized, ev.maxSize = true, uint64(n)
	return ev.maxSize
}

// Parent implements interpreter.Activation.
func (ev *evalState) Parent() interpreter.Activation { return nil }

// String renders a result for a log line: `rule "positive-total" fail: …`.
func (r *Result) String() string {
	var b strings.Builder
	b.WriteString("rule ")
	if r.Rule != nil {
		b.WriteString(quote.String(r.Rule.Name))
	}
	b.WriteByte(' ')
	b.WriteString(r.Outcome.String())
	if r.Message != "" {
		b.WriteString(": ")
		b.WriteString(r.Message)
	}
	return b.String()
}
