package check_test

import (
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sr"

	"github.com/eventguard/eventguard/check"
	"github.com/eventguard/eventguard/config"
	"github.com/eventguard/eventguard/internal/testutil"
	"github.com/eventguard/eventguard/rules"
	"github.com/eventguard/eventguard/validate"
)

const orderSchema = `{"type":"object","required":["order_id","status"],"properties":{"order_id":{"type":"string"},"status":{"type":"string"},"total":{"type":"number"}}}`

func yamlRules(t *testing.T, src string) []rules.Rule {
	t.Helper()
	rs, err := rules.ParseYAML([]byte(src))
	if err != nil {
		t.Fatal(err)
	}
	return rs
}

// TestProduceRules: a subject's rules from the config and from the
// registry's ruleSet run on produce (WRITE), each rollout and onFailure
// giving its effect.
func TestProduceRules(t *testing.T) {
	t.Parallel()
	st := testutil.Start(t)
	st.Register(t, "orders-value", orderSchema)
	// A registry ruleSet on another subject.
	if _, _, err := st.Registry.RegisterSchema("payments-value", sr.Schema{Type: sr.TypeJSON, Schema: orderSchema, SchemaRuleSet: &sr.SchemaRuleSet{DomainRules: []sr.SchemaRule{{
		Name: "positive", Kind: sr.SchemaRuleKindCondition, Mode: sr.SchemaRuleModeWrite, Type: "CEL", Expr: "message.total > 0.0", OnFailure: "ERROR",
	}}}}); err != nil {
		t.Fatal(err)
	}
	cfgRules := []check.SubjectRules{{Subject: "orders-value", Rules: yamlRules(t, `
- {name: key-is-order, kind: CONDITION, type: KEY, mode: WRITE, expr: /order_id, doc: the key is the order id}
- {name: warn-total, kind: CONDITION, type: CEL, mode: WRITE, expr: "message.total < 1000.0", params: {eventguard.mode: warn}}
- {name: quarantine, kind: CONDITION, type: CEL, mode: WRITE, expr: "message.status != 'poison'", onFailure: DLQ}
- {name: watch, kind: CONDITION, type: CEL, mode: WRITE, expr: "message.status != 'odd'", params: {eventguard.mode: observe}}
- {name: off, kind: CONDITION, type: CEL, mode: WRITE, expr: "false", disabled: true}
`)}}
	if err := check.CompileConfigRules(cfgRules, rules.Options{}); err != nil {
		t.Fatal(err)
	}
	c := check.New(check.Options{Resolver: st.Resolver(t, validate.Options{}), Rules: cfgRules})
	produce := func(topic, key, value string) check.Verdict {
		t.Helper()
		in := check.ProduceInput{Topic: config.Topic{Name: topic, SubjectStrategy: config.StrategyTopic}, Value: []byte(value), Key: []byte(key),
			Headers: func() []kgo.RecordHeader { return []kgo.RecordHeader{{Key: "origin", Value: []byte("test")}} }}
		v, err := c.Produce(ctx, &in, check.Memo{})
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	tests := []struct {
		name, topic, key, value string
		code                    string
		effect                  rules.Effect
		rule                    string
	}{
		{"all pass", "orders", "o-1", `{"order_id":"o-1","status":"new","total":5}`, "", rules.EffectNone, ""},
		{"key mismatch refused", "orders", "o-2", `{"order_id":"o-1","status":"new","total":5}`, check.CodeRuleViolation, rules.EffectRefuse, "key-is-order"},
		{"warn rule lets it through", "orders", "o-1", `{"order_id":"o-1","status":"new","total":5000}`, "", rules.EffectWarn, "warn-total"},
		{"DLQ rule diverts", "orders", "o-1", `{"order_id":"o-1","status":"poison","total":5}`, "", rules.EffectDeadLetter, "quarantine"},
		{"observe only counts", "orders", "o-1", `{"order_id":"o-1","status":"odd","total":5}`, "", rules.EffectNone, ""},
		{"refuse wins over warn", "orders", "x", `{"order_id":"o-1","status":"new","total":5000}`, check.CodeRuleViolation, rules.EffectRefuse, "key-is-order"},
		{"registry ruleSet runs", "payments", "", `{"order_id":"p","status":"new","total":-1}`, check.CodeRuleViolation, rules.EffectRefuse, "positive"},
		{"registry ruleSet passes", "payments", "", `{"order_id":"p","status":"new","total":1}`, "", rules.EffectNone, ""},
		{"a schema violation comes first", "orders", "x", `{"order_id":1}`, check.CodeSchemaViolation, rules.EffectNone, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := produce(tt.topic, tt.key, tt.value)
			if v.Code != tt.code || v.Effect != tt.effect {
				t.Fatalf("code %q effect %s (%s), want %q %s", v.Code, v.Effect, v.Message, tt.code, tt.effect)
			}
			got := ""
			if r := v.CauseRule(); r != nil {
				got = r.Rule.Name
			}
			if got != tt.rule {
				t.Errorf("cause %q, want %q", got, tt.rule)
			}
			if tt.code == check.CodeRuleViolation && !strings.Contains(v.Message, tt.rule) {
				t.Errorf("message %q does not name the rule", v.Message)
			}
		})
	}
	// Every rule of the subject reported, the disabled one skipped.
	v := produce("orders", "o-1", `{"order_id":"o-1","status":"odd","total":5}`)
	outcomes := map[string]string{}
	for _, r := range v.Rules {
		outcomes[r.Rule.Name] = r.Outcome.String()
	}
	want := map[string]string{"key-is-order": "pass", "warn-total": "pass", "quarantine": "pass", "watch": "fail", "off": "skipped"}
	for k, w := range want {
		if outcomes[k] != w {
			t.Errorf("rule %s: %q, want %q (all: %v)", k, outcomes[k], w, outcomes)
		}
	}
}

// TestRulesThatDoNotCompile: a config rule that does not compile fails at
// start, named; a registry rule that does not compile makes its schema
// unusable (never a silent pass).
func TestRulesThatDoNotCompile(t *testing.T) {
	t.Parallel()
	bad := []check.SubjectRules{{Subject: "orders-value", Rules: yamlRules(t, `[{name: broken, kind: CONDITION, type: CEL, expr: "message.total >"}]`)}}
	if err := check.CompileConfigRules(bad, rules.Options{}); err == nil || !strings.Contains(err.Error(), "broken") || !strings.Contains(err.Error(), "orders-value") {
		t.Errorf("CompileConfigRules: %v, want an error naming the rule and subject", err)
	}
	st := testutil.Start(t)
	id, _, err := st.Registry.RegisterSchema("orders-value", sr.Schema{Type: sr.TypeJSON, Schema: orderSchema, SchemaRuleSet: &sr.SchemaRuleSet{DomainRules: []sr.SchemaRule{{
		Name: "broken", Kind: sr.SchemaRuleKindCondition, Mode: sr.SchemaRuleModeWriteRead, Type: "CEL", Expr: "message.nope(",
	}}}})
	if err != nil {
		t.Fatal(err)
	}
	c := check.New(check.Options{Resolver: st.Resolver(t, validate.Options{})})
	in := check.ProduceInput{Topic: config.Topic{Name: "orders"}, Value: []byte(`{"order_id":"o","status":"s"}`)}
	v, err := c.Produce(ctx, &in, check.Memo{})
	if err != nil || v.Code != check.CodeUnusableSchema || !strings.Contains(v.Message, "broken") {
		t.Errorf("produce under a broken registry rule: %q %q %v", v.Code, v.Message, err)
	}
	cv, err := c.Consume(ctx, &check.ConsumeInput{Topic: config.Topic{Name: "orders"}, Value: validate.Frame(id, []byte(`{"order_id":"o","status":"s"}`))})
	if err != nil || cv.Code != check.CodeUnknownSchema || !strings.Contains(cv.Message, "broken") {
		t.Errorf("consume under a broken registry rule: %q %q %v", cv.Code, cv.Message, err)
	}
}

// TestConsumeTransitions: a TRANSITION rule follows each key's status per
// partition on consume; a forbidden move is a rule_violation and moves
// nothing; an observed one passes.
func TestConsumeTransitions(t *testing.T) {
	t.Parallel()
	st := testutil.Start(t)
	id, _ := st.Register(t, "orders-value", orderSchema)
	cfgRules := []check.SubjectRules{{Subject: "orders-value", Rules: yamlRules(t, `
- name: status-flow
  kind: CONDITION
  type: TRANSITION
  mode: READ
  expr: /status
  params: {transitions: "created -> approved|cancelled, approved -> shipped"}
`)}}
	c := check.New(check.Options{Resolver: st.Resolver(t, validate.Options{}), Rules: cfgRules})
	state := rules.NewState(100)
	consume := func(p int32, key, status string) check.ConsumeVerdict {
		t.Helper()
		v, err := c.Consume(ctx, &check.ConsumeInput{Topic: config.Topic{Name: "orders"}, Partition: p, Key: []byte(key), State: state,
			Value: validate.Frame(id, []byte(`{"order_id":"`+key+`","status":"`+status+`"}`))})
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	steps := []struct {
		p           int32
		key, status string
		code        string
	}{
		{0, "a", "created", ""},                      // baseline
		{1, "b", "created", ""},                      // another key, another partition
		{0, "a", "shipped", check.CodeRuleViolation}, // created -> shipped is not allowed
		{0, "a", "approved", ""},                     // still created: approved is
		{1, "b", "cancelled", ""},
		{0, "a", "shipped", ""},
		{1, "b", "approved", check.CodeRuleViolation}, // cancelled is final
	}
	for i, s := range steps {
		v := consume(s.p, s.key, s.status)
		if v.Code != s.code {
			t.Fatalf("step %d (%s %s): code %q (%s), want %q", i, s.key, s.status, v.Code, v.Message, s.code)
		}
		if s.code != "" && !strings.Contains(v.Message, "status-flow") {
			t.Errorf("step %d: message %q does not name the rule", i, v.Message)
		}
	}
}
