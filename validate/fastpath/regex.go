package fastpath

import (
	"regexp"
	"regexp/syntax"
	"unicode"
	"unicode/utf8"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// Patterns. jsonschema v6 matches "pattern" with Go's regexp (its default
// engine), about 90 ns for a short anchored pattern. Most event schemas
// anchor simple sequences: ^[0-9]+\.[0-9]{2}$, ^[A-Z]{3}$. For those, the
// fast engine decides membership directly: a pattern qualifies when, parsed
// as regexp.Compile parses it (syntax.Perl), it is ^ e1 e2 ... en $ with
// each ei a set of code points (a literal, a class, .) repeated between a
// minimum and a maximum number of times, and each ei whose count may vary is
// disjoint from every element that can come right after it. Then every
// match gives each element exactly the greedy count, so one greedy pass
// decides. Runes are decoded as regexp does (an invalid byte is U+FFFD,
// one byte). Everything else goes to regexp itself; FuzzSimpleRegexp checks
// the two agree.

type reElem struct {
	ascii    [2]uint64 // members below utf8.RuneSelf
	ranges   []rune    // all members, as lo, hi pairs
	min, max int       // max -1: unbounded
}

func (e *reElem) has(r rune) bool {
	if r < utf8.RuneSelf {
		return e.ascii[r>>6]&(1<<(r&63)) != 0
	}
	for i := 0; i+1 < len(e.ranges); i += 2 {
		if r < e.ranges[i] {
			return false
		}
		if r <= e.ranges[i+1] {
			return true
		}
	}
	return false
}

type simpleRegexp struct {
	elems []reElem
}

// matcher returns the simple matcher for p, or nil. Only for patterns
// compiled by jsonschema's default engine (Go's regexp).
func matcher(p jsonschema.Regexp) (*simpleRegexp, jsonschema.Regexp) {
	if re, ok := p.(*regexp.Regexp); ok {
		if s, ok := compileSimple(re.String()); ok {
			return s, p
		}
	}
	return nil, p
}

func newElem(ranges []rune, min, max int) (reElem, bool) {
	e := reElem{min: min, max: max}
	if len(ranges)%2 != 0 {
		return e, false
	}
	for i := 0; i < len(ranges); i += 2 {
		lo, hi := ranges[i], ranges[i+1]
		if lo > hi || (i > 0 && lo <= ranges[i-1]) {
			return e, false // not sorted and disjoint: not what syntax makes
		}
		for r := lo; r <= hi && r < utf8.RuneSelf; r++ {
			e.ascii[r>>6] |= 1 << (r & 63)
		}
	}
	e.ranges = ranges
	return e, true
}

var (
	anyChar      = []rune{0, unicode.MaxRune}
	anyCharNotNL = []rune{0, '\n' - 1, '\n' + 1, unicode.MaxRune}
)

// single returns the code point set of a one-rune expression.
func single(re *syntax.Regexp) ([]rune, bool) {
	switch re.Op {
	case syntax.OpLiteral:
		if len(re.Rune) != 1 || re.Flags&syntax.FoldCase != 0 {
			return nil, false
		}
		return []rune{re.Rune[0], re.Rune[0]}, true
	case syntax.OpCharClass:
		return re.Rune, true
	case syntax.OpAnyChar:
		return anyChar, true
	case syntax.OpAnyCharNotNL:
		return anyCharNotNL, true
	}
	return nil, false
}

func compileSimple(src string) (*simpleRegexp, bool) {
	re, err := syntax.Parse(src, syntax.Perl)
	if err != nil || re.Op != syntax.OpConcat || len(re.Sub) < 2 {
		return nil, false
	}
	subs := re.Sub
	if subs[0].Op != syntax.OpBeginText || subs[len(subs)-1].Op != syntax.OpEndText {
		return nil, false
	}
	out := &simpleRegexp{}
	for _, sub := range subs[1 : len(subs)-1] {
		switch sub.Op {
		case syntax.OpLiteral:
			if sub.Flags&syntax.FoldCase != 0 {
				return nil, false
			}
			for _, r := range sub.Rune {
				e, ok := newElem([]rune{r, r}, 1, 1)
				if !ok {
					return nil, false
				}
				out.elems = append(out.elems, e)
			}
			continue
		case syntax.OpStar, syntax.OpPlus, syntax.OpQuest, syntax.OpRepeat:
			if len(sub.Sub) != 1 {
				return nil, false
			}
			set, ok := single(sub.Sub[0])
			if !ok {
				return nil, false
			}
			min, max := 0, -1
			switch sub.Op {
			case syntax.OpPlus:
				min = 1
			case syntax.OpQuest:
				max = 1
			case syntax.OpRepeat:
				min, max = sub.Min, sub.Max
				if min < 0 || (max >= 0 && max < min) {
					return nil, false
				}
			}
			e, ok := newElem(set, min, max)
			if !ok {
				return nil, false
			}
			out.elems = append(out.elems, e)
		default:
			set, ok := single(sub)
			if !ok {
				return nil, false
			}
			e, ok := newElem(set, 1, 1)
			if !ok {
				return nil, false
			}
			out.elems = append(out.elems, e)
		}
	}
	// Each element whose count varies must be disjoint from everything
	// that can follow it: the next elements up to the first mandatory one.
	for i := range out.elems {
		e := &out.elems[i]
		if e.min == e.max {
			continue
		}
		for j := i + 1; j < len(out.elems); j++ {
			if intersects(e.ranges, out.elems[j].ranges) {
				return nil, false
			}
			if out.elems[j].min > 0 {
				break
			}
		}
	}
	return out, true
}

func intersects(a, b []rune) bool {
	i, j := 0, 0
	for i+1 < len(a) && j+1 < len(b) {
		if a[i+1] < b[j] {
			i += 2
		} else if b[j+1] < a[i] {
			j += 2
		} else {
			return true
		}
	}
	return false
}

// MatchString reports whether s matches, as regexp's MatchString would.
func (re *simpleRegexp) MatchString(s string) bool {
	i := 0
	for k := range re.elems {
		e := &re.elems[k]
		n := 0
		for (e.max < 0 || n < e.max) && i < len(s) {
			r, w := rune(s[i]), 1
			if r >= utf8.RuneSelf {
				r, w = utf8.DecodeRuneInString(s[i:])
			}
			if !e.has(r) {
				break
			}
			i += w
			n++
		}
		if n < e.min {
			return false
		}
	}
	return i == len(s)
}
