package avro

import (
	"fmt"
	"math"
	"math/big"
	"strconv"
	"strings"
	"time"

	"github.com/eventguard/eventguard/internal/jsonvalue"
)

// maxDecimalExponent bounds the exponent of a decimal literal, so that
// "1e999999999" costs nothing.
const maxDecimalExponent = 400

// decimalLit is a decimal number: digits × 10^exp, digits without leading
// zeros ("" for zero).
type decimalLit struct {
	neg    bool
	digits string
	exp    int
}

// parseDecimal reads a decimal literal: an optional '-', digits, an
// optional fraction and an optional exponent (the JSON number grammar,
// which a string holding a decimal uses too).
func parseDecimal(s string) (decimalLit, bool) {
	var d decimalLit
	i := 0
	if i < len(s) && s[i] == '-' {
		d.neg = true
		i++
	}
	intStart := i
	for i < len(s) && '0' <= s[i] && s[i] <= '9' {
		i++
	}
	if i == intStart {
		return d, false
	}
	intPart := s[intStart:i]
	frac := ""
	if i < len(s) && s[i] == '.' {
		i++
		fs := i
		for i < len(s) && '0' <= s[i] && s[i] <= '9' {
			i++
		}
		if i == fs {
			return d, false
		}
		frac = s[fs:i]
	}
	exp := 0
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		es := i
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		ds := i
		for i < len(s) && '0' <= s[i] && s[i] <= '9' {
			i++
		}
		if i == ds || i-ds > 6 {
			return d, false
		}
		e, err := strconv.Atoi(s[es:i])
		if err != nil {
			return d, false
		}
		exp = e
	}
	if i != len(s) || exp > maxDecimalExponent || exp < -maxDecimalExponent {
		return d, false
	}
	digits := strings.TrimLeft(intPart+frac, "0")
	d.digits, d.exp = digits, exp-len(frac)
	if digits == "" {
		d.neg, d.exp = false, 0
	}
	return d, true
}

// fracZero reports whether d is an integer.
func (d decimalLit) fracZero() bool {
	if d.exp >= 0 || d.digits == "" {
		return true
	}
	drop := -d.exp
	if drop > len(d.digits) {
		return false
	}
	return strings.TrimRight(d.digits[len(d.digits)-drop:], "0") == ""
}

// scaled returns the digits of d × 10^scale when that is an integer, and
// false when d has more fractional digits than scale (other than zeros).
func (d decimalLit) scaled(scale int) (string, bool) {
	if d.digits == "" {
		return "", true
	}
	e := d.exp + scale
	if e >= 0 {
		if e > 2*maxDecimalExponent {
			return "", false
		}
		return d.digits + strings.Repeat("0", e), true
	}
	drop := -e
	if drop > len(d.digits) || strings.TrimRight(d.digits[len(d.digits)-drop:], "0") != "" {
		return "", false
	}
	return d.digits[:len(d.digits)-drop], true
}

// int64 returns the integer d (fracZero must hold) if it fits.
func (d decimalLit) int64() (int64, bool) {
	digits, ok := d.scaled(0)
	if !ok || len(digits) > 19 {
		return 0, false
	}
	if digits == "" {
		return 0, true
	}
	u, err := strconv.ParseUint(digits, 10, 64)
	if err != nil {
		return 0, false
	}
	if d.neg {
		if u > 1<<63 {
			return 0, false
		}
		return -int64(u), true
	}
	if u > math.MaxInt64 {
		return 0, false
	}
	return int64(u), true
}

// decimal encodes a JSON number or decimal string as a decimal logical
// type: bytes (two's complement, big-endian, minimal) or fixed
// (sign-extended to the size).
func (e *encoder) decimal(n *node, v *jsonvalue.Node) {
	if v.Kind != jsonvalue.KindNumber && v.Kind != jsonvalue.KindString {
		e.wrongType(n, v.Kind)
		return
	}
	d, ok := parseDecimal(v.Str)
	if !ok {
		e.fail(KeywordDecimal, "%q is not a decimal number", v.Str)
		return
	}
	digits, ok := d.scaled(n.scale)
	if !ok {
		e.fail(KeywordDecimal, "%s has more than %d fractional digits (scale of decimal(%d,%d))", v.Str, n.scale, n.precision, n.scale)
		return
	}
	if len(digits) > n.precision {
		e.fail(KeywordDecimal, "%s has more than %d digits (precision of decimal(%d,%d))", v.Str, n.precision, n.precision, n.scale)
		return
	}
	var raw []byte
	var scratch [8]byte
	if len(digits) <= 18 {
		u, _ := strconv.ParseInt("0"+digits, 10, 64)
		if d.neg {
			u = -u
		}
		raw = twosComplement64(scratch[:0], u)
	} else {
		b, _ := new(big.Int).SetString(digits, 10)
		if d.neg {
			b.Neg(b)
		}
		raw = twosComplementBig(b)
	}
	if n.kind == kFixed {
		if len(raw) > n.size {
			e.fail(KeywordDecimal, "%s does not fit fixed %s of %d bytes", v.Str, n.name, n.size)
			return
		}
		pad := byte(0)
		if raw[0]&0x80 != 0 {
			pad = 0xff
		}
		for k := len(raw); k < n.size; k++ {
			e.buf = append(e.buf, pad)
		}
		e.buf = append(e.buf, raw...)
		return
	}
	e.buf = appendBytes(e.buf, raw)
}

// twosComplement64 appends the minimal big-endian two's complement of x
// (at least one byte), as Java's BigInteger.toByteArray writes it.
func twosComplement64(dst []byte, x int64) []byte {
	var b [8]byte
	for k := 7; k >= 0; k-- {
		b[k] = byte(x)
		x >>= 8
	}
	k := 0
	for k < 7 && (b[k] == 0 && b[k+1]&0x80 == 0 || b[k] == 0xff && b[k+1]&0x80 != 0) {
		k++
	}
	return append(dst, b[k:]...)
}

func twosComplementBig(x *big.Int) []byte {
	if x.Sign() >= 0 {
		b := x.Bytes()
		if len(b) == 0 || b[0]&0x80 != 0 {
			b = append([]byte{0}, b...)
		}
		return b
	}
	// -x - 1, inverted, is x in two's complement.
	m := new(big.Int).Neg(x)
	m.Sub(m, big.NewInt(1))
	b := m.Bytes()
	if len(b) == 0 || b[0]&0x80 != 0 {
		b = append([]byte{0}, b...)
	}
	for k := range b {
		b[k] = ^b[k]
	}
	return b
}

// appendDecimal appends the decimal with unscaled two's complement value
// raw and scale as a JSON string ("-18.50").
func appendDecimal(dst, raw []byte, scale int) []byte {
	var digits string
	neg := len(raw) > 0 && raw[0]&0x80 != 0
	if len(raw) <= 8 {
		var x int64
		if neg {
			x = -1
		}
		for _, c := range raw {
			x = x<<8 | int64(c)
		}
		if x < 0 {
			digits = strconv.FormatUint(uint64(-x), 10) // -MinInt64 wraps to itself: right as unsigned
		} else {
			digits = strconv.FormatInt(x, 10)
		}
	} else {
		b := new(big.Int).SetBytes(raw)
		if neg {
			b.Sub(b, new(big.Int).Lsh(big.NewInt(1), uint(8*len(raw))))
		}
		digits = new(big.Int).Abs(b).String()
	}
	dst = append(dst, '"')
	if neg {
		dst = append(dst, '-')
	}
	if scale > 0 {
		if len(digits) <= scale {
			digits = strings.Repeat("0", scale-len(digits)+1) + digits
		}
		dst = append(dst, digits[:len(digits)-scale]...)
		dst = append(dst, '.')
		dst = append(dst, digits[len(digits)-scale:]...)
	} else {
		dst = append(dst, digits...)
	}
	return append(dst, '"')
}

// decimalDigits counts the digits of the unscaled value raw holds; -1 when
// it holds more than max (without converting a hostile length).
func decimalDigits(raw []byte, max int) int {
	// 10^max < 2^(8·len-1) once len exceeds max·log2(10)/8 + 1.
	if float64(len(raw)) > float64(max)*0.4153+2 {
		return -1
	}
	if len(raw) == 0 {
		return 1
	}
	b := new(big.Int).SetBytes(raw)
	if raw[0]&0x80 != 0 {
		b.Sub(b, new(big.Int).Lsh(big.NewInt(1), uint(8*len(raw))))
		b.Abs(b)
	}
	return len(b.String())
}

const (
	dateLayout      = "2006-01-02"
	timeLayout      = "15:04:05.999999999"
	localTimeLayout = "2006-01-02T15:04:05.999999999"
)

// parseTemporal reads the string form of a date, time or timestamp logical
// type into its Avro value.
func parseTemporal(l logical, s string) (x int64, ok bool, keyword, msg string) {
	switch l {
	case lDate:
		t, err := time.Parse(dateLayout, s)
		if err != nil {
			return 0, false, KeywordDate, fmt.Sprintf("%q is not a date (YYYY-MM-DD)", s)
		}
		return floorDiv(t.Unix(), 86400), true, "", ""
	case lTimeMillis, lTimeMicros:
		t, err := time.Parse(timeLayout, s)
		if err != nil {
			return 0, false, KeywordTime, fmt.Sprintf("%q is not a time of day (HH:MM:SS[.fraction])", s)
		}
		ns := int64(t.Hour())*int64(time.Hour) + int64(t.Minute())*int64(time.Minute) + int64(t.Second())*int64(time.Second) + int64(t.Nanosecond())
		return scaleNanos(ns, l == lTimeMillis, KeywordTime, s)
	case lTimestampMillis, lTimestampMicros:
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return 0, false, KeywordTimestamp, fmt.Sprintf("%q is not an RFC 3339 timestamp with an offset (2026-11-02T12:31:00Z)", s)
		}
		return scaleTime(t, l == lTimestampMillis, s)
	case lLocalTimestampMillis, lLocalTimestampMicros:
		t, err := time.Parse(localTimeLayout, s)
		if err != nil {
			return 0, false, KeywordTimestamp, fmt.Sprintf("%q is not a local timestamp without an offset (2026-11-02T12:31:00)", s)
		}
		return scaleTime(t, l == lLocalTimestampMillis, s)
	}
	return 0, false, KeywordType, "not a temporal type"
}

func scaleTime(t time.Time, millis bool, s string) (int64, bool, string, string) {
	if millis {
		if t.Nanosecond()%1e6 != 0 {
			return 0, false, KeywordTimestamp, fmt.Sprintf("%q is more precise than milliseconds", s)
		}
		return t.UnixMilli(), true, "", ""
	}
	if t.Nanosecond()%1e3 != 0 {
		return 0, false, KeywordTimestamp, fmt.Sprintf("%q is more precise than microseconds", s)
	}
	return t.UnixMicro(), true, "", ""
}

func scaleNanos(ns int64, millis bool, keyword, s string) (int64, bool, string, string) {
	if millis {
		if ns%1e6 != 0 {
			return 0, false, keyword, fmt.Sprintf("%q is more precise than milliseconds", s)
		}
		return ns / 1e6, true, "", ""
	}
	if ns%1e3 != 0 {
		return 0, false, keyword, fmt.Sprintf("%q is more precise than microseconds", s)
	}
	return ns / 1e3, true, "", ""
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

// appendTemporal appends the string form of a date, time or timestamp, or
// the number itself when the instant is outside the years 0000 to 9999 (or
// a time of day out of range), which the string form cannot write.
func appendTemporal(dst []byte, l logical, x int64) []byte {
	var t time.Time
	layout := ""
	switch l {
	case lDate:
		if x < -719528 || x > 2932896 { // 0000-01-01 .. 9999-12-31
			return strconv.AppendInt(dst, x, 10)
		}
		t, layout = time.Unix(x*86400, 0).UTC(), dateLayout
	case lTimeMillis, lTimeMicros:
		unit := int64(time.Millisecond)
		if l == lTimeMicros {
			unit = int64(time.Microsecond)
		}
		t, layout = time.Unix(0, x*unit).UTC(), timeLayout
	case lTimestampMillis, lLocalTimestampMillis:
		if x < -62167219200000 || x > 253402300799999 {
			return strconv.AppendInt(dst, x, 10)
		}
		t = time.UnixMilli(x).UTC()
	case lTimestampMicros, lLocalTimestampMicros:
		if x < -62167219200000000 || x > 253402300799999999 {
			return strconv.AppendInt(dst, x, 10)
		}
		t = time.UnixMicro(x).UTC()
	}
	switch l {
	case lTimestampMillis, lTimestampMicros:
		layout = time.RFC3339Nano
	case lLocalTimestampMillis, lLocalTimestampMicros:
		layout = localTimeLayout
	}
	dst = append(dst, '"')
	dst = t.AppendFormat(dst, layout)
	return append(dst, '"')
}
