package contracts

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"strconv"
	"strings"

	"github.com/twmb/franz-go/pkg/sr"

	"github.com/eventguard/eventguard/rules"
)

// loadRules gives v its rules: the subject's, each replaced by the
// version's own of the same name (<version>/rules.yaml, a list), and
// compiles them, so that a rule that does not compile fails the load
// (contracts check, register, dev) with its file and name.
func (v *Version) loadRules(fsys fs.FS, subjectRules []rules.Rule) error {
	v.Rules = append([]rules.Rule(nil), subjectRules...)
	file := path.Join(v.Subject, strconv.Itoa(v.Version), "rules.yaml")
	if b, err := fs.ReadFile(fsys, file); err == nil {
		own, err := rules.ParseYAML(b)
		if err != nil {
			return fmt.Errorf("%s: %w", file, err)
		}
		for _, r := range own {
			replaced := false
			for i := range v.Rules {
				if v.Rules[i].Name == r.Name {
					v.Rules[i], replaced = r, true
				}
			}
			if !replaced {
				v.Rules = append(v.Rules, r)
			}
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("%s: %w", file, err)
	}
	if len(v.Rules) == 0 {
		return nil
	}
	if _, err := rules.Compile(v.Rules, rules.Options{}); err != nil {
		return fmt.Errorf("rules of %s version %d (subject.yaml, %s): %w", v.Subject, v.Version, file, err)
	}
	return nil
}

// registryRules renders rules as the registry keeps them: the rules
// Confluent's clients can run (CEL) as the schema's ruleSet.domainRules,
// eventguard's own types (KEY, TRANSITION) as the metadata property
// rules.MetadataProperty (Confluent's clients would fail a domain rule of a
// type they have no executor for). Either may be nil.
func registryRules(rs []rules.Rule) (*sr.SchemaRuleSet, *sr.SchemaMetadata, error) {
	var confluent, own []rules.Rule
	for _, r := range rs {
		if rules.ConfluentType(r.Type) {
			confluent = append(confluent, r)
		} else {
			own = append(own, r)
		}
	}
	var set *sr.SchemaRuleSet
	if len(confluent) > 0 {
		var err error
		if set, err = ruleSet(confluent); err != nil {
			return nil, nil, err
		}
	}
	var meta *sr.SchemaMetadata
	if len(own) > 0 {
		b, err := json.Marshal(own)
		if err != nil {
			return nil, nil, fmt.Errorf("encode rules: %w", err)
		}
		meta = &sr.SchemaMetadata{Properties: map[string]string{rules.MetadataProperty: string(b)}}
	}
	return set, meta, nil
}

// ruleSet renders rules as a registry ruleSet (domain rules), in the
// shape Confluent's registry keeps and its clients read.
func ruleSet(rs []rules.Rule) (*sr.SchemaRuleSet, error) {
	out := &sr.SchemaRuleSet{DomainRules: make([]sr.SchemaRule, 0, len(rs))}
	for _, r := range rs {
		x := sr.SchemaRule{Name: r.Name, Doc: r.Doc, Type: r.Type, Tags: r.Tags, Params: r.Params, Expr: r.Expr,
			OnSuccess: r.OnSuccess, OnFailure: r.OnFailure, Disabled: r.Disabled}
		if err := x.Kind.UnmarshalText([]byte(r.Kind)); err != nil {
			return nil, fmt.Errorf("rule %q: kind: %w", r.Name, err)
		}
		mode := r.Mode
		if mode == "" {
			mode = "WRITEREAD" // rules' default, written out: a registry reads an absent mode otherwise
		}
		if err := x.Mode.UnmarshalText(bytes.ToUpper([]byte(strings.TrimSpace(mode)))); err != nil {
			return nil, fmt.Errorf("rule %q: mode: %w", r.Name, err)
		}
		if x.Tags == nil {
			x.Tags = []string{}
		}
		out.DomainRules = append(out.DomainRules, x)
	}
	return out, nil
}
