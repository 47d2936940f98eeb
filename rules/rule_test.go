package rules

import (
	"errors"
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/eventguard/eventguard/internal/quote"
)

func TestParseRuleSetConfluentShape(t *testing.T) {
	data, err := os.ReadFile("testdata/ruleset.json")
	if err != nil {
		t.Fatal(err)
	}
	rs, err := ParseRuleSet(data)
	if err != nil {
		t.Fatal(err)
	}
	if len(rs.DomainRules) != 3 || len(rs.MigrationRules) != 1 {
		t.Fatalf("got %d domain and %d migration rules, want 3 and 1", len(rs.DomainRules), len(rs.MigrationRules))
	}
	want := Rule{
		Name: "positiveTotal", Doc: "An order's total is positive.", Kind: "CONDITION", Mode: "WRITE", Type: "CEL",
		Tags: []string{}, Params: map[string]string{"eventguard.mode": "warn"}, Expr: "double(message.total_amount) > 0.0",
		OnSuccess: "NONE", OnFailure: "ERROR",
	}
	if !reflect.DeepEqual(rs.DomainRules[0], want) {
		t.Errorf("rule 0 = %+v, want %+v", rs.DomainRules[0], want)
	}
	if got := rs.NotRun(); !reflect.DeepEqual(got, []string{"migrationRules/renameField"}) {
		t.Errorf("NotRun() = %v", got)
	}
	s, err := Compile(rs.DomainRules, Options{})
	if err != nil {
		t.Fatalf("Compile: %v", err)
	}
	if s.Len() != 3 || !s.Runs(Write) || !s.Runs(Read) || s.Stateful() {
		t.Errorf("Len %d, Runs(write) %v, Runs(read) %v, Stateful %v", s.Len(), s.Runs(Write), s.Runs(Read), s.Stateful())
	}
}

func TestParseYAMLSubjectShape(t *testing.T) {
	data, err := os.ReadFile("testdata/rules.yaml")
	if err != nil {
		t.Fatal(err)
	}
	rs, err := ParseYAML(data)
	if err != nil {
		t.Fatal(err)
	}
	if len(rs) != 2 || rs[1].Params[ParamTransitionsSelf] != "deny" || rs[0].Params[ParamMode] != "warn" {
		t.Fatalf("parsed %+v", rs)
	}
	s := mustCompile(t, Options{}, rs...)
	if !s.Stateful() || s.Runs(Write) != true {
		t.Errorf("Stateful %v Runs(write) %v", s.Stateful(), s.Runs(Write))
	}
}

func TestParseRefusesUnknownFieldsAndTrailingData(t *testing.T) {
	for name, f := range map[string]func() error{
		"json unknown field": func() error { _, err := ParseJSON([]byte(`[{"name":"a","exprs":"x"}]`)); return err },
		"json trailing":      func() error { _, err := ParseJSON([]byte(`[] []`)); return err },
		"json not a list":    func() error { _, err := ParseJSON([]byte(`{"name":"a"}`)); return err },
		"ruleSet trailing":   func() error { _, err := ParseRuleSet([]byte(`{} x`)); return err },
		"ruleSet too large":  func() error { _, err := ParseRuleSet(make([]byte, maxDefinitionBytes+1)); return err },
		"yaml unknown field": func() error { _, err := ParseYAML([]byte("- name: a\n  exprs: x\n")); return err },
		"yaml too large":     func() error { _, err := ParseYAML(make([]byte, maxDefinitionBytes+1)); return err },
		"json too large":     func() error { _, err := ParseJSON(make([]byte, maxDefinitionBytes+1)); return err },
	} {
		if err := f(); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

func TestParseRuleSetIgnoresNewFields(t *testing.T) {
	rs, err := ParseRuleSet([]byte(`{"domainRules":[{"name":"a","kind":"CONDITION","type":"CEL","expr":"true","futureField":1}],"futureRules":[]}`))
	if err != nil || len(rs.DomainRules) != 1 {
		t.Fatalf("ParseRuleSet = %+v, %v", rs, err)
	}
}

func TestParseYAMLScalarParams(t *testing.T) {
	rs, err := ParseYAML([]byte("- name: a\n  kind: CONDITION\n  type: CEL\n  expr: 'true'\n  params: {limit: 5, on: true}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if rs[0].Params["limit"] != "5" || rs[0].Params["on"] != "true" {
		t.Errorf("params = %v, want strings", rs[0].Params)
	}
}

func TestCompileRefusesClearly(t *testing.T) {
	long := strings.Repeat("a", 65)
	cases := []struct {
		name string
		rule Rule
		want []string
	}{
		{"missing kind", Rule{Name: "r", Type: TypeCEL, Expr: "true"}, []string{"kind is missing", "TRANSFORM"}},
		{"transform", with(cond("r", "CEL", "true"), func(r *Rule) { r.Kind = "TRANSFORM" }), []string{"kind TRANSFORM", "never rewrites"}},
		{"lower-case kind", with(cond("r", "CEL", "true"), func(r *Rule) { r.Kind = "condition" }), []string{`kind "condition"`}},
		{"migration mode", with(cond("r", "CEL", "true"), func(r *Rule) { r.Mode = "UPGRADE" }), []string{"mode UPGRADE", "migration"}},
		{"updown", with(cond("r", "CEL", "true"), func(r *Rule) { r.Mode = "UPDOWN" }), []string{"mode UPDOWN"}},
		{"lower-case mode", with(cond("r", "CEL", "true"), func(r *Rule) { r.Mode = "write" }), []string{`mode "write"`, "upper case"}},
		{"pair with WRITE", with(cond("r", "CEL", "true"), func(r *Rule) { r.Mode, r.OnFailure = "WRITE", "ERROR,NONE" }), []string{"only valid with mode WRITEREAD"}},
		{"three actions", with(cond("r", "CEL", "true"), func(r *Rule) { r.OnFailure = "ERROR,NONE,DLQ" }), []string{"want one action or a pair"}},
		{"unknown action", with(cond("r", "CEL", "true"), func(r *Rule) { r.OnFailure = "RETRY" }), []string{`onFailure "RETRY"`, "ERROR, DLQ or NONE"}},
		{"onSuccess action", with(cond("r", "CEL", "true"), func(r *Rule) { r.OnSuccess = "DLQ" }), []string{`onSuccess "DLQ"`, "failures only"}},
		{"bad rollout", with(cond("r", "CEL", "true"), func(r *Rule) { r.Params = map[string]string{ParamMode: "shadow"} }), []string{"eventguard.mode", `"shadow"`}},
		{"unknown eventguard param", with(cond("r", "CEL", "true"), func(r *Rule) { r.Params = map[string]string{"eventguard.moed": "warn"} }), []string{`unknown parameter "eventguard.moed"`}},
		{"transitions on CEL", with(cond("r", "CEL", "true"), func(r *Rule) { r.Params = map[string]string{ParamTransitions: "a -> b"} }), []string{"TRANSITION rules only"}},
		{"missing type", Rule{Name: "r", Kind: "CONDITION", Expr: "true"}, []string{"type is missing"}},
		{"CEL_FIELD", cond("r", "CEL_FIELD", "true"), []string{"CEL_FIELD", "not run by eventguard"}},
		{"JSONATA", cond("r", "JSONATA", "$"), []string{`type "JSONATA"`}},
		{"empty name", cond("", "CEL", "true"), []string{"name is empty"}},
		{"digit first", cond("1rule", "CEL", "true"), []string{"a letter or '_' first"}},
		{"dot in name", cond("a.b", "CEL", "true"), []string{"a letter or '_' first"}},
		{"long name", cond(long, "CEL", "true"), []string{"longer than 64"}},
		{"long expr", cond("r", "CEL", "true || "+strings.Repeat("true || ", 600)+"true"), []string{"more than the 4096 accepted"}},
		{"CEL syntax", cond("r", "CEL", "message.total >"), []string{"CEL:", "Syntax error"}},
		{"CEL undeclared", cond("r", "CEL", "mesage.total > 0"), []string{"undeclared reference to 'mesage'"}},
		{"CEL not bool", cond("r", "CEL", "1 + 2"), []string{"yields int, want bool"}},
		{"CEL bad regex", cond("r", "CEL", "message.s.matches('[')"), []string{"invalid matches argument"}},
		{"CEL empty", cond("r", "CEL", "  "), []string{"expression is empty"}},
		{"CEL guard error", cond("r", "CEL", "nope; true"), []string{"guard (before ';')", "undeclared reference to 'nope'"}},
		{"CEL quadratic", cond("r", "CEL", "message.items.all(i, message.items.all(j, i.quantity <= j.quantity))"), []string{"estimated cost up to", "over the limit of 1000000", "1000 items"}},
		{"KEY empty", cond("r", "KEY", ""), []string{"expr is empty"}},
		{"KEY not a pointer", cond("r", "KEY", "order_id"), []string{"does not start with '/'", "braces"}},
		{"KEY bad escape", cond("r", "KEY", "/a~2b"), []string{"'~' must be followed by 0 or 1"}},
		{"KEY unclosed", cond("r", "KEY", "{/tenant_id:{/order_id}"), []string{"'{' inside the pointer"}},
		{"KEY open", cond("r", "KEY", "x{/a"), []string{"is not closed"}},
		{"KEY stray close", cond("r", "KEY", "{/a}}x}"), []string{"closes nothing"}},
		{"KEY no pointer", cond("r", "KEY", "{{x}}"), []string{"names no pointer"}},
		{"KEY not pointer in braces", cond("r", "KEY", "{a}"), []string{"want a JSON pointer"}},
		{"TRANSITION write", with(cond("r", "TRANSITION", "/status"), func(r *Rule) {
			r.Mode, r.Params = "WRITE", map[string]string{ParamTransitions: "a -> b"}
		}), []string{"mode WRITE", "READ (consume) only"}},
		{"TRANSITION no table", cond("r", "TRANSITION", "/status"), []string{"transitions is required"}},
		{"TRANSITION not a pointer", with(cond("r", "TRANSITION", "status"), func(r *Rule) { r.Params = map[string]string{ParamTransitions: "a -> b"} }), []string{"want the JSON pointer"}},
		{"TRANSITION bad self", with(cond("r", "TRANSITION", "/status"), func(r *Rule) {
			r.Params = map[string]string{ParamTransitions: "a -> b", ParamTransitionsSelf: "maybe"}
		}), []string{"transitions.self", "allow or deny"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := compileErr(t, Options{}, c.rule)
			wantContains(t, err.Error(), c.want...)
			wantContains(t, err.Error(), "rule "+quote.String(c.rule.Name)+" (#0)")
		})
	}
}

func TestCompileReportsEveryBadRule(t *testing.T) {
	_, err := Compile([]Rule{
		cond("good", "CEL", "true"),
		cond("bad1", "CEL", "nope"),
		cond("good2", "KEY", "/id"),
		cond("bad2", "KEY", "id"),
		cond("good", "CEL", "false"),
	}, Options{})
	if err == nil {
		t.Fatal("no error")
	}
	wantContains(t, err.Error(), `rule "bad1" (#1)`, `rule "bad2" (#3)`, `rule "good" (#4): name is also rule #0's`)
	var ce *CompileError
	if !errors.As(err, &ce) || ce.Index != 1 || ce.Name != "bad1" {
		t.Errorf("first CompileError = %+v", ce)
	}
	if strings.Contains(err.Error(), "good2") {
		t.Errorf("a good rule is reported: %v", err)
	}
}

func TestDisabledRulesAreOnlyNamed(t *testing.T) {
	s := mustCompile(t, Options{},
		with(cond("futureRule", "CEL_FIELD", "whatever ("), func(r *Rule) { r.Disabled = true }),
		with(cond("readOnly", "CEL", "nope"), func(r *Rule) { r.Disabled, r.Mode = true, "READ" }),
	)
	res, v := s.Eval(&Input{Direction: Write}, nil)
	if len(res) != 1 || res[0].Outcome != OutcomeSkipped || res[0].Rule.Name != "futureRule" || v.Effect != EffectNone {
		t.Fatalf("write results %+v verdict %+v", res, v)
	}
	res, _ = s.Eval(&Input{Direction: Read}, nil)
	if len(res) != 2 || res[1].Outcome != OutcomeSkipped {
		t.Fatalf("read results %+v", res)
	}
	compileErr(t, Options{}, with(cond("bad name!", "CEL", "true"), func(r *Rule) { r.Disabled = true }))
}

func TestOptionsBoundExpr(t *testing.T) {
	compileErr(t, Options{MaxExprBytes: 10}, cond("r", "CEL", "1 + 1 == 2 && true"))
	mustCompile(t, Options{MaxExprBytes: 100}, cond("r", "CEL", "1 + 1 == 2 && true"))
	if o := (Options{MaxExprBytes: 1 << 30}).withDefaults(); o.MaxExprBytes != hardMaxExprBytes {
		t.Errorf("MaxExprBytes capped at %d, want %d", o.MaxExprBytes, hardMaxExprBytes)
	}
	if o := (Options{}).withDefaults(); o.MaxCost != DefaultMaxCost || o.SizeHint != DefaultSizeHint ||
		o.MaxEstimatedCost != DefaultMaxEstimatedCost || o.MaxMessageBytes != DefaultMaxMessageBytes {
		t.Errorf("defaults %+v", o)
	}
}

func TestNamesFollowConfluent(t *testing.T) {
	for _, ok := range []string{"a", "_a", "orderKey", "order-key_2", "ÉtatCommande", strings.Repeat("é", 64)} {
		if err := checkName(ok); err != nil {
			t.Errorf("checkName(%q) = %v", ok, err)
		}
	}
	for _, bad := range []string{"", "-a", "2a", "a b", "a.b", "a:b", strings.Repeat("é", 65), "a\x00", "\xff"} {
		if err := checkName(bad); err == nil {
			t.Errorf("checkName(%q) = nil", bad)
		}
	}
}
