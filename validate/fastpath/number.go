package fastpath

import (
	"math/big"
	"math/bits"
)

// Numbers. jsonschema v6 turns every number it looks at into a big.Rat
// (new(big.Rat).SetString(fmt.Sprint(v))), which is exact and slow. A JSON
// number literal is a decimal, so its exact value is ±mant×10^exp; when mant
// has at most 19 significant digits it fits a uint64 and every comparison
// below is done exactly in 64/128-bit integer arithmetic. Anything that does
// not fit goes through the same big.Rat code as the reference.

// maxExp bounds the decimal exponent the fast path looks at. Beyond it the
// number is left to the reference (which may take very long or panic on such
// literals; the strict decoder refuses them long before: 400 by default).
const maxExp = 10000

// decimal is the exact value of a JSON number literal: ±mant × 10^exp, with
// mant stripped of trailing zeros. Zero is mant 0, exp 0, neg false.
type decimal struct {
	mant uint64
	exp  int
	neg  bool
	// wide: more than 19 significant digits, mant is unusable (exp and
	// isInt are still exact).
	wide bool
	// isInt: the value is an integer (decided exactly, wide or not).
	isInt bool
}

var pow10 = [...]uint64{
	1, 10, 100, 1000, 10000, 100000, 1000000, 10000000, 100000000, 1000000000,
	10000000000, 100000000000, 1000000000000, 10000000000000, 100000000000000,
	1000000000000000, 10000000000000000, 100000000000000000, 1000000000000000000,
	10000000000000000000,
}

// parseDecimal parses s, which must be a JSON number literal (RFC 8259:
// -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?). ok is false when it is
// not one, or when its exponent is beyond ±maxExp: the caller then leaves
// the decision to the reference.
func parseDecimal(s string) (d decimal, ok bool) {
	i := 0
	if i < len(s) && s[i] == '-' {
		d.neg = true
		i++
	}
	if i >= len(s) {
		return d, false
	}
	var (
		sig     int  // significant digits taken so far (trailing zeros pending excluded)
		zeros   int  // zeros seen after the last nonzero digit
		nonzero bool // a nonzero digit was seen
		frac    int  // digits after the point
	)
	digit := func(c byte) {
		if c == '0' {
			if nonzero {
				zeros++
			}
			return
		}
		if !nonzero {
			nonzero = true
			sig = 1
			d.mant = uint64(c - '0')
			zeros = 0
			return
		}
		sig += zeros + 1
		if sig > 19 || d.wide {
			d.wide = true
		} else {
			d.mant = d.mant*pow10[zeros+1] + uint64(c-'0')
		}
		zeros = 0
	}
	switch c := s[i]; {
	case c == '0':
		i++
	case c >= '1' && c <= '9':
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			digit(s[i])
			i++
		}
	default:
		return d, false
	}
	if i < len(s) && s[i] == '.' {
		i++
		start := i
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			digit(s[i])
			frac++
			i++
		}
		if i == start {
			return d, false
		}
	}
	e := 0
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		eneg := false
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			eneg = s[i] == '-'
			i++
		}
		start := i
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			if e <= maxExp {
				e = e*10 + int(s[i]-'0')
			}
			i++
		}
		if i == start || e > maxExp {
			return d, false
		}
		if eneg {
			e = -e
		}
	}
	if i != len(s) {
		return d, false
	}
	if !nonzero {
		return decimal{isInt: true}, true
	}
	d.exp = e - frac + zeros
	if d.exp > maxExp || d.exp < -maxExp {
		return d, false
	}
	d.isInt = d.exp >= 0
	return d, true
}

// rat is the reference's view of a number: exactly what jsonschema v6
// computes (new(big.Rat).SetString of the literal text).
func rat(s string) (*big.Rat, bool) {
	return new(big.Rat).SetString(s)
}

// limit is a numeric keyword's value (minimum, maximum, exclusive*,
// multipleOf): the reference's big.Rat, and, when both fit, its numerator's
// absolute value and denominator as uint64 (the Rat is normalised, so they
// are coprime).
type limit struct {
	r     *big.Rat
	sign  int
	small bool
	p, q  uint64
}

func newLimit(r *big.Rat) *limit {
	if r == nil {
		return nil
	}
	l := &limit{r: r, sign: r.Sign()}
	num, den := r.Num(), r.Denom()
	if num.IsInt64() && den.IsUint64() {
		n := num.Int64()
		if n == -1<<63 {
			return l
		}
		if n < 0 {
			n = -n
		}
		l.p, l.q, l.small = uint64(n), den.Uint64(), true
	}
	return l
}

// cmp compares d with l: -1, 0, +1. ok is false when the fast arithmetic
// does not apply (the caller then uses big.Rat).
func (l *limit) cmp(d *decimal) (int, bool) {
	ds := 0
	if d.mant != 0 || d.wide {
		ds = 1
		if d.neg {
			ds = -1
		}
	}
	if ds != l.sign {
		if ds < l.sign {
			return -1, true
		}
		return 1, true
	}
	if ds == 0 {
		return 0, true
	}
	if d.wide || !l.small {
		return 0, false
	}
	c, ok := cmpMag(d.mant, d.exp, l.p, l.q)
	if !ok {
		return 0, false
	}
	if ds < 0 {
		c = -c
	}
	return c, true
}

// cmpMag compares m×10^e with p/q (m, p >= 1; q >= 1).
func cmpMag(m uint64, e int, p, q uint64) (int, bool) {
	if e >= 0 {
		// m×10^e×q against p.
		a, ok := mulPow10(m, e)
		if !ok {
			return 1, true // a >= 2^64 > p, and q >= 1
		}
		hi, lo := bits.Mul64(a, q)
		if hi != 0 {
			return 1, true
		}
		return cmpU(lo, p), true
	}
	k := -e
	if k >= len(pow10) {
		return 0, false
	}
	// m×q against p×10^k.
	h1, l1 := bits.Mul64(m, q)
	h2, l2 := bits.Mul64(p, pow10[k])
	if h1 != h2 {
		return cmpU(h1, h2), true
	}
	return cmpU(l1, l2), true
}

func cmpU(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// mulPow10 returns m×10^e, or ok false when it does not fit a uint64.
func mulPow10(m uint64, e int) (uint64, bool) {
	if e >= len(pow10) {
		return 0, false
	}
	hi, lo := bits.Mul64(m, pow10[e])
	return lo, hi == 0
}

// multipleOf reports whether d / l is an integer (l > 0). ok is false when
// the fast arithmetic does not apply.
func (l *limit) multipleOf(d *decimal) (bool, bool) {
	if !d.wide && d.mant == 0 {
		return true, true
	}
	if d.wide || !l.small || l.p == 0 {
		return false, false
	}
	if d.exp >= 0 {
		// d/l = m×10^e×q/p; p and q are coprime: p | m×10^e.
		r := d.mant % l.p
		for i := 0; i < d.exp && r != 0; i++ {
			hi, lo := bits.Mul64(r, 10)
			r = bits.Rem64(hi, lo, l.p)
		}
		return r == 0, true
	}
	// d/l = m×q / (p×10^k).
	k := -d.exp
	if k >= len(pow10) {
		return false, false
	}
	dh, den := bits.Mul64(l.p, pow10[k])
	if dh != 0 {
		return false, false
	}
	hi, lo := bits.Mul64(d.mant, l.q)
	return bits.Rem64(hi, lo, den) == 0, true
}

// equalDecimal reports whether two parsed literals have the same value.
// ok is false when either is wide.
func equalDecimal(a, b *decimal) (bool, bool) {
	if a.wide || b.wide {
		return false, false
	}
	return a.mant == b.mant && a.exp == b.exp && a.neg == b.neg, true
}
