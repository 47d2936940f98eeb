package rules

import (
	"fmt"
	"runtime"
	"strings"
	"testing"
	"unsafe"
)

// tableStatus is the TableStatusChanged flow of the point-of-sale example.
func tableRule(params map[string]string) Rule {
	p := map[string]string{ParamTransitions: "available -> occupied|reserved, reserved -> occupied|available; occupied -> available"}
	for k, v := range params {
		p[k] = v
	}
	return Rule{Name: "tableMoves", Kind: "CONDITION", Type: TypeTransition, Expr: "/new_status", OnFailure: "DLQ", Params: p}
}

// step is one record of a transition scenario.
type step struct {
	partition int32
	key       string
	status    string
	outcome   Outcome
	from      string
}

func runSteps(t *testing.T, s *Set, st *State, steps []step) {
	t.Helper()
	for i, c := range steps {
		doc := parseDoc(t, `{"new_status": "`+c.status+`"}`)
		res, v := s.Eval(&Input{Direction: Read, Partition: c.partition, Key: []byte(c.key), Value: doc, State: st}, nil)
		var r *Result
		for j := range res {
			if res[j].Rule.Type == TypeTransition {
				r = &res[j]
			}
		}
		if r == nil {
			t.Fatalf("step %d: no TRANSITION result in %+v", i, res)
		}
		if r.Outcome != c.outcome || r.From != c.from || r.To != c.status {
			t.Fatalf("step %d (p%d %s -> %s): %v %q -> %q (%s), want %v from %q", i, c.partition, c.key, c.status,
				r.Outcome, r.From, r.To, r.Message, c.outcome, c.from)
		}
		if c.outcome == OutcomeFail && r.Rollout == Enforce && v.Effect != EffectDeadLetter {
			t.Fatalf("step %d: verdict %+v, want dead-letter", i, v)
		}
	}
}

func TestTransitionMoves(t *testing.T) {
	s := mustCompile(t, Options{}, tableRule(nil))
	st := NewState(0)
	runSteps(t, s, st, []step{
		{0, "t1", "occupied", OutcomePass, ""},           // baseline, whatever its value
		{0, "t1", "available", OutcomePass, "occupied"},  // allowed
		{0, "t1", "available", OutcomePass, "available"}, // a self-move is allowed by default
		{0, "t1", "reserved", OutcomePass, "available"},
		{0, "t1", "unknown", OutcomeFail, "reserved"},   // not in the table
		{0, "t1", "occupied", OutcomePass, "reserved"},  // the refused move did not count
		{0, "t1", "reserved", OutcomeFail, "occupied"},  // occupied -> reserved is not listed
		{0, "t1", "available", OutcomePass, "occupied"}, // still occupied
	})
}

func TestTransitionKeysInterleavedAcrossPartitions(t *testing.T) {
	s := mustCompile(t, Options{}, tableRule(nil))
	st := NewState(0)
	runSteps(t, s, st, []step{
		{0, "t1", "available", OutcomePass, ""},
		{1, "t1", "occupied", OutcomePass, ""}, // same key, another partition: its own baseline
		{0, "t2", "reserved", OutcomePass, ""},
		{0, "t1", "occupied", OutcomePass, "available"},
		{1, "t1", "occupied", OutcomePass, "occupied"},
		{0, "t2", "available", OutcomePass, "reserved"},
		{1, "t1", "reserved", OutcomeFail, "occupied"},
		{0, "t1", "available", OutcomePass, "occupied"},
		{0, "t2", "available", OutcomePass, "available"},
	})
	if st.Len() != 3 {
		t.Errorf("Len %d, want 3", st.Len())
	}
	if n := st.Forget("", 1); n != 1 {
		t.Errorf("Forget(1) dropped %d, want 1", n)
	}
	runSteps(t, s, st, []step{
		{1, "t1", "reserved", OutcomePass, ""},          // after a revoke: a new baseline
		{0, "t1", "reserved", OutcomePass, "available"}, // partition 0 untouched
	})
}

// TestTransitionTopicsOfOneSubscription: partition numbers of two topics
// are apart, and Forget drops one topic's partition only.
func TestTransitionTopicsOfOneSubscription(t *testing.T) {
	s := mustCompile(t, Options{}, tableRule(nil))
	st := NewState(0)
	send := func(topic, status string) Result {
		return evalOne(t, s, &Input{Direction: Read, Topic: topic, Partition: 0, Key: []byte("t1"), State: st,
			Value: parseDoc(t, `{"new_status":"`+status+`"}`)})
	}
	send("tables-eu", "available")
	if r := send("tables-us", "occupied"); r.From != "" {
		t.Fatalf("tables-us shares tables-eu's state: from %q", r.From)
	}
	if r := send("tables-eu", "occupied"); r.From != "available" || r.Outcome != OutcomePass {
		t.Fatalf("tables-eu: %+v", r)
	}
	if n := st.Forget("tables-us", 0); n != 1 {
		t.Fatalf("Forget dropped %d", n)
	}
	if r := send("tables-eu", "available"); r.From != "occupied" {
		t.Fatalf("Forget of tables-us dropped tables-eu: %+v", r)
	}
	if r := send("tables-us", "reserved"); r.From != "" {
		t.Fatalf("tables-us after Forget: %+v", r)
	}
}

func TestTransitionSelfWildcardsAndNumbers(t *testing.T) {
	deny := mustCompile(t, Options{}, tableRule(map[string]string{ParamTransitionsSelf: "deny"}))
	st := NewState(0)
	runSteps(t, deny, st, []step{
		{0, "t1", "available", OutcomePass, ""},
		{0, "t1", "available", OutcomeFail, "available"},
	})
	wild := mustCompile(t, Options{}, with(cond("order", TypeTransition, "/new_status"), func(r *Rule) {
		r.Params = map[string]string{ParamTransitions: "created -> approved\n* -> cancelled\nshipped -> *"}
	}))
	st = NewState(0)
	runSteps(t, wild, st, []step{
		{0, "o1", "created", OutcomePass, ""},
		{0, "o1", "shipped", OutcomeFail, "created"},
		{0, "o1", "cancelled", OutcomePass, "created"}, // * -> cancelled
		{0, "o2", "shipped", OutcomePass, ""},
		{0, "o2", "anything", OutcomePass, "shipped"}, // shipped -> *
		{0, "o2", "cancelled", OutcomePass, "anything"},
		{0, "o2", "created", OutcomeFail, "cancelled"},
	})
	// Sequence numbers of InventoryStockChanged are numbers: their literal
	// is the state.
	seq := mustCompile(t, Options{}, with(cond("seq", TypeTransition, "/sequence_number"), func(r *Rule) {
		r.Params = map[string]string{ParamTransitions: "1 -> 2, 2 -> 3", ParamTransitionsSelf: "deny"}
	}))
	st = NewState(0)
	for i, c := range []struct {
		n    string
		want Outcome
	}{{"1", OutcomePass}, {"2", OutcomePass}, {"2", OutcomeFail}, {"3", OutcomePass}, {"1", OutcomeFail}} {
		r := evalOne(t, seq, &Input{Direction: Read, Key: []byte("sku-1"), Value: parseDoc(t, `{"sequence_number": `+c.n+`}`), State: st})
		if r.Outcome != c.want {
			t.Fatalf("step %d (%s): %v %s", i, c.n, r.Outcome, r.Message)
		}
	}
}

func TestTransitionRefusalMessage(t *testing.T) {
	s := mustCompile(t, Options{}, tableRule(map[string]string{ParamTransitionsSelf: "deny"}))
	st := NewState(0)
	in := func(status string) *Input {
		return &Input{Direction: Read, Key: []byte("t1"), Value: parseDoc(t, `{"new_status":"`+status+`"}`), State: st}
	}
	evalOne(t, s, in("reserved"))
	r := evalOne(t, s, in("reserved"))
	wantContains(t, r.Message, `move "reserved" -> "reserved" at /new_status is not allowed`, `from "reserved": occupied|available`, "transitions.self is deny")
	if r.Effect != EffectDeadLetter || r.Action != ActionDLQ {
		t.Errorf("effect %v action %v", r.Effect, r.Action)
	}
}

func TestTransitionErrors(t *testing.T) {
	s := mustCompile(t, Options{}, tableRule(nil))
	st := NewState(0)
	cases := []struct {
		in  *Input
		msg string
	}{
		{&Input{Direction: Read, Value: parseDoc(t, `{"new_status":"available"}`), State: st}, "no key"},
		{&Input{Direction: Read, Key: []byte("k"), Value: parseDoc(t, `{}`), State: st}, "no value at /new_status"},
		{&Input{Direction: Read, Key: []byte("k"), Value: parseDoc(t, `{"new_status":null}`), State: st}, "/new_status is null"},
		{&Input{Direction: Read, Key: []byte("k"), Value: parseDoc(t, `{"new_status":{}}`), State: st}, "is an object"},
		{&Input{Direction: Read, Key: []byte("k"), Value: parseDoc(t, `{"new_status":"`+strings.Repeat("x", 129)+`"}`), State: st}, "longer than 128 bytes"},
		{&Input{Direction: Read, Key: []byte("k"), Value: parseDoc(t, `{"new_status":"available"}`)}, "no transition state"},
	}
	for _, c := range cases {
		r := evalOne(t, s, c.in)
		if r.Outcome != OutcomeError {
			t.Errorf("%s: outcome %v", c.msg, r.Outcome)
		}
		wantContains(t, r.Message, c.msg)
	}
	if st.Len() != 0 {
		t.Errorf("errors stored %d entries", st.Len())
	}
	// TRANSITION rules do not run on produce, whatever their mode.
	if s.Runs(Write) {
		t.Error("a TRANSITION set runs on write")
	}
}

// TestTransitionStateFollowsTheVerdict: the state moves only with records
// that go through; observed or warned failures go through, dead-lettered
// ones (by this rule or another) do not.
func TestTransitionStateFollowsTheVerdict(t *testing.T) {
	other := with(cond("seated", TypeCEL, "message.party_size > 0"), func(r *Rule) { r.OnFailure = "DLQ" })
	s := mustCompile(t, Options{}, tableRule(nil), other)
	st := NewState(0)
	send := func(status string, party int) []Result {
		res, _ := s.Eval(&Input{Direction: Read, Key: []byte("t1"), State: st,
			Value: parseDoc(t, fmt.Sprintf(`{"new_status":%q,"party_size":%d}`, status, party))}, nil)
		return res
	}
	send("available", 2)
	if res := send("occupied", 0); res[0].Outcome != OutcomePass || res[1].Outcome != OutcomeFail {
		t.Fatalf("results %+v", res)
	}
	// The record went to the DLQ because of the other rule: still available.
	if res := send("reserved", 2); res[0].From != "available" || res[0].Outcome != OutcomePass {
		t.Fatalf("after a dead-lettered record: %+v", res[0])
	}
	observed := mustCompile(t, Options{}, tableRule(map[string]string{ParamMode: "observe"}))
	st = NewState(0)
	runSteps(t, observed, st, []step{
		{0, "t1", "available", OutcomePass, ""},
		{0, "t1", "bogus", OutcomeFail, "available"},
		{0, "t1", "available", OutcomeFail, "bogus"}, // the observed move was delivered, so it counted
	})
	warned := mustCompile(t, Options{}, tableRule(map[string]string{ParamMode: "warn"}))
	st = NewState(0)
	evalOne(t, warned, &Input{Direction: Read, Key: []byte("t"), State: st, Value: parseDoc(t, `{"new_status":"occupied"}`)})
	r := evalOne(t, warned, &Input{Direction: Read, Key: []byte("t"), State: st, Value: parseDoc(t, `{"new_status":"reserved"}`)})
	if r.Effect != EffectWarn {
		t.Fatalf("warn: %+v", r)
	}
	if r := evalOne(t, warned, &Input{Direction: Read, Key: []byte("t"), State: st, Value: parseDoc(t, `{"new_status":"occupied"}`)}); r.From != "reserved" {
		t.Fatalf("after a warned move: from %q", r.From)
	}
}

// TestStateLRU: past its bound the least recently used entry goes, and a
// looked-up entry counts as used.
func TestStateLRU(t *testing.T) {
	s := mustCompile(t, Options{}, with(cond("m", TypeTransition, "/s"), func(r *Rule) { r.Params = map[string]string{ParamTransitions: "a -> b"} }))
	st := NewState(3)
	send := func(key, v string) Result {
		return evalOne(t, s, &Input{Direction: Read, Key: []byte(key), State: st, Value: parseDoc(t, `{"s":"`+v+`"}`)})
	}
	send("k1", "a")
	send("k2", "a")
	send("k3", "a")
	send("k1", "a") // k1 used: k2 is now the oldest
	send("k4", "a") // evicts k2
	if st.Len() != 3 || st.Evicted() != 1 {
		t.Fatalf("Len %d Evicted %d", st.Len(), st.Evicted())
	}
	if r := send("k2", "b"); r.From != "" || r.Outcome != OutcomePass {
		t.Errorf("k2 after eviction: %+v, want a new baseline", r)
	}
	// k3 was the oldest then, so k2's return evicted it.
	if r := send("k3", "b"); r.From != "" {
		t.Errorf("k3: from %q, want a baseline", r.From)
	}
	for _, k := range []string{"k2", "k3"} {
		if r := send(k, "b"); r.From != "b" {
			t.Errorf("%s: from %q, want b", k, r.From)
		}
	}
	if r := send("k1", "b"); r.From != "" {
		t.Errorf("k1: from %q, want evicted", r.From)
	}
}

// TestStateKeepsNoRecordMemory: a kept value is the table's own string or
// a copy, never a piece of the record's input.
func TestStateKeepsNoRecordMemory(t *testing.T) {
	s := mustCompile(t, Options{}, with(cond("m", TypeTransition, "/s"), func(r *Rule) { r.Params = map[string]string{ParamTransitions: "a -> *"} }))
	st := NewState(0)
	doc := parseDoc(t, `{"s":"a","pad":"`+strings.Repeat("x", 1000)+`"}`)
	evalOne(t, s, &Input{Direction: Read, Key: []byte("k"), State: st, Value: doc})
	doc2 := parseDoc(t, `{"s":"zzz"}`)
	evalOne(t, s, &Input{Direction: Read, Key: []byte("k"), State: st, Value: doc2})
	st.mu.Lock()
	defer st.mu.Unlock()
	for _, e := range st.m {
		if e.value != "zzz" {
			t.Fatalf("value %q", e.value)
		}
		if unsafe.StringData(e.value) == unsafe.StringData(doc2.Nodes[2].Str) {
			t.Fatal("the kept value shares the record's memory")
		}
	}
}

func TestParseTransitions(t *testing.T) {
	good := map[string]func(*transitionTable) bool{
		"a -> b":                 func(tb *transitionTable) bool { return tb.allows("a", "b") && !tb.allows("b", "a") },
		"a|b -> c|d":             func(tb *transitionTable) bool { return tb.allows("b", "d") && !tb.allows("c", "a") },
		" a->b ;; b -> c,\n\n":   func(tb *transitionTable) bool { return tb.allows("b", "c") },
		"in-progress -> done":    func(tb *transitionTable) bool { return tb.allows("in-progress", "done") },
		"* -> x":                 func(tb *transitionTable) bool { return tb.allows("anything", "x") && !tb.allows("x", "y") },
		"x -> *":                 func(tb *transitionTable) bool { return tb.allows("x", "y") && !tb.allows("y", "x") },
		"a -> b, a -> c, a -> b": func(tb *transitionTable) bool { return tb.allowed["a"] == "b|c" },
	}
	for src, check := range good {
		tb, err := parseTransitions("/s", map[string]string{ParamTransitions: src})
		if err != nil {
			t.Errorf("%q: %v", src, err)
			continue
		}
		if !check(tb) {
			t.Errorf("%q: table %+v", src, tb)
		}
	}
	for src, want := range map[string]string{
		"":                                "required",
		" ,; ":                            "no clause",
		"a => b":                          "want FROM -> TO",
		"a -> b -> c":                     "want FROM -> TO",
		"a -> ":                           "empty state",
		"a || b -> c":                     "empty state",
		"* -> *":                          "allows every move",
		"a b -> c":                        "white space",
		"a* -> b":                         "stands alone",
		strings.Repeat("s", 65) + " -> b": "longer than 64",
	} {
		_, err := parseTransitions("/s", map[string]string{ParamTransitions: src})
		if err == nil {
			t.Errorf("%q: no error", src)
			continue
		}
		wantContains(t, err.Error(), want)
	}
}

// FuzzTransitions: the parser never panics, and a table it accepts allows
// every move it lists.
func FuzzTransitions(f *testing.F) {
	for _, s := range []string{"a -> b", "a|b -> c, * -> d; e -> *", "x->y\ny->z", "->", "* -> *", "a -> b -> c"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, src string) {
		tb, err := parseTransitions("/s", map[string]string{ParamTransitions: src})
		if err != nil {
			return
		}
		for m := range tb.moves {
			if !tb.allows(m.from, m.to) {
				t.Fatalf("%q: listed move %q -> %q not allowed", src, m.from, m.to)
			}
		}
	})
}

// BenchmarkStateMemory measures the memory of a State entry: 36-byte keys
// (UUIDs) of one rule across 4 partitions. It reports bytes/entry.
func BenchmarkStateMemory(b *testing.B) {
	const n = 100_000
	for range b.N {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		st := NewState(n)
		for i := range n {
			key := fmt.Appendf(nil, "%08x-3f2a-4e5b-8c6d-0a1b2c3d4e5f", i)
			st.store("orderStatus", "orders", int32(i%4), key, "approved")
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		if st.Len() != n {
			b.Fatal(st.Len())
		}
		b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/n, "bytes/entry")
		runtime.KeepAlive(st)
	}
}
