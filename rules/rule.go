package rules

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode"
	"unicode/utf8"

	"gopkg.in/yaml.v3"

	"github.com/eventguard/eventguard/internal/quote"
)

// Rule is one domain rule as Confluent's data contracts write it: an
// element of a schema's ruleSet.domainRules in the registry, of a subject's
// `rules:` list in subject.yaml, or of the sidecar config. Field names and
// values are Confluent's, so a contract written for Confluent's clients
// reads unchanged; [Compile] says which parts eventguard runs and refuses
// the rest by name.
type Rule struct {
	// Name identifies the rule in results, metrics and dead-letter headers:
	// 1 to 64 characters, a letter or '_' first, then letters, digits, '_'
	// or '-' (Confluent's rule). Unique within a rule set.
	Name string `json:"name" yaml:"name"`
	// Doc says what the rule means; it is quoted to whoever breaks it.
	Doc string `json:"doc,omitempty" yaml:"doc,omitempty"`
	// Kind must be CONDITION. Confluent reads a missing kind as TRANSFORM,
	// which eventguard does not run, so the kind is required.
	Kind string `json:"kind" yaml:"kind"`
	// Type is CEL, KEY or TRANSITION.
	Type string `json:"type" yaml:"type"`
	// Mode is WRITE (produce), READ (consume) or WRITEREAD (both, the
	// default). TRANSITION rules run on READ only.
	Mode string `json:"mode,omitempty" yaml:"mode,omitempty"`
	// Expr is the rule's expression: CEL source, a JSON pointer or key
	// template (KEY), a JSON pointer (TRANSITION).
	Expr string `json:"expr" yaml:"expr"`
	// OnSuccess must be empty or NONE: eventguard acts on failures only.
	OnSuccess string `json:"onSuccess,omitempty" yaml:"onSuccess,omitempty"`
	// OnFailure is ERROR (the default: refuse on produce, dead-letter on
	// consume), DLQ (dead-letter on both paths) or NONE (count only). A
	// WRITEREAD rule may name one action per path, "write,read", such as
	// "ERROR,NONE".
	OnFailure string `json:"onFailure,omitempty" yaml:"onFailure,omitempty"`
	// Params are the rule's parameters: eventguard.mode (observe, warn or
	// enforce; default enforce), and for TRANSITION rules transitions and
	// transitions.self.
	Params map[string]string `json:"params,omitempty" yaml:"params,omitempty"`
	// Tags are kept as data (Confluent uses them for field rules).
	Tags []string `json:"tags,omitempty" yaml:"tags,omitempty"`
	// Disabled rules are not compiled and yield OutcomeSkipped.
	Disabled bool `json:"disabled,omitempty" yaml:"disabled,omitempty"`
}

// RuleSet is a schema's ruleSet as Confluent's registry returns it.
// eventguard runs the domain rules; migration and encoding rules belong to
// the clients that translate or encrypt payloads and are not run here (see
// [RuleSet.NotRun]).
type RuleSet struct {
	// MigrationRules transform payloads between versions (UPGRADE,
	// DOWNGRADE, UPDOWN): not run by eventguard.
	MigrationRules []Rule `json:"migrationRules,omitempty" yaml:"migrationRules,omitempty"`
	// DomainRules are the conditions eventguard runs.
	DomainRules []Rule `json:"domainRules,omitempty" yaml:"domainRules,omitempty"`
	// EncodingRules act on encoded payloads (field encryption): not run by
	// eventguard.
	EncodingRules []Rule `json:"encodingRules,omitempty" yaml:"encodingRules,omitempty"`
}

// NotRun names the rules of rs that eventguard does not run (migration and
// encoding rules), for a log line; nil when there are none.
func (rs RuleSet) NotRun() []string {
	var out []string
	for _, r := range rs.MigrationRules {
		out = append(out, "migrationRules/"+r.Name)
	}
	for _, r := range rs.EncodingRules {
		out = append(out, "encodingRules/"+r.Name)
	}
	return out
}

// maxDefinitionBytes bounds the JSON or YAML text the parsers accept.
const maxDefinitionBytes = 1 << 20

// ParseRuleSet decodes a registry ruleSet from JSON, refusing trailing
// data and more than 1 MiB. Unknown fields are ignored, as Confluent's
// clients ignore them: a newer registry may add some. It checks nothing
// else: [Compile] does.
func ParseRuleSet(data []byte) (RuleSet, error) {
	var rs RuleSet
	if err := decodeJSON(data, &rs, false); err != nil {
		return RuleSet{}, fmt.Errorf("parse ruleSet: %w", err)
	}
	return rs, nil
}

// ParseJSON decodes a JSON array of rules written by hand, refusing
// unknown fields (a misspelt one would be ignored otherwise), trailing
// data and more than 1 MiB. Field names match case-insensitively, as
// encoding/json does.
func ParseJSON(data []byte) ([]Rule, error) {
	var rs []Rule
	if err := decodeJSON(data, &rs, true); err != nil {
		return nil, fmt.Errorf("parse rules: %w", err)
	}
	return rs, nil
}

// ParseYAML decodes a YAML list of rules (subject.yaml's `rules:` value, or
// the sidecar config's), refusing unknown fields and more than 1 MiB.
func ParseYAML(data []byte) ([]Rule, error) {
	if len(data) > maxDefinitionBytes {
		return nil, fmt.Errorf("parse rules: %d bytes, more than the %d accepted", len(data), maxDefinitionBytes)
	}
	var rs []Rule
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&rs); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("parse rules: %w", err)
	}
	return rs, nil
}

func decodeJSON(data []byte, v any, strict bool) error {
	if len(data) > maxDefinitionBytes {
		return fmt.Errorf("%d bytes, more than the %d accepted", len(data), maxDefinitionBytes)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	if strict {
		dec.DisallowUnknownFields()
	}
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return errors.New("trailing data after the value")
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return errors.New("trailing data after the value")
	}
	return nil
}

// Direction is the path a record takes.
type Direction uint8

// The directions.
const (
	// Write is the produce path (Confluent's WRITE).
	Write Direction = 1
	// Read is the consume path (Confluent's READ).
	Read Direction = 2
)

// String returns "write" or "read", the value of a metric's direction
// label.
func (d Direction) String() string {
	switch d {
	case Write:
		return "write"
	case Read:
		return "read"
	}
	return "unknown"
}

// Mode is the set of directions a rule runs on.
type Mode uint8

// The modes.
const (
	// ModeWrite runs on produce.
	ModeWrite = Mode(Write)
	// ModeRead runs on consume.
	ModeRead = Mode(Read)
	// ModeWriteRead runs on both (the default).
	ModeWriteRead = ModeWrite | ModeRead
)

// Has reports whether m includes d.
func (m Mode) Has(d Direction) bool { return m&Mode(d) != 0 }

// String returns Confluent's name: WRITE, READ or WRITEREAD.
func (m Mode) String() string {
	switch m {
	case ModeWrite:
		return "WRITE"
	case ModeRead:
		return "READ"
	case ModeWriteRead:
		return "WRITEREAD"
	}
	return "NONE"
}

// Action is what a failed enforced rule asks for (its onFailure).
type Action uint8

// The actions.
const (
	// ActionError refuses the record on produce and dead-letters it on
	// consume (the default).
	ActionError Action = iota
	// ActionDLQ dead-letters the record on both paths.
	ActionDLQ
	// ActionNone only counts the failure.
	ActionNone
)

// String returns Confluent's name: ERROR, DLQ or NONE.
func (a Action) String() string {
	switch a {
	case ActionError:
		return "ERROR"
	case ActionDLQ:
		return "DLQ"
	case ActionNone:
		return "NONE"
	}
	return "UNKNOWN"
}

// Rollout is a rule's stage, its eventguard.mode parameter.
type Rollout uint8

// The rollout stages, least to most severe.
const (
	// Enforce applies the rule's onFailure (the default).
	Enforce Rollout = iota
	// Warn lets the record through and tells the producer.
	Warn
	// Observe only counts.
	Observe
)

// String returns the parameter's value: enforce, warn or observe.
func (r Rollout) String() string {
	switch r {
	case Enforce:
		return "enforce"
	case Warn:
		return "warn"
	case Observe:
		return "observe"
	}
	return "unknown"
}

// The rule types eventguard runs.
const (
	// TypeCEL is a CEL condition over message, key, headers and topic.
	TypeCEL = "CEL"
	// TypeKey compares the Kafka key with values of the event.
	TypeKey = "KEY"
	// TypeTransition checks a key's moves from one value to the next.
	TypeTransition = "TRANSITION"
)

// Parameter names eventguard reads.
const (
	// ParamMode is the rollout stage: observe, warn or enforce.
	ParamMode = "eventguard.mode"
	// ParamTransitions lists a TRANSITION rule's allowed moves.
	ParamTransitions = "transitions"
	// ParamTransitionsSelf says whether a value may follow itself: allow
	// (the default) or deny.
	ParamTransitionsSelf = "transitions.self"
)

// maxNameLen is Confluent's bound on a rule name.
const maxNameLen = 64

// checkName applies Confluent's rule for names: a letter or '_' first,
// then letters, digits, '_' or '-', at most 64 characters.
func checkName(name string) error {
	if name == "" {
		return errors.New("name is empty")
	}
	if !utf8.ValidString(name) {
		return errors.New("name is not valid UTF-8")
	}
	if utf8.RuneCountInString(name) > maxNameLen {
		return fmt.Errorf("name is longer than %d characters", maxNameLen)
	}
	for i, c := range name {
		ok := unicode.IsLetter(c) || c == '_' || (i > 0 && (unicode.IsDigit(c) || c == '-'))
		if !ok {
			return fmt.Errorf("name %s: want a letter or '_' first, then letters, digits, '_' or '-'", quote.String(name))
		}
	}
	return nil
}

// parseMode reads a rule's mode for its type.
func parseMode(s, typ string) (Mode, error) {
	var m Mode
	switch s {
	case "", "WRITEREAD":
		m = ModeWriteRead
	case "WRITE":
		m = ModeWrite
	case "READ":
		m = ModeRead
	case "UPGRADE", "DOWNGRADE", "UPDOWN":
		return 0, fmt.Errorf("mode %s is for migration rules, which eventguard does not run: want WRITE, READ or WRITEREAD", s)
	default:
		return 0, fmt.Errorf("mode %s: want WRITE, READ or WRITEREAD (upper case, as Confluent's registry requires)", quote.String(s))
	}
	if typ == TypeTransition {
		if m == ModeWrite {
			return 0, errors.New("mode WRITE: TRANSITION rules run on READ (consume) only, where each partition's order is known")
		}
		m = ModeRead
	}
	return m, nil
}

// parseActions reads onFailure into the action for each direction,
// indexed by Direction.
func parseActions(s string, mode string) ([3]Action, error) {
	var out [3]Action
	if s == "" {
		return out, nil // ActionError, Confluent's default
	}
	parts := []string{s}
	if strings.Contains(s, ",") {
		if mode != "" && mode != "WRITEREAD" {
			return out, fmt.Errorf("onFailure %s: a pair of actions (write,read) is only valid with mode WRITEREAD", quote.String(s))
		}
		parts = strings.Split(s, ",")
		if len(parts) != 2 {
			return out, fmt.Errorf("onFailure %s: want one action or a pair write,read", quote.String(s))
		}
	}
	var acts [2]Action
	for i, p := range parts {
		switch p {
		case "ERROR":
			acts[i] = ActionError
		case "DLQ":
			acts[i] = ActionDLQ
		case "NONE":
			acts[i] = ActionNone
		default:
			return out, fmt.Errorf("onFailure %s: want ERROR, DLQ or NONE (upper case)", quote.String(s))
		}
	}
	if len(parts) == 1 {
		acts[1] = acts[0]
	}
	out[Write], out[Read] = acts[0], acts[1]
	return out, nil
}

// checkOnSuccess accepts the one onSuccess eventguard honours: nothing.
func checkOnSuccess(s string) error {
	switch s {
	case "", "NONE", "NONE,NONE":
		return nil
	}
	return fmt.Errorf("onSuccess %s: eventguard acts on failures only; leave it empty or NONE", quote.String(s))
}

// parseRollout reads the eventguard.mode parameter and refuses unknown
// eventguard.* parameters (a typo would otherwise be ignored).
func parseRollout(params map[string]string) (Rollout, error) {
	for k := range params {
		if strings.HasPrefix(k, "eventguard.") && k != ParamMode {
			return 0, fmt.Errorf("params: unknown parameter %s (eventguard reads %s)", quote.String(k), ParamMode)
		}
	}
	switch v := params[ParamMode]; v {
	case "", "enforce":
		return Enforce, nil
	case "warn":
		return Warn, nil
	case "observe":
		return Observe, nil
	default:
		return 0, fmt.Errorf("params: %s is %s: want observe, warn or enforce", ParamMode, quote.String(v))
	}
}

// MetadataProperty is the schema metadata property that carries, as a JSON
// array of rules, a schema version's rules of eventguard's own types (KEY,
// TRANSITION). They are kept out of ruleSet.domainRules because a
// Confluent client that runs domain rules fails every rule it has no
// executor for: a subject's rules of those types would stop every
// Confluent producer and consumer of it. Confluent's clients ignore
// metadata properties.
const MetadataProperty = "eventguard.rules"

// ConfluentType reports whether Confluent's clients have an executor for a
// rule type (CEL), so the rule may sit in a registry ruleSet.
func ConfluentType(typ string) bool {
	return strings.EqualFold(typ, TypeCEL)
}
