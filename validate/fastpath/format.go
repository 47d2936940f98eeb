package fastpath

import (
	"reflect"
	"strings"
	"sync"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/eventguard/eventguard/internal/jsonvalue"
)

// Formats. The fast engine calls the very function the reference calls
// (jsonschema.Format.Validate of the compiled schema), except for a few
// built-in formats common in events, whose jsonschema implementation
// allocates (strings.Split, append): for those it runs a replica written
// from jsonschema v6.0.3's source (format.go) and Go's time.Parse, without
// allocating. A replica is used only when the compiled schema's function is
// jsonschema's built-in one (compared by function pointer), and
// FuzzFormatReplicas checks every replica against the original.

type formatKind uint8

const (
	formatCall formatKind = iota // call Format.Validate
	formatUUID
	formatDate
	formatTime
	formatDateTime
)

var builtinFormats = sync.OnceValue(func() map[uintptr]formatKind {
	m := map[uintptr]formatKind{}
	for name, k := range map[string]formatKind{
		"uuid": formatUUID, "date": formatDate, "time": formatTime, "date-time": formatDateTime,
	} {
		c := jsonschema.NewCompiler()
		c.AssertFormat()
		url := "mem://fastpath/format.json"
		if err := c.AddResource(url, map[string]any{"format": name}); err != nil {
			continue
		}
		s, err := c.Compile(url)
		if err != nil || s.Format == nil || s.Format.Validate == nil {
			continue
		}
		m[reflect.ValueOf(s.Format.Validate).Pointer()] = k
	}
	return m
})

func formatKindOf(f *jsonschema.Format) formatKind {
	if f == nil || f.Validate == nil {
		return formatCall
	}
	return builtinFormats()[reflect.ValueOf(f.Validate).Pointer()]
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

// isUUID replicates validateUUID: strings.Split(s, "-") gives groups of
// 8, 4, 4, 4 and 12 bytes, each rune a hex digit. Hex digits are single
// bytes, so that is: 36 bytes, dashes at 8, 13, 18, 23, hex elsewhere.
func isUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < 36; i++ {
		c := s[i]
		if i == 8 || i == 13 || i == 18 || i == 23 {
			if c != '-' {
				return false
			}
			continue
		}
		if !isHex(c) {
			return false
		}
	}
	return true
}

func digit2(s string, i int) (int, bool) {
	a, b := s[i], s[i+1]
	if a < '0' || a > '9' || b < '0' || b > '9' {
		return 0, false
	}
	return int(a-'0')*10 + int(b-'0'), true
}

// isDate replicates validateDate: time.Parse("2006-01-02", s) succeeds.
// stdLongYear takes 4 bytes, the first a digit, through atoi (so all four
// digits); '-' is matched literally; stdZeroMonth and stdZeroDay take
// exactly two digits (getnum fixed); the month must be 1..12, the day
// 1..daysIn(month, year); nothing may follow.
func isDate(s string) bool {
	if len(s) != 10 || s[4] != '-' || s[7] != '-' {
		return false
	}
	y1, ok1 := digit2(s, 0)
	y2, ok2 := digit2(s, 2)
	month, ok3 := digit2(s, 5)
	day, ok4 := digit2(s, 8)
	if !ok1 || !ok2 || !ok3 || !ok4 || month < 1 || month > 12 || day < 1 {
		return false
	}
	year := y1*100 + y2
	return day <= daysIn(month, year)
}

func daysIn(m, year int) int {
	if m == 2 {
		if year%4 == 0 && (year%100 != 0 || year%400 == 0) {
			return 29
		}
		return 28
	}
	return 30 + (m+m>>3)&1
}

// atoi2 replicates strconv.Atoi on a two-byte token: an optional sign and
// one digit, or two digits.
func atoi2(s string, i int) (int, bool) {
	a, b := s[i], s[i+1]
	if b < '0' || b > '9' {
		return 0, false
	}
	switch {
	case a == '+':
		return int(b - '0'), true
	case a == '-':
		return -int(b - '0'), true
	case a >= '0' && a <= '9':
		return int(a-'0')*10 + int(b-'0'), true
	}
	return 0, false
}

// isTime replicates validateTime (jsonschema v6.0.3 format.go), step by
// step, including its acceptance of "+1" and "-0" as two-digit fields.
func isTime(str string) bool {
	if len(str) < 9 {
		return false
	}
	if str[2] != ':' || str[5] != ':' {
		return false
	}
	// strings.SplitN(str[:8], ":", 3) then strconv.Atoi of each token: the
	// tokens are str[0:2], str[3:5] and str[6:8] (a ':' anywhere else makes
	// a token empty or not a number).
	h, ok1 := atoi2(str, 0)
	m, ok2 := atoi2(str, 3)
	s, ok3 := atoi2(str, 6)
	if !ok1 || !ok2 || !ok3 || h < 0 || m < 0 || s < 0 {
		return false
	}
	if h > 23 || m > 59 || s > 60 {
		return false
	}
	str = str[8:]
	if rem, ok := strings.CutPrefix(str, "."); ok {
		n := 0
		for n < len(rem) && rem[n] >= '0' && rem[n] <= '9' {
			n++
		}
		if n == 0 {
			return false
		}
		str = rem[n:]
	}
	if str != "z" && str != "Z" {
		if len(str) != 6 {
			return false
		}
		var sign int
		switch str[0] {
		case '+':
			sign = -1
		case '-':
			sign = +1
		default:
			return false
		}
		str = str[1:]
		if str[2] != ':' {
			return false
		}
		// strings.SplitN(str, ":", 2): str[0:2] and str[3:5].
		zh, ok1 := atoi2(str, 0)
		zm, ok2 := atoi2(str, 3)
		if !ok1 || !ok2 || zh < 0 || zm < 0 {
			return false
		}
		if zh > 23 || zm > 59 {
			return false
		}
		hm := (h*60 + m) + sign*(zh*60+zm)
		if hm < 0 {
			hm += 24 * 60
		}
		h, m = hm/60, hm%60
	}
	if s >= 60 && (h != 23 || m != 59) {
		return false
	}
	return true
}

// isDateTime replicates validateDateTime.
func isDateTime(s string) bool {
	if len(s) < 20 {
		return false
	}
	if s[10] != 't' && s[10] != 'T' {
		return false
	}
	return isDate(s[:10]) && isTime(s[11:])
}

// formatOK checks the value at node v against the node's format exactly as
// the reference.
func (n *node) formatOK(st *state, v int) bool {
	nd := &st.nodes[v]
	if n.formatKind == formatCall {
		if nd.Kind == jsonvalue.KindString {
			return n.format.Validate(nd.Str) == nil
		}
		return n.format.Validate(st.doc.Value(v)) == nil
	}
	if nd.Kind != jsonvalue.KindString {
		return true // every built-in format ignores non-strings
	}
	s := nd.Str
	switch n.formatKind {
	case formatUUID:
		return isUUID(s)
	case formatDate:
		return isDate(s)
	case formatTime:
		return isTime(s)
	default:
		return isDateTime(s)
	}
}
