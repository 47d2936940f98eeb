package catalog

import (
	"cmp"
	"slices"
	"time"
)

// RuleEvent names one contract rule of one schema version on one topic.
type RuleEvent struct {
	Topic, Subject string
	Version        int
	// Rule is the rule's name; Mode its rollout (observe, warn, enforce).
	Rule, Mode string
}

// RuleUsage counts the records one feature produced, or one group
// consumed, that broke one rule: what an owner reads before moving a rule
// from observe to warn to enforce (a rule no feature breaks any more is
// safe to enforce).
type RuleUsage struct {
	Topic   string `json:"topic"`
	Subject string `json:"subject"`
	Version int    `json:"version"`
	Rule    string `json:"rule"`
	// Mode is the rule's rollout when it last failed.
	Mode string `json:"mode"`
	// Direction is produce (By is a feature) or consume (By is a group).
	Direction string    `json:"direction"`
	By        string    `json:"by"`
	Failures  uint64    `json:"failures"`
	LastSeen  time.Time `json:"last_seen"`
}

type ruleUsageKey struct {
	topic, subject string
	version        int
	rule           string
	produced       bool
	by             string
}

// RuleFailed records that a record produced by feature (produced) or
// consumed by group broke a rule: its outcome was fail or error. Bounded
// with the catalog's other pairs (Options.MaxPairs).
func (c *Catalog) RuleFailed(ev RuleEvent, by string, produced bool) {
	if c == nil || ev.Subject == "" || ev.Rule == "" {
		return
	}
	now := c.now().UTC()
	k := ruleUsageKey{ev.Topic, ev.Subject, ev.Version, Truncate(ev.Rule, MaxNameBytes), produced, by}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.rules == nil {
		c.rules = map[ruleUsageKey]*RuleUsage{}
	}
	u := c.rules[k]
	if u == nil {
		if c.pairs >= c.max {
			c.dropped++
			return
		}
		c.pairs++
		dir := "consume"
		if produced {
			dir = "produce"
		}
		u = &RuleUsage{Topic: ev.Topic, Subject: ev.Subject, Version: ev.Version, Rule: k.rule, Direction: dir, By: by}
		c.rules[k] = u
	}
	u.Mode = ev.Mode
	u.Failures++
	u.LastSeen = now
}

// ruleUsages returns the rule failures, sorted; c.mu is held.
func (c *Catalog) ruleUsages() []RuleUsage {
	out := make([]RuleUsage, 0, len(c.rules))
	for _, u := range c.rules {
		out = append(out, *u)
	}
	sortRuleUsages(out)
	return out
}

func sortRuleUsages(us []RuleUsage) {
	slices.SortFunc(us, func(a, b RuleUsage) int {
		return cmp.Or(cmp.Compare(a.Topic, b.Topic), cmp.Compare(a.Subject, b.Subject), cmp.Compare(a.Version, b.Version),
			cmp.Compare(a.Rule, b.Rule), cmp.Compare(a.Direction, b.Direction), cmp.Compare(a.By, b.By))
	})
}

// mergeRuleUsages adds us into by (Merge).
func mergeRuleUsages(by map[ruleUsageKey]*RuleUsage, us []RuleUsage) {
	for _, u := range us {
		k := ruleUsageKey{u.Topic, u.Subject, u.Version, u.Rule, u.Direction == "produce", u.By}
		m := by[k]
		if m == nil {
			c := u
			by[k] = &c
			continue
		}
		m.Failures += u.Failures
		if u.LastSeen.After(m.LastSeen) {
			m.LastSeen, m.Mode = u.LastSeen, u.Mode
		}
	}
}
