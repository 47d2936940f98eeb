package rules

import (
	"strings"
	"sync"
	"testing"
	"unicode/utf8"
)

// TestEffects: every mode, rollout and onFailure on both paths, for a
// failing rule (and that a pass asks for nothing whatever its settings).
func TestEffects(t *testing.T) {
	cases := []struct {
		mode, onFailure, rollout string
		write, read              Effect // -1: the rule does not run that way
	}{
		{"", "", "", EffectRefuse, EffectDeadLetter},
		{"WRITEREAD", "ERROR", "enforce", EffectRefuse, EffectDeadLetter},
		{"WRITEREAD", "DLQ", "", EffectDeadLetter, EffectDeadLetter},
		{"WRITEREAD", "NONE", "", EffectNone, EffectNone},
		{"WRITEREAD", "ERROR,NONE", "", EffectRefuse, EffectNone},
		{"WRITEREAD", "NONE,DLQ", "", EffectNone, EffectDeadLetter},
		{"WRITEREAD", "DLQ,ERROR", "", EffectDeadLetter, EffectDeadLetter},
		{"WRITE", "ERROR", "", EffectRefuse, 255},
		{"READ", "ERROR", "", 255, EffectDeadLetter},
		{"READ", "DLQ", "warn", 255, EffectWarn},
		{"WRITEREAD", "ERROR", "warn", EffectWarn, EffectWarn},
		{"WRITEREAD", "ERROR", "observe", EffectNone, EffectNone},
		{"WRITEREAD", "NONE", "warn", EffectWarn, EffectWarn},
	}
	for _, c := range cases {
		name := c.mode + "/" + c.onFailure + "/" + c.rollout
		t.Run(name, func(t *testing.T) {
			r := cond("r", TypeCEL, "message.ok")
			r.Mode, r.OnFailure = c.mode, c.onFailure
			if c.rollout != "" {
				r.Params = map[string]string{ParamMode: c.rollout}
			}
			s := mustCompile(t, Options{}, r)
			for _, d := range []struct {
				dir  Direction
				want Effect
			}{{Write, c.write}, {Read, c.read}} {
				for _, ok := range []string{"false", "true"} {
					res, v := s.Eval(&Input{Direction: d.dir, Value: parseDoc(t, `{"ok":`+ok+`}`)}, nil)
					if d.want == 255 {
						if len(res) != 0 || v.Effect != EffectNone || v.Cause != -1 {
							t.Errorf("%v: ran (%+v)", d.dir, res)
						}
						continue
					}
					want := d.want
					if ok == "true" {
						want = EffectNone
					}
					if len(res) != 1 || res[0].Effect != want || v.Effect != want {
						t.Errorf("%v ok=%s: results %+v verdict %+v, want %v", d.dir, ok, res, v, want)
					}
				}
			}
		})
	}
}

func TestErrorsCountAsFailures(t *testing.T) {
	s := mustCompile(t, Options{}, cond("r", TypeCEL, "message.missing == 1"))
	res, v := s.Eval(&Input{Direction: Write, Value: parseDoc(t, `{}`)}, nil)
	if res[0].Outcome != OutcomeError || res[0].Effect != EffectRefuse || v.Failures != 1 || v.Cause != 0 {
		t.Errorf("results %+v verdict %+v", res, v)
	}
}

func TestFold(t *testing.T) {
	rs := []Result{
		{Outcome: OutcomePass},
		{Outcome: OutcomeFail, Effect: EffectWarn},
		{Outcome: OutcomeError, Effect: EffectDeadLetter},
		{Outcome: OutcomeFail, Effect: EffectNone},
		{Outcome: OutcomeFail, Effect: EffectDeadLetter},
		{Outcome: OutcomeSkipped},
		{Outcome: OutcomeFail, Effect: EffectWarn},
	}
	v := Fold(rs)
	want := Verdict{Effect: EffectDeadLetter, Cause: 2, Failures: 5, Warnings: 2}
	if v != want {
		t.Errorf("Fold = %+v, want %+v", v, want)
	}
	rs = append(rs, Result{Outcome: OutcomeFail, Effect: EffectRefuse})
	if v := Fold(rs); v.Effect != EffectRefuse || v.Cause != 7 {
		t.Errorf("Fold with a refusal = %+v", v)
	}
	if v := Fold(nil); v != (Verdict{Cause: -1}) {
		t.Errorf("Fold(nil) = %+v", v)
	}
}

func TestEvalOrderAndBuffer(t *testing.T) {
	s := mustCompile(t, Options{},
		cond("first", TypeCEL, "true"),
		with(cond("second", TypeCEL, "false"), func(r *Rule) { r.Mode = "READ" }),
		with(cond("third", TypeCEL, "false"), func(r *Rule) { r.Params = map[string]string{ParamMode: "warn"} }),
		with(cond("fourth", TypeKey, "/id"), func(r *Rule) { r.Disabled = true }),
	)
	buf := make([]Result, 8)
	res, v := s.Eval(&Input{Direction: Write, Value: parseDoc(t, `{}`)}, buf)
	var names []string
	for _, r := range res {
		names = append(names, r.Rule.Name+":"+r.Outcome.String())
	}
	if got := strings.Join(names, " "); got != "first:pass third:fail fourth:skipped" {
		t.Errorf("results %s", got)
	}
	if &res[0] != &buf[0] {
		t.Error("Eval did not reuse buf")
	}
	if v.Effect != EffectWarn || v.Cause != 1 || v.Warnings != 1 {
		t.Errorf("verdict %+v", v)
	}
}

func TestNilSetAndNoRules(t *testing.T) {
	var s *Set
	if res, v := s.Eval(&Input{Direction: Write}, nil); len(res) != 0 || v.Effect != EffectNone || v.Cause != -1 {
		t.Errorf("nil set: %+v %+v", res, v)
	}
	if s.Len() != 0 || s.Runs(Read) || s.Stateful() || s.Rules() != nil {
		t.Error("nil set reports rules")
	}
	empty := mustCompile(t, Options{})
	if res, _ := empty.Eval(&Input{Direction: Read}, nil); len(res) != 0 {
		t.Errorf("empty set: %+v", res)
	}
}

func TestMessagesAreBounded(t *testing.T) {
	long := strings.Repeat("ü", 400)
	s := mustCompile(t, Options{}, cond("r", TypeCEL, "message.s == '"+long+"' || false"))
	r := evalOne(t, s, &Input{Direction: Write, Value: parseDoc(t, `{"s":"x"}`)})
	if len(r.Message) > DefaultMaxMessageBytes || !utf8.ValidString(r.Message) || !strings.HasSuffix(r.Message, "…") {
		t.Errorf("message of %d bytes: %q", len(r.Message), r.Message)
	}
	s = mustCompile(t, Options{MaxMessageBytes: 40}, cond("r", TypeCEL, "message.nope"))
	if r := evalOne(t, s, &Input{Direction: Write, Value: parseDoc(t, `{}`)}); len(r.Message) > 40 {
		t.Errorf("message of %d bytes over 40: %q", len(r.Message), r.Message)
	}
}

func TestResultString(t *testing.T) {
	r := Result{Rule: &Rule{Name: "positiveTotal"}, Outcome: OutcomeFail, Message: "condition is false: x"}
	if got := r.String(); got != `rule "positiveTotal" fail: condition is false: x` {
		t.Errorf("String() = %q", got)
	}
	for v, want := range map[interface{ String() string }]string{
		Write: "write", Read: "read", ModeWriteRead: "WRITEREAD", ModeRead: "READ", ModeWrite: "WRITE",
		ActionError: "ERROR", ActionDLQ: "DLQ", ActionNone: "NONE", Enforce: "enforce", Warn: "warn", Observe: "observe",
		OutcomePass: "pass", OutcomeFail: "fail", OutcomeError: "error", OutcomeSkipped: "skipped",
		EffectNone: "none", EffectWarn: "warn", EffectDeadLetter: "dead_letter", EffectRefuse: "refuse",
	} {
		if v.String() != want {
			t.Errorf("%#v.String() = %q, want %q", v, v.String(), want)
		}
	}
}

// TestEvalConcurrent runs one Set from many goroutines (go test -race).
func TestEvalConcurrent(t *testing.T) {
	s := mustCompile(t, Options{},
		cond("total", TypeCEL, "double(message.total_amount) > 0.0"),
		cond("items", TypeCEL, "message.items.all(i, i.quantity > 0)"),
		cond("key", TypeKey, "{/tenant_id}:{/order_id}"),
		with(cond("status", TypeTransition, "/order_type"), func(r *Rule) { r.Params = map[string]string{ParamTransitions: "* -> takeout"} }),
	)
	doc := loadDoc(t, goldenOrder)
	st := NewState(0)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var buf []Result
			for i := range 200 {
				in := &Input{Direction: Read, Partition: int32(g), Key: []byte("cafe-12:" + goldenOrderID), Value: doc, State: st}
				var v Verdict
				buf, v = s.Eval(in, buf)
				if v.Effect != EffectNone || len(buf) != 4 {
					t.Errorf("goroutine %d record %d: %+v %+v", g, i, buf, v)
					return
				}
			}
		}()
	}
	wg.Wait()
	if st.Len() != 8 {
		t.Errorf("state has %d entries, want one per partition", st.Len())
	}
}

// FuzzCompile: any JSON list of rules parses and compiles or is refused
// with an error; nothing panics, and a compiled set evaluates.
func FuzzCompile(f *testing.F) {
	f.Add(`[{"name":"a","kind":"CONDITION","type":"CEL","expr":"message.x > 1"}]`)
	f.Add(`[{"name":"k","kind":"CONDITION","type":"KEY","expr":"{/a}:{/b}","onFailure":"ERROR,DLQ"}]`)
	f.Add(`[{"name":"t","kind":"CONDITION","type":"TRANSITION","expr":"/s","params":{"transitions":"a -> b|c, * -> d"}}]`)
	f.Add(`[{"name":"d","disabled":true,"type":"CEL_FIELD"},{"name":"m","kind":"TRANSFORM","mode":"UPGRADE"}]`)
	doc := parseDoc(f, `{"x": 2, "a": "1", "b": 2, "s": "a", "items": [1, 2]}`)
	f.Fuzz(func(t *testing.T, src string) {
		rules, err := ParseJSON([]byte(src))
		if err != nil {
			return
		}
		s, err := Compile(rules, Options{MaxCost: 1000})
		if err != nil {
			if err.Error() == "" {
				t.Fatal("empty error")
			}
			return
		}
		st := NewState(4)
		for _, d := range []Direction{Write, Read} {
			res, _ := s.Eval(&Input{Direction: d, Key: []byte("1:2"), Value: doc, State: st}, nil)
			for _, r := range res {
				if len(r.Message) > DefaultMaxMessageBytes {
					t.Fatalf("message of %d bytes", len(r.Message))
				}
			}
		}
	})
}
