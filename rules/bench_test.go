package rules

import (
	"os"
	"strings"
	"testing"

	"github.com/eventguard/eventguard/internal/benchcpu"
	"github.com/eventguard/eventguard/internal/jsonvalue"
)

// The benchmarks measure the cost per record of each rule type on the
// 1 KB OrderPlaced golden, next to the strict decode of the same event
// (BenchmarkDecodeGolden, for scale: on a loaded machine both move
// together). Each reports cpu-ns/op, the process's CPU time per record,
// beside the wall-clock ns/op.

// threeCEL are the three CEL rules of the issue, on the event's fields
// (total_amount is a decimal string).
var threeCEL = []Rule{
	cond("positiveTotal", TypeCEL, "double(message.total_amount) > 0.0"),
	cond("itemsPositive", TypeCEL, "message.items.size() > 0 && message.items.all(i, i.quantity > 0)"),
	cond("knownOrderType", TypeCEL, "message.order_type in ['dine_in', 'takeout', 'delivery']"),
}

func benchEval(b *testing.B, s *Set, in *Input) {
	b.Helper()
	var buf []Result
	b.ReportAllocs()
	c := benchcpu.Start(b)
	for b.Loop() {
		var v Verdict
		buf, v = s.Eval(in, buf)
		if v.Effect != EffectNone {
			b.Fatalf("verdict %+v: %+v", v, buf)
		}
	}
	c.Report(b)
}

func BenchmarkDecodeGolden(b *testing.B) {
	data, err := os.ReadFile(goldenOrder)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	c := benchcpu.Start(b)
	for b.Loop() {
		d := jsonvalue.GetDoc()
		if err := d.Parse(data, jsonvalue.Limits{}); err != nil {
			b.Fatal(err)
		}
		jsonvalue.PutDoc(d)
	}
	c.Report(b)
}

func BenchmarkNoRules(b *testing.B) {
	benchEval(b, mustCompile(b, Options{}), &Input{Direction: Write, Value: loadDoc(b, goldenOrder)})
}

func BenchmarkKey(b *testing.B) {
	doc := loadDoc(b, goldenOrder)
	b.Run("pointer", func(b *testing.B) {
		benchEval(b, mustCompile(b, Options{}, cond("orderKey", TypeKey, "/order_id")),
			&Input{Direction: Write, Key: []byte(goldenOrderID), Value: doc})
	})
	b.Run("template", func(b *testing.B) {
		benchEval(b, mustCompile(b, Options{}, cond("orderKey", TypeKey, "{/tenant_id}:{/order_id}")),
			&Input{Direction: Write, Key: []byte("cafe-12:" + goldenOrderID), Value: doc})
	})
}

func BenchmarkCEL(b *testing.B) {
	doc := loadDoc(b, goldenOrder)
	in := &Input{Direction: Write, Topic: "orders", Key: []byte(goldenOrderID), Value: doc}
	b.Run("three", func(b *testing.B) { benchEval(b, mustCompile(b, Options{}, threeCEL...), in) })
	for _, r := range threeCEL {
		b.Run(r.Name, func(b *testing.B) { benchEval(b, mustCompile(b, Options{}, r), in) })
	}
	// Tracked: the same three rules when the event is larger than what
	// their estimates allow untracked (MaxCost low enough), so each
	// evaluation counts its cost.
	b.Run("three-tracked", func(b *testing.B) {
		s := mustCompile(b, Options{MaxCost: 200}, threeCEL...)
		if s.rules[1].cel.body.fastUpTo >= uint64(len(doc.Nodes)) {
			b.Fatal("the walk runs untracked")
		}
		benchEval(b, s, in)
	})
}

func BenchmarkTransition(b *testing.B) {
	doc := loadDoc(b, goldenOrder)
	s := mustCompile(b, Options{}, with(cond("orderType", TypeTransition, "/order_type"), func(r *Rule) {
		r.Params = map[string]string{ParamTransitions: "dine_in -> takeout|delivery, takeout -> delivery"}
	}))
	st := NewState(0)
	in := &Input{Direction: Read, Partition: 3, Key: []byte(goldenOrderID), Value: doc, State: st}
	benchEval(b, s, in)
}

// BenchmarkCostLimitAbort measures how long an evaluation runs before the
// default runtime cost limit aborts it: a walk over an event far larger
// than the limit allows (50,000 items).
func BenchmarkCostLimitAbort(b *testing.B) {
	var sb strings.Builder
	sb.WriteString(`{"items":[`)
	for i := range 50_000 {
		if i > 0 {
			sb.WriteByte(',')
		}
		sb.WriteString(`{"quantity":1}`)
	}
	sb.WriteString(`]}`)
	doc, err := jsonvalue.ParseDoc([]byte(sb.String()), jsonvalue.Limits{})
	if err != nil {
		b.Fatal(err)
	}
	s := mustCompile(b, Options{}, cond("walk", TypeCEL, "message.items.all(i, i.quantity > 0)"))
	in := &Input{Direction: Write, Value: doc}
	var buf []Result
	b.ReportAllocs()
	c := benchcpu.Start(b)
	for b.Loop() {
		buf, _ = s.Eval(in, buf)
		if !buf[0].Aborted {
			b.Fatalf("not aborted: %+v", buf[0])
		}
	}
	c.Report(b)
}

// BenchmarkCompile is the cost of compiling the three CEL rules and a KEY
// and a TRANSITION rule: once per schema version.
func BenchmarkCompile(b *testing.B) {
	rules := append([]Rule{cond("orderKey", TypeKey, "/order_id"),
		with(cond("status", TypeTransition, "/status"), func(r *Rule) { r.Params = map[string]string{ParamTransitions: "a -> b|c, b -> c"} })},
		threeCEL...)
	b.ReportAllocs()
	for b.Loop() {
		mustCompile(b, Options{}, rules...)
	}
}
