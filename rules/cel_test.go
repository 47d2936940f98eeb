package rules

import (
	"strings"
	"testing"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/common/types"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eventguard/eventguard/internal/jsonvalue"
)

// celCases run against the golden OrderPlaced with key "k-1", headers
// origin=pos (twice, the last wins) and trace=t, topic "orders".
var celCases = []struct {
	expr    string
	outcome Outcome
	msg     string // part of the message for a fail or an error
}{
	// The three rules of the benchmark, on the real fields.
	{"double(message.total_amount) > 0.0", OutcomePass, ""},
	{"message.items.size() > 0 && message.items.all(i, i.quantity > 0)", OutcomePass, ""},
	{"message.order_type in ['dine_in', 'takeout', 'delivery']", OutcomePass, ""},
	{"message.order_type in ['dine_in', 'delivery']", OutcomeFail, "condition is false"},
	// Numbers: JSON integers are ints, everything else doubles; numeric
	// comparisons cross types.
	{"message.version == 1", OutcomePass, ""},
	{"type(message.version) == int", OutcomePass, ""},
	{"message.version < 1.5 && message.version > 0.5", OutcomePass, ""},
	{"message.items[0].quantity + 1 == 3", OutcomePass, ""},
	{"message.items.map(i, i.quantity).exists(q, q == 3)", OutcomePass, ""},
	{"message.items.filter(i, i.quantity > 1).size() == 6", OutcomePass, ""},
	{"message.items.exists_one(i, i.sku == 'GRANOLA-BOWL')", OutcomePass, ""},
	{"message.items[12].sku == 'MATCHA-LATTE'", OutcomePass, ""},
	{"message.items[13].sku == 'x'", OutcomeError, "index out of bounds"},
	{"message.items[-1].sku == 'x'", OutcomeError, "index out of bounds"},
	{"message.items[1.0].sku == 'CROISSANT'", OutcomePass, ""},
	// Presence and missing fields.
	{"has(message.customer_id)", OutcomePass, ""},
	{"!has(message.discount)", OutcomePass, ""},
	{"!has(message.discount) || message.discount > 0", OutcomePass, ""},
	{"message.discount > 0", OutcomeError, "no such key: discount"},
	{"message.items[0].nope == 1", OutcomeError, "no such key: nope"},
	{"'tenant_id' in message", OutcomePass, ""},
	{"message.size() == 10", OutcomePass, ""},
	{"message.all(k, k.size() > 0)", OutcomePass, ""},
	{"message.exists(k, k == 'items')", OutcomePass, ""},
	{"message['order_id'] == '" + goldenOrderID + "'", OutcomePass, ""},
	// Equality of event values with literals, both ways.
	{"message.items[0] == {'sku': 'LATTE-L', 'quantity': 2, 'unit_price': '4.75'}", OutcomePass, ""},
	{"{'sku': 'LATTE-L', 'quantity': 2, 'unit_price': '4.75'} == message.items[0]", OutcomePass, ""},
	{"message.items[0] == {'sku': 'LATTE-L', 'quantity': 2}", OutcomeFail, ""},
	{"message.items[0] != {'sku': 'LATTE-L', 'quantity': 3, 'unit_price': '4.75'}", OutcomePass, ""},
	{"message.items.map(i, i.quantity) == [2, 3, 1, 2, 1, 2, 1, 1, 3, 2, 1, 1, 1]", OutcomePass, ""},
	{"[2, 3] + message.items.map(i, i.quantity) != []", OutcomePass, ""},
	{"message.items + [] != []", OutcomePass, ""},
	{"{'sku': 'CROISSANT', 'quantity': 3, 'unit_price': '3.00'} in message.items", OutcomePass, ""},
	{"message.customer_id != null", OutcomePass, ""},
	// Strings: the strings extension and Confluent's format checks.
	{"message.tenant_id.startsWith('cafe-') && message.tenant_id.upperAscii() == 'CAFE-12'", OutcomePass, ""},
	{"message.order_id.isUuid() && !message.tenant_id.isUuid()", OutcomePass, ""},
	{"'a@example.com'.isEmail() && !'a@@x'.isEmail() && 'pos.example.com'.isHostname()", OutcomePass, ""},
	{"'10.0.0.1'.isIpv4() && '::1'.isIpv6() && !'::1'.isIpv4() && 'https://x.io/a'.isUri() && '/a'.isUriRef()", OutcomePass, ""},
	{"message.total_amount.matches('^[0-9]+\\\\.[0-9]{2}$')", OutcomePass, ""},
	{"timestamp(message.occurred_at) < timestamp('2027-01-01T00:00:00Z')", OutcomePass, ""},
	// key, headers, topic.
	{"key == 'k-1'", OutcomePass, ""},
	{"headers.origin == 'pos-2' && headers['trace'] == 't'", OutcomePass, ""},
	{"headers.size() == 2 && 'origin' in headers && !('x' in headers)", OutcomePass, ""},
	{"headers.all(h, h == 'origin' || h == 'trace')", OutcomePass, ""},
	{"headers == {'origin': 'pos-2', 'trace': 't'}", OutcomePass, ""},
	{"headers.missing == 'x'", OutcomeError, "no such key: missing"},
	{"topic == 'orders'", OutcomePass, ""},
	// Results that are not booleans, and run-time type errors.
	{"message.total_amount", OutcomeError, "yields string, want bool"},
	{"message.total_amount > 0", OutcomeError, "no such overload"},
	// Guards, as Confluent's executor reads them.
	{"message.order_type == 'dine_in'; message.nope > 1", OutcomePass, ""},
	{"message.nope == 1; false", OutcomePass, ""},
	{"message.order_type == 'takeout'; double(message.total_amount) > 100.0", OutcomeFail, "condition is false"},
	{"message.order_type; true", OutcomeError, "guard yields string"},
}

func goldenInput(tb testing.TB) *Input {
	return &Input{
		Direction: Write,
		Topic:     "orders",
		Key:       []byte("k-1"),
		Headers: []kgo.RecordHeader{
			{Key: "origin", Value: []byte("pos")},
			{Key: "trace", Value: []byte("t")},
			{Key: "origin", Value: []byte("pos-2")},
		},
		Value: loadDoc(tb, goldenOrder),
	}
}

func TestCELOnTheTape(t *testing.T) {
	in := goldenInput(t)
	for _, c := range celCases {
		t.Run(c.expr, func(t *testing.T) {
			s := mustCompile(t, Options{}, cond("r", TypeCEL, c.expr))
			r := evalOne(t, s, in)
			if r.Outcome != c.outcome {
				t.Fatalf("outcome %v (%s), want %v", r.Outcome, r.Message, c.outcome)
			}
			if c.msg != "" {
				wantContains(t, r.Message, c.msg)
			}
			if r.Outcome == OutcomePass && r.Message != "" {
				t.Errorf("a pass with message %q", r.Message)
			}
		})
	}
}

// TestCELTapeAgreesWithNativeMaps evaluates every case on the tape and on
// the same event as map[string]any through CEL's own adapter, each plan
// (with and without cost tracking): the tape's values must behave as
// CEL's own maps and lists do.
func TestCELTapeAgreesWithNativeMaps(t *testing.T) {
	in := goldenInput(t)
	native := map[string]any{
		VarMessage: nativeValue(in.Value, 0),
		VarKey:     "k-1",
		VarHeaders: map[string]string{"origin": "pos-2", "trace": "t"},
		VarTopic:   "orders",
	}
	e, err := celEnv()
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range celCases {
		if strings.Contains(c.expr, ";") {
			continue // guards are ours, not CEL's
		}
		ast, iss := e.Compile(c.expr)
		if iss.Err() != nil {
			t.Fatalf("%s: %v", c.expr, iss.Err())
		}
		prg, err := e.Program(ast)
		if err != nil {
			t.Fatal(err)
		}
		want, _, wantErr := prg.Eval(native)
		s := mustCompile(t, Options{}, cond("r", TypeCEL, c.expr))
		cr := s.rules[0].cel.body
		for name, p := range map[string]cel.Program{"fast": cr.fast, "tracked": cr.tracked} {
			ev := getEvalState(in)
			got, _, gotErr := p.Eval(ev)
			putEvalState(ev)
			if (gotErr != nil) != (wantErr != nil) {
				t.Errorf("%s (%s): error %v, native error %v", c.expr, name, gotErr, wantErr)
				continue
			}
			if gotErr == nil && got.Equal(want) != types.True {
				t.Errorf("%s (%s): %v, native %v", c.expr, name, got, want)
			}
		}
	}
}

func TestCELNumbers(t *testing.T) {
	// The strict decoder refuses 1e400 and -1e400 (decision 0014); they are
	// let through here to check their conversion all the same.
	doc, err := jsonvalue.ParseDoc([]byte(`{"i": 42, "neg": -7, "big": 123456789012345678901, "max": 9223372036854775807,
		"min": -9223372036854775808, "over": 9223372036854775808, "f": 1.5, "e": 1e2, "z": 0, "nz": -0, "fz": 0.0, "inf": 1e400, "ninf": -1e400}`), jsonvalue.Limits{BeyondFloat64: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, expr := range []string{
		"type(message.i) == int && message.i == 42",
		"type(message.neg) == int && message.neg == -7",
		"type(message.big) == double && message.big > 1e20",
		"type(message.max) == int && message.max == 9223372036854775807",
		"type(message.min) == int && message.min == -9223372036854775808",
		"type(message.over) == double",
		"type(message.f) == double && message.f == 1.5",
		"type(message.e) == double && message.e == 100",
		"type(message.z) == int && message.z == 0 && message.nz == 0",
		"type(message.fz) == double && message.fz == 0",
		"message.i / 5 == 8",
		"type(message.inf) == double && message.inf > 1e308 && message.ninf < -1e308",
	} {
		s := mustCompile(t, Options{}, cond("r", TypeCEL, expr))
		if r := evalOne(t, s, &Input{Direction: Write, Value: doc}); r.Outcome != OutcomePass {
			t.Errorf("%s: %v %s", expr, r.Outcome, r.Message)
		}
	}
}

func TestCELKeyAndEmptyValue(t *testing.T) {
	cases := []struct {
		key  []byte
		expr string
	}{
		{nil, "key == null"},
		{[]byte{}, "key == ''"},
		{[]byte("abc"), "key == 'abc' && key.size() == 3"},
		{[]byte{0xff, 0x00}, "key == b'\\xff\\x00'"},
	}
	for _, c := range cases {
		s := mustCompile(t, Options{}, cond("r", TypeCEL, c.expr))
		if r := evalOne(t, s, &Input{Direction: Write, Key: c.key}); r.Outcome != OutcomePass {
			t.Errorf("key %q, %s: %v %s", c.key, c.expr, r.Outcome, r.Message)
		}
	}
	s := mustCompile(t, Options{}, cond("r", TypeCEL, "message == null"), cond("s", TypeCEL, "message.x == 1"))
	res, _ := s.Eval(&Input{Direction: Write}, nil)
	if res[0].Outcome != OutcomePass || res[1].Outcome != OutcomeError {
		t.Errorf("no value: %+v", res)
	}
	scalar := parseDoc(t, `"just a string"`)
	s = mustCompile(t, Options{}, cond("r", TypeCEL, "message.startsWith('just')"))
	if r := evalOne(t, s, &Input{Direction: Write, Value: scalar}); r.Outcome != OutcomePass {
		t.Errorf("scalar event: %v %s", r.Outcome, r.Message)
	}
}

// TestCELCostLimits: an expression refused at compile time, one whose
// estimate passes but whose event is larger than the estimate assumed
// (aborted at run time, counted), and the same event under the limit.
func TestCELCostLimits(t *testing.T) {
	in := goldenInput(t)
	// Compile-time: quadratic over lists of the assumed size.
	err := compileErr(t, Options{}, cond("pairs", TypeCEL, "message.items.all(i, message.items.all(j, i.sku != j.sku || i == j))"))
	wantContains(t, err.Error(), `rule "pairs"`, "estimated cost up to", "over the limit")
	// The same passes when the estimate assumes small events.
	s := mustCompile(t, Options{SizeHint: 20}, cond("pairs", TypeCEL, "message.items.all(i, message.items.all(j, i.sku != j.sku || i == j))"))
	if r := evalOne(t, s, in); r.Outcome != OutcomePass {
		t.Fatalf("pairs on 13 items: %v %s", r.Outcome, r.Message)
	}
	// Run time: a small limit, and an event larger than the sizes the
	// limit allows untracked.
	s = mustCompile(t, Options{MaxCost: 60}, cond("walk", TypeCEL, "message.items.all(i, i.quantity > 0)"))
	c := s.rules[0].cel.body
	if c.fastUpTo >= uint64(len(in.Value.Nodes)) {
		t.Fatalf("fastUpTo %d, want below the event's %d nodes", c.fastUpTo, len(in.Value.Nodes))
	}
	r := evalOne(t, s, in)
	if r.Outcome != OutcomeError || !r.Aborted || r.Effect != EffectRefuse {
		t.Fatalf("result %+v, want an aborted error that refuses", r)
	}
	wantContains(t, r.Message, "aborted", "limit of 60")
	small := parseDoc(t, `{"items":[{"quantity":1}]}`)
	if r := evalOne(t, s, &Input{Direction: Write, Value: small}); r.Outcome != OutcomePass || r.Aborted {
		t.Fatalf("small event: %+v", r)
	}
	// A guard over its limit aborts too.
	s = mustCompile(t, Options{MaxCost: 60}, cond("guarded", TypeCEL, "message.items.all(i, i.quantity > 0); true"))
	if r := evalOne(t, s, in); !r.Aborted || r.Outcome != OutcomeError {
		t.Fatalf("guard: %+v", r)
	}
	wantContains(t, evalOne(t, s, in).Message, "guard aborted")
}

// TestCELFastPlanChoice: an expression whose cost does not grow with the
// event always runs untracked; one that grows runs untracked up to the
// size its estimate allows.
func TestCELFastPlanChoice(t *testing.T) {
	s := mustCompile(t, Options{}, cond("a", TypeCEL, "message.order_type in ['dine_in', 'takeout']"),
		cond("b", TypeCEL, "message.items.all(i, i.quantity > 0)"))
	if got := s.rules[0].cel.body.fastUpTo; got != maxFastSize {
		t.Errorf("constant-cost rule: fastUpTo %d, want %d", got, maxFastSize)
	}
	if got := s.rules[1].cel.body.fastUpTo; got < 1000 || got >= maxFastSize {
		t.Errorf("walk: fastUpTo %d, want a bound in [1000, %d)", got, maxFastSize)
	}
}

func TestEvalStateSize(t *testing.T) {
	in := goldenInput(t)
	ev := getEvalState(in)
	defer putEvalState(ev)
	got := ev.size()
	if got < uint64(len(in.Value.Nodes)) || got < uint64(len(goldenOrderID)) {
		t.Errorf("size %d, below the node count %d or a string", got, len(in.Value.Nodes))
	}
	in2 := &Input{Headers: []kgo.RecordHeader{{Key: "h", Value: make([]byte, 5000)}}}
	ev2 := getEvalState(in2)
	defer putEvalState(ev2)
	if ev2.size() != 5000 {
		t.Errorf("size %d, want the header value's 5000", ev2.size())
	}
}
