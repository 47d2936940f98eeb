package fastpath

import (
	"math/big"
	"regexp"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// The replicas of jsonschema's built-in formats and the exact number
// arithmetic, each against what the reference does.

// originalFormat returns jsonschema's own function for a built-in format.
func originalFormat(tb testing.TB, name string) func(any) error {
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	if err := c.AddResource("mem://f.json", map[string]any{"format": name}); err != nil {
		tb.Fatal(err)
	}
	s, err := c.Compile("mem://f.json")
	if err != nil || s.Format == nil {
		tb.Fatalf("format %s: %v", name, err)
	}
	return s.Format.Validate
}

var replicas = []struct {
	name string
	kind formatKind
	fn   func(string) bool
}{
	{"uuid", formatUUID, isUUID},
	{"date", formatDate, isDate},
	{"time", formatTime, isTime},
	{"date-time", formatDateTime, isDateTime},
}

var formatSeeds = []string{
	"", "0193a5d2-8a40-7c11-b2d4-5e6f708192a3", "0193A5D2-8A40-7C11-B2D4-5E6F708192A3", "0193a5d2-8a40-7c11-b2d4-5e6f708192a", "0193a5d28a407c11b2d45e6f708192a3",
	"0193a5d2-8a40-7c11-b2d4-5e6f708192aé", "0193a5d2-8a40-7c11-b2d4-5e6f70819\xff3", "--------------------------------------------",
	"2026-11-02T12:41:07Z", "2026-11-02t12:41:07z", "2026-11-02T12:41:07.123+05:30", "2026-02-29T00:00:00Z", "2024-02-29T00:00:00Z", "2000-02-29T00:00:00Z", "1900-02-29T00:00:00Z",
	"2026-13-01T00:00:00Z", "2026-00-01T00:00:00Z", "2026-11-00T00:00:00Z", "2026-11-31T00:00:00Z", "+026-11-02T12:41:07Z", "-026-11-02T12:41:07Z", "2026-+1-02T12:41:07Z",
	"2026-11-02T24:00:00Z", "2026-11-02T23:59:60Z", "2026-11-02T12:59:60Z", "2026-11-02T12:59:60+12:00", "2026-11-02T23:59:60-00:01", "2026-11-02T00:00:60+23:59",
	"2026-11-02T+1:-0:00Z", "2026-11-02T-0:+5:+9Z", "2026-11-02T12:41:07+-1:00", "2026-11-02T12:41:07+01:+0", "2026-11-02T12:41:07.Z", "2026-11-02T12:41:07.5", "2026-11-02T12:41:07+0530",
	"12:41:07Z", "12:41:07.5+01:00", "1:41:07Z", "23:59:60Z", "00:00:60+23:59", "::::::::Z", "12:41:07z", "12:41:07+01:00x", "12:41:0７Z", "12:41:07.９Z",
	"2026-11-02", "2026-1-02", "0000-01-01", "9999-12-31", "2026-11-02x", "2026/11/02", "２026-11-02",
}

func FuzzFormatReplicas(f *testing.F) {
	for _, s := range formatSeeds {
		f.Add(s)
	}
	orig := map[string]func(any) error{}
	for _, r := range replicas {
		orig[r.name] = originalFormat(f, r.name)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, r := range replicas {
			want := orig[r.name](s) == nil
			if got := r.fn(s); got != want {
				t.Errorf("%s(%q) = %v, jsonschema says %v", r.name, s, got, want)
			}
			// Also as the suffix of a date-time and the time of one.
			if r.name == "date-time" && len(s) > 11 {
				for _, p := range []string{"2026-11-02T" + s[11:], s[:10] + "T12:00:00Z"} {
					if got, want := r.fn(p), orig[r.name](p) == nil; got != want {
						t.Errorf("%s(%q) = %v, jsonschema says %v", r.name, p, got, want)
					}
				}
			}
		}
	})
}

func TestFormatKinds(t *testing.T) {
	for _, r := range replicas {
		c := jsonschema.NewCompiler()
		c.AssertFormat()
		if err := c.AddResource("mem://f.json", map[string]any{"format": r.name}); err != nil {
			t.Fatal(err)
		}
		s, err := c.Compile("mem://f.json")
		if err != nil {
			t.Fatal(err)
		}
		if k := formatKindOf(s.Format); k != r.kind {
			t.Errorf("%s: kind %v, want %v", r.name, k, r.kind)
		}
	}
	// A format registered under a built-in name is the caller's function:
	// it is called, never replicated.
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	c.RegisterFormat(&jsonschema.Format{Name: "uuid", Validate: func(any) error { return nil }})
	if err := c.AddResource("mem://f.json", map[string]any{"format": "uuid"}); err != nil {
		t.Fatal(err)
	}
	s, err := c.Compile("mem://f.json")
	if err != nil {
		t.Fatal(err)
	}
	if k := formatKindOf(s.Format); k != formatCall {
		t.Errorf("registered uuid: kind %v, want formatCall", k)
	}
}

// Numbers: parseDecimal, limit.cmp, limit.multipleOf and equalDecimal
// against big.Rat as jsonschema uses it.

var numberSeeds = []string{
	"0", "-0", "0.0", "0e5", "0E-5", "1", "-1", "1.0", "1.50", "15e-1", "1e2", "1E+2", "1e-2", "100", "0.1", "0.2", "0.3", "0.30000000000000004", "0.01", "68.95",
	"9223372036854775807", "9223372036854775808", "-9223372036854775808", "18446744073709551615", "18446744073709551616", "10000000000000000000", "9999999999999999999",
	"99999999999999999999", "1234567890123456789", "12345678901234567890", "1.234567890123456789", "0.1234567890123456789", "123456789012345678901234567890",
	"1e400", "-1e400", "1e-400", "5e-324", "1e19", "1e20", "1e-19", "1e-20", "12.5e399", "0.001e-398", "1e10000", "1e10001", "1e-10000",
	"01", "1.", ".1", "+1", "1e", "1e+", "--1", "0x10", "1/2", " 1", "Infinity", "NaN", "", "-", "1_000", "1e1000001",
}

func FuzzNumbers(f *testing.F) {
	for i, a := range numberSeeds {
		f.Add(a, numberSeeds[(i*7+3)%len(numberSeeds)])
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		if len(a) > 200 || len(b) > 200 {
			return
		}
		da, ok := parseDecimal(a)
		ra, rok := rat(a)
		if !ok {
			return // left to the reference
		}
		if !rok {
			t.Fatalf("parseDecimal accepts %q, big.Rat does not", a)
		}
		if da.isInt != ra.IsInt() {
			t.Errorf("%q: isInt %v, big.Rat says %v", a, da.isInt, ra.IsInt())
		}
		db, ok := parseDecimal(b)
		if !ok {
			return
		}
		rb, _ := rat(b)
		if eq, ok := equalDecimal(&da, &db); ok && eq != (ra.Cmp(rb) == 0) {
			t.Errorf("equal(%q, %q) = %v, big.Rat says %v", a, b, eq, ra.Cmp(rb) == 0)
		}
		l := newLimit(rb)
		if c, ok := l.cmp(&da); ok && c != ra.Cmp(rb) {
			t.Errorf("cmp(%q, %q) = %d, big.Rat says %d", a, b, c, ra.Cmp(rb))
		}
		if rb.Sign() > 0 {
			want := new(big.Rat).Quo(ra, rb).IsInt()
			if m, ok := l.multipleOf(&da); ok && m != want {
				t.Errorf("multipleOf(%q, %q) = %v, big.Rat says %v", a, b, m, want)
			}
		}
	})
}

func TestNumberCoverage(t *testing.T) {
	// The fast arithmetic must decide the everyday cases itself.
	for _, c := range []struct{ v, l string }{
		{"4210", "0"}, {"1", "1"}, {"68.95", "0.01"}, {"0.30000000000000004", "0.1"}, {"1e2", "3"}, {"-1.5", "1.5"}, {"12.34", "100"},
		{"9223372036854775807", "1"}, {"0.000001", "0.0000001"},
	} {
		d, ok := parseDecimal(c.v)
		if !ok {
			t.Fatalf("%s: not parsed", c.v)
		}
		r, _ := rat(c.l)
		l := newLimit(r)
		if _, ok := l.cmp(&d); !ok {
			t.Errorf("cmp(%s, %s) not decided by the fast path", c.v, c.l)
		}
		if _, ok := l.multipleOf(&d); !ok && r.Sign() > 0 {
			t.Errorf("multipleOf(%s, %s) not decided by the fast path", c.v, c.l)
		}
	}
}

var regexSeeds = []string{
	`^[0-9]+\.[0-9]{2}$`, `^[A-Z]{3}$`, `^[a-z0-9-]+$`, `^\d{4}-\d{2}-\d{2}$`, `^\+?[1-9]\d{1,14}$`, `^[^@\s]+@[^@\s]+$`, `^.{1,5}$`, `^(?s).*$`, `^\p{L}{1,3}$`,
	`^[a-z]*[0-9]?$`, `^a?b?c?$`, `^x{0}$`, `^$`, `^a+a$`, `^[0-9]+[0-9]$`, `^\.?[0-9]$`, `^[0-9]+\.?[0-9]$`, `a+b`, `^ab`, `ab$`, `^(ab)$`, `^a|b$`, `(?i)^abc$`, `^(?i:[a-z]{2})$`,
	`^[\x{10000}-\x{10FFFF}]{2}$`, `^\x{FFFD}$`, `^[^a]$`, `^\S+$`, `^\w{3,}$`, `^[[:alpha:]]{2}\d*$`, `(?m)^a$`, `^a\z`, `\A[0-9]{3}\z`, `^[😀-😂]+$`,
}

var regexSubjects = []string{
	"", "a", "ab", "abc", "12.34", "1.2", "123.456", "USD", "usd", "US", "USDX", "a-b-c", "2026-11-02", "+14155552671", "0123", "a@b", "a@@b", "\n", "x\ny", "ééé", "日本語", "😀😀",
	"\xff", "\xffa", "a\xff", "\xef\xbf\xbd", "abcdef", "Ab", "ǅ", "ſ", "K", "12", "1.2", ".2", "2", "a1", "aaa", "aab",
}

func FuzzSimpleRegexp(f *testing.F) {
	for i, p := range regexSeeds {
		for j, s := range regexSubjects {
			if (i+j)%5 == 0 {
				f.Add(p, s)
			}
		}
	}
	f.Fuzz(func(t *testing.T, pattern, s string) {
		re, err := regexp.Compile(pattern)
		if err != nil {
			return
		}
		simple, ok := compileSimple(re.String())
		if !ok {
			return
		}
		if got, want := simple.MatchString(s), re.MatchString(s); got != want {
			t.Errorf("pattern %q, %q: simple matcher says %v, regexp %v", pattern, s, got, want)
		}
	})
}

func TestSimpleRegexp(t *testing.T) {
	accepted := 0
	for _, p := range regexSeeds {
		re := regexp.MustCompile(p)
		simple, ok := compileSimple(re.String())
		if !ok {
			continue
		}
		accepted++
		for _, s := range regexSubjects {
			if got, want := simple.MatchString(s), re.MatchString(s); got != want {
				t.Errorf("pattern %q, %q: simple matcher says %v, regexp %v", p, s, got, want)
			}
		}
	}
	for _, p := range []string{`^[0-9]+\.[0-9]{2}$`, `^[A-Z]{3}$`, `^\+?[1-9]\d{1,14}$`, `^\d{4}-\d{2}-\d{2}$`} {
		if _, ok := compileSimple(p); !ok {
			t.Errorf("%q: not handled by the simple matcher", p)
		}
	}
	for _, p := range []string{`^a+a$`, `^[0-9]+\.?[0-9]$`, `a+b`, `^ab`, `^(ab)$`, `(?i)^abc$`, `(?m)^a$`} {
		if _, ok := compileSimple(p); ok {
			t.Errorf("%q: handled by the simple matcher, want regexp", p)
		}
	}
	t.Logf("%d of %d seed patterns handled by the simple matcher", accepted, len(regexSeeds))
}
