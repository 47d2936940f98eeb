package check

import (
	"fmt"
	"sync"

	"github.com/twmb/franz-go/pkg/sr"

	"github.com/eventguard/eventguard/dlq"
	"github.com/eventguard/eventguard/rules"
	"github.com/eventguard/eventguard/validate"
)

// CodeRuleViolation: a domain rule of the record's contract (CEL, KEY,
// TRANSITION; package rules) refused the record. A produce code and a
// dead-letter reason.
const CodeRuleViolation = dlq.ReasonRuleViolation

// SubjectRules are domain rules the sidecar's config adds to a subject's
// versions, for registries that do not keep a schema's ruleSet (Apicurio
// drops it) or to override one: a config rule replaces the registry's rule
// of the same name.
type SubjectRules struct {
	// Subject the rules apply to.
	Subject string
	// Version they apply to; 0 means every version.
	Version int
	// Rules in Confluent's shape.
	Rules []rules.Rule
}

// ruleKey identifies a schema version's rules: the same schema id may be
// registered under several subjects, with rules of their own.
type ruleKey struct {
	id      int
	subject string
	version int
}

// ruleEntry is a schema version's compiled rules, or why they do not
// compile.
type ruleEntry struct {
	set *rules.Set
	err error
}

// ruleSets compiles and caches the rules of schema versions: the
// registry's ruleSet.domainRules with the config's rules for the subject.
type ruleSets struct {
	config []SubjectRules
	opts   rules.Options
	cache  sync.Map // ruleKey → *ruleEntry
}

// forSchema returns s's compiled rules: nil when it has none, an error
// (naming the rule) when they do not compile.
func (r *ruleSets) forSchema(s *validate.Schema) (*rules.Set, error) {
	k := ruleKey{s.ID, s.Subject, s.Version}
	if e, ok := r.cache.Load(k); ok {
		e := e.(*ruleEntry)
		return e.set, e.err
	}
	list, err := r.declared(s)
	e := &ruleEntry{err: err}
	if err == nil && len(list) > 0 {
		e.set, e.err = rules.Compile(list, r.opts)
		if e.err != nil {
			e.err = fmt.Errorf("the rules of %s version %d do not compile: %w", s.Subject, s.Version, e.err)
		}
	}
	actual, _ := r.cache.LoadOrStore(k, e)
	e = actual.(*ruleEntry)
	return e.set, e.err
}

// declared gathers s's rules: the registry's (the ruleSet's domain rules,
// then eventguard's own types from the metadata property
// rules.MetadataProperty), then the config's for its subject and version,
// a config rule replacing the registry's rule of the same name.
func (r *ruleSets) declared(s *validate.Schema) ([]rules.Rule, error) {
	var list []rules.Rule
	if s.RuleSet != nil {
		for _, x := range s.RuleSet.DomainRules {
			list = append(list, fromRegistry(x))
		}
	}
	if s.Metadata != nil {
		if own, ok := s.Metadata.Properties[rules.MetadataProperty]; ok {
			parsed, err := rules.ParseJSON([]byte(own))
			if err != nil {
				return nil, fmt.Errorf("schema metadata %s: %w", rules.MetadataProperty, err)
			}
			list = append(list, parsed...)
		}
	}
	for _, sr := range r.config {
		if sr.Subject != s.Subject || (sr.Version != 0 && sr.Version != s.Version) {
			continue
		}
		for _, x := range sr.Rules {
			replaced := false
			for i := range list {
				if list[i].Name == x.Name {
					list[i], replaced = x, true
				}
			}
			if !replaced {
				list = append(list, x)
			}
		}
	}
	return list, nil
}

// fromRegistry converts a rule of a registry ruleSet. An absent kind reads
// as TRANSFORM and an absent mode as UPGRADE, as sr's enums (and
// Confluent's clients) read them: eventguard refuses both by name.
func fromRegistry(x sr.SchemaRule) rules.Rule {
	return rules.Rule{
		Name: x.Name, Doc: x.Doc, Kind: x.Kind.String(), Type: x.Type, Mode: x.Mode.String(),
		Expr: x.Expr, OnSuccess: x.OnSuccess, OnFailure: x.OnFailure, Params: x.Params, Tags: x.Tags, Disabled: x.Disabled,
	}
}

// CompileConfigRules compiles the config's rules alone, subject by
// subject, so that a rule that does not compile fails the sidecar's start
// (and run --config-test) with its name, rather than the first record.
func CompileConfigRules(rs []SubjectRules, opts rules.Options) error {
	for _, x := range rs {
		if _, err := rules.Compile(x.Rules, opts); err != nil {
			at := x.Subject
			if x.Version != 0 {
				at = fmt.Sprintf("%s version %d", x.Subject, x.Version)
			}
			return fmt.Errorf("rules of %s: %w", at, err)
		}
	}
	return nil
}

// ruleFailure renders the result that decided a rules verdict for an
// answer or a dead-letter message.
func ruleFailure(res *rules.Result) string {
	msg := fmt.Sprintf("rule %q (%s) %s", res.Rule.Name, res.Rule.Type, res.Outcome)
	if res.Message != "" {
		msg += ": " + res.Message
	}
	if res.Rule.Doc != "" {
		msg += " — " + res.Rule.Doc
	}
	return msg
}
