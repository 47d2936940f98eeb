package rules

import (
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/eventguard/eventguard/internal/jsonvalue"
)

// goldenOrder is the 1 KB OrderPlaced golden of the example contracts:
// 13 items, total_amount "68.95", order_type "takeout", tenant "cafe-12".
const goldenOrder = "../examples/contracts/orders-OrderPlaced/1/valid/large-13-items.json"

// goldenOrderID is the golden's order_id.
const goldenOrderID = "9b1d4c7e-3f2a-4e5b-8c6d-0a1b2c3d4e5f"

// loadDoc decodes a file as the decoder on the hot path does.
func loadDoc(tb testing.TB, path string) *jsonvalue.Doc {
	tb.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	return parseDoc(tb, string(data))
}

// parseDoc decodes a JSON text.
func parseDoc(tb testing.TB, s string) *jsonvalue.Doc {
	tb.Helper()
	d, err := jsonvalue.ParseDoc([]byte(s), jsonvalue.Limits{})
	if err != nil {
		tb.Fatalf("parse %s: %v", s, err)
	}
	return d
}

// cond is a CONDITION rule of a type with an expression.
func cond(name, typ, expr string) Rule {
	return Rule{Name: name, Kind: "CONDITION", Type: typ, Expr: expr}
}

// with returns r changed by f.
func with(r Rule, f func(*Rule)) Rule {
	f(&r)
	return r
}

// mustCompile compiles rules or fails the test.
func mustCompile(tb testing.TB, opts Options, rules ...Rule) *Set {
	tb.Helper()
	s, err := Compile(rules, opts)
	if err != nil {
		tb.Fatalf("Compile: %v", err)
	}
	return s
}

// compileErr compiles rules that must not compile and returns the error.
func compileErr(tb testing.TB, opts Options, rules ...Rule) error {
	tb.Helper()
	_, err := Compile(rules, opts)
	if err == nil {
		tb.Fatalf("Compile(%+v) = nil error, want one", rules)
	}
	var ce *CompileError
	if !errors.As(err, &ce) {
		tb.Fatalf("Compile error %v is not a *CompileError", err)
	}
	return err
}

// wantContains fails unless s holds every part.
func wantContains(tb testing.TB, s string, parts ...string) {
	tb.Helper()
	for _, p := range parts {
		if !strings.Contains(s, p) {
			tb.Errorf("%q does not contain %q", s, p)
		}
	}
}

// evalOne runs a one-rule set and returns its result.
func evalOne(tb testing.TB, s *Set, in *Input) Result {
	tb.Helper()
	res, _ := s.Eval(in, nil)
	if len(res) != 1 {
		tb.Fatalf("Eval returned %d results, want 1", len(res))
	}
	return res[0]
}

// mustJSON writes v as JSON.
func mustJSON(tb testing.TB, v any) string {
	tb.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		tb.Fatal(err)
	}
	return string(b)
}
