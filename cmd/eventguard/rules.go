package main

import (
	"fmt"

	"gopkg.in/yaml.v3"

	"github.com/eventguard/eventguard/check"
	"github.com/eventguard/eventguard/config"
	"github.com/eventguard/eventguard/rules"
)

// configRules reads the config's rules (rules.subjects) and compiles them,
// so that a rule that does not parse or compile stops the start (and
// run --config-test) with its subject and name.
func configRules(cfg *config.Config) ([]check.SubjectRules, rules.Options, error) {
	opts := rules.Options{MaxCost: uint64(cfg.Rules.MaxCost)}
	out := make([]check.SubjectRules, 0, len(cfg.Rules.Subjects))
	for i, s := range cfg.Rules.Subjects {
		b, err := yaml.Marshal(&s.Rules)
		if err != nil {
			return nil, opts, fmt.Errorf("rules.subjects[%d].rules: %w", i, err)
		}
		rs, err := rules.ParseYAML(b)
		if err != nil {
			return nil, opts, fmt.Errorf("rules.subjects[%d].rules (%s): %w", i, s.Subject, err)
		}
		out = append(out, check.SubjectRules{Subject: s.Subject, Version: s.Version, Rules: rs})
	}
	if err := check.CompileConfigRules(out, opts); err != nil {
		return nil, opts, fmt.Errorf("rules.subjects: %w", err)
	}
	return out, opts, nil
}
